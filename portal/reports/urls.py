from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.ReportsIndexView.as_view(), name="index"),
    path("calls/<int:call_pk>/", views.CallReportsView.as_view(), name="call"),
    path("calls/<int:call_pk>/approval-report/", views.ApprovalReportRequestView.as_view(), name="approval_report"),
    path("calls/<int:call_pk>/export/<slug:table>.<slug:fmt>", views.CallExportView.as_view(), name="call_export"),
    path("documents/<int:pk>/status/", views.DocumentStatusView.as_view(), name="document_status"),
    path("documents/<int:pk>/download/", views.DocumentDownloadView.as_view(), name="document_download"),
    path("open-data/approved-projects.<slug:fmt>", views.OpenDataView.as_view(), name="open_data"),
    path("proposals/<int:pk>/decision-letter.pdf", views.DecisionLetterView.as_view(), name="decision_letter"),
    path("proposals/<int:pk>/usage-statement.pdf", views.UsageStatementView.as_view(), name="usage_statement"),
    path("proposals/<int:pk>/audit-dossier.pdf", views.AuditDossierView.as_view(), name="audit_dossier"),
]
