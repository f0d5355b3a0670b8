from django.urls import path

from . import views

app_name = "allocations"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("pools/<slug:code>/", views.PoolView.as_view(), name="pool"),
    path("calls/<int:pk>/", views.CallAllocationView.as_view(), name="call"),
    path("calls/<int:pk>/compare/", views.CompareView.as_view(), name="compare"),
    path("calls/<int:pk>/checkpoints/", views.ScheduleView.as_view(), name="schedule"),
    path("runs/<int:pk>/", views.RunView.as_view(), name="run"),
    path("runs/<int:pk>/status.json", views.RunStatusView.as_view(), name="run_status"),
    path("runs/<int:pk>/problem.json", views.RunInputsView.as_view(), name="run_inputs"),
    path("runs/<int:pk>/repeat/", views.RunRepeatView.as_view(), name="run_repeat"),
    path("runs/<int:pk>/lock/", views.RunLockView.as_view(), name="run_lock"),
    path("awards/<int:pk>/adjust/", views.AwardAdjustView.as_view(), name="award_adjust"),
    path("tranches/<int:pk>/release/", views.TrancheReleaseView.as_view(), name="tranche_release"),
    path("checkpoints/<int:pk>/", views.CheckpointView.as_view(), name="checkpoint"),
    path("usage/upload/", views.UsageUploadView.as_view(), name="usage_upload"),
    path("usage/imports/<int:pk>/", views.UsageImportView.as_view(), name="usage_import"),
    path("usage/imports/<int:pk>/status.json", views.UsageImportStatusView.as_view(), name="usage_import_status"),
    path("projects/<int:pk>/", views.ProjectUsageView.as_view(), name="project"),
]
