from django.urls import path

from . import views, work_views

app_name = "decisions"
urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    path("work/", work_views.WorkWaitingView.as_view(), name="work"),
    path("bulk/", views.BulkDecisionView.as_view(), name="bulk_decide"),
    path("<int:pk>/screen/", views.ScreeningView.as_view(), name="screen"),
    path("<int:pk>/clarify/", views.ClarificationView.as_view(), name="clarify"),
    path("<int:pk>/recommend/", views.RecommendationView.as_view(), name="recommend"),
    path("<int:pk>/recommend/revise/", views.RecommendationRevisionView.as_view(), name="revise"),
    path("<int:pk>/decide/", views.DecisionView.as_view(), name="decide"),
    path("<int:pk>/step/<slug:action>/", views.StepView.as_view(), name="transition"),
    path("<int:pk>/versions/<int:old>/<int:new>/", views.VersionDiffView.as_view(), name="diff"),
]
