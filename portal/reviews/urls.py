from django.urls import path

from . import views

app_name = "reviews"
urlpatterns = [
    path("", views.MyAssignmentsView.as_view(), name="my_assignments"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("affiliations/", views.AffiliationListView.as_view(), name="affiliations"),
    path("affiliations/<int:pk>/", views.AffiliationConfirmView.as_view(), name="affiliation_confirm"),
    path("assignments/<int:pk>/", views.AssignmentView.as_view(), name="assignment"),
    path("assignments/<int:pk>/review/", views.ReviewView.as_view(), name="review"),
    path(
        "assignments/<int:pk>/attachments/<int:attachment_pk>/",
        views.AssignmentAttachmentView.as_view(),
        name="attachment",
    ),
    path("calls/", views.CallListView.as_view(), name="calls"),
    path("calls/<int:call_pk>/assignments/", views.CallAssignmentsView.as_view(), name="call_assignments"),
    path("calls/<int:call_pk>/assignments/auto/", views.AutoAssignView.as_view(), name="auto_assign"),
    path("calls/<int:call_pk>/assignments/manual/", views.ManualAssignView.as_view(), name="assign"),
    path("calls/<int:call_pk>/conflicts/", views.ConflictRecordView.as_view(), name="record_conflict"),
    path("calls/<int:call_pk>/ranking/", views.RankingView.as_view(), name="ranking"),
    path("calls/<int:call_pk>/round/", views.ReviewRoundView.as_view(), name="round"),
    path("calls/<int:call_pk>/ranking.csv", views.RankingCsvView.as_view(), name="ranking_csv"),
    path("reviews/<int:pk>/reopen/", views.ReopenView.as_view(), name="reopen"),
    path("assignments/<int:pk>/extend/", views.DeadlineExtensionView.as_view(), name="extend_deadline"),
    path("proposals/<int:pk>/", views.CommitteeProposalView.as_view(), name="committee_proposal"),
    path("proposals/<int:pk>/preferences/", views.ReviewPreferencesView.as_view(), name="preferences"),
    path("feedback/", views.FeedbackListView.as_view(), name="feedback_list"),
    path("feedback/<int:pk>/", views.FeedbackView.as_view(), name="feedback"),
]
