from django.urls import path

from . import views

app_name = "proposals"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("new/", views.ProposalStartView.as_view(), name="start"),
    path("<int:pk>/", views.ProposalDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ProposalEditView.as_view(), name="edit"),
    path("<int:pk>/budget/", views.BudgetPreviewView.as_view(), name="budget"),
    path("<int:pk>/autosave/", views.ProposalAutosaveView.as_view(), name="autosave"),
    path("<int:pk>/confirm/", views.ProposalConfirmView.as_view(), name="confirm"),
    path("<int:pk>/clarification/reply/", views.ClarificationReplyView.as_view(), name="clarification_reply"),
    path("<int:pk>/reopen/", views.ProposalReopenView.as_view(), name="reopen"),
    path("<int:pk>/keep-submitted/", views.ProposalKeepSubmittedView.as_view(), name="keep_submitted"),
    path(
        "<int:pk>/attachments/<int:attachment_pk>/remove/",
        views.AttachmentRemoveView.as_view(),
        name="attachment_remove",
    ),
    path("<int:pk>/withdraw/", views.WithdrawView.as_view(), name="withdraw"),
    path("<int:pk>/versions/<int:number>/receipt/", views.ReceiptView.as_view(), name="receipt"),
    path("<int:pk>/versions/<int:number>/receipt.pdf", views.ReceiptPdfView.as_view(), name="receipt_pdf"),
    path("<int:pk>/versions/<int:number>/content.json", views.VersionContentView.as_view(), name="version_content"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.AttachmentDownloadView.as_view(), name="attachment"),
]
