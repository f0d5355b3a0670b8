from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [
    path("", views.ProjectListView.as_view(), name="list"),
    path("<int:pk>/", views.ProjectView.as_view(), name="project"),
    path("reports/<int:pk>/", views.ReportView.as_view(), name="report"),
    path("reports/<int:pk>/edit/", views.ReportEditView.as_view(), name="report_edit"),
    path("reports/<int:pk>/pdf/", views.ReportPdfView.as_view(), name="report_pdf"),
    path("centre-api/", views.CentreClientsView.as_view(), name="centre_clients"),
    path("centre-api/<int:pk>/revoke/", views.CentreClientRevokeView.as_view(), name="centre_client_revoke"),
    path("<int:pk>/changes/", views.ProjectChangesView.as_view(), name="project_changes"),
    path("<int:pk>/changes/new/", views.ChangeRequestCreateView.as_view(), name="change_request_create"),
    path("changes/", views.ChangeRequestListView.as_view(), name="change_requests"),
    path("changes/<int:pk>/", views.ChangeRequestView.as_view(), name="change_request"),
    path("<int:pk>/statements/", views.StatementListView.as_view(), name="statements"),
    path("statements/<int:pk>/<slug:fmt>/", views.StatementDownloadView.as_view(), name="statement_download"),
    path("finance/", views.FinanceView.as_view(), name="finance"),
    path("finance/export.<slug:fmt>", views.FinanceExportView.as_view(), name="finance_export"),
]
