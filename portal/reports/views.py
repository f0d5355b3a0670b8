"""Thin views: the officials' reports page per call, the approval report's generation, progress and download,
spreadsheet and open-data exports, and the applicant's decision letter and usage statement."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView, TemplateView

from portal.calls.models import Call
from portal.core.downloads import download_response, stored_file_response
from portal.core.formatting import hk_today
from portal.core.params import int_param
from portal.core.permissions import PermissionRequiredMixin
from portal.proposals.enums import ProposalState as S
from portal.proposals.selectors import proposals_visible_to

from . import exports, selectors, services
from .documents import NoDecision, audit_dossier_pdf, decision_letter_pdf, usage_statement_pdf
from .enums import DocumentStatus, ExportFormat, ExportTable, OpenDataFormat
from .models import GeneratedDocument

LETTER_STATES = frozenset({S.APPROVED, S.REJECTED, S.ALLOCATED, S.ACTIVE, S.COMPLETED})
USAGE_STATES = frozenset({S.ALLOCATED, S.ACTIVE, S.COMPLETED})


def _language(request) -> str:
    """The reader's choice (``?lang=``), else the page's language."""
    wanted = request.GET.get("lang") or request.POST.get("language") or get_language()
    codes = {code for code, _name in settings.LANGUAGES}
    return wanted if wanted in codes else settings.LANGUAGE_CODE


class ReportsIndexView(PermissionRequiredMixin, ListView):
    template_name = "reports/index.html"
    context_object_name = "calls"
    permission_required = "portal.reports.view_reports"

    def get_queryset(self):
        return selectors.report_calls()


class CallExportMixin(PermissionRequiredMixin):
    """A page or download about one call: officials only, and only those free of any conflict in the call."""

    permission_required = "portal.reports.view_reports"

    def prepare(self):
        self.call = get_object_or_404(Call, pk=self.kwargs["call_pk"])
        self.can_export = self.request.user.has_perm("portal.reports.export_call", self.call)
        if self.request.method == "POST" and not self.request.user.has_perm("portal.reports.request_report", self.call):
            return self.permission_denied("portal.reports.request_report")
        return None


class CallReportsView(CallExportMixin, TemplateView):
    template_name = "reports/call.html"

    def get_context_data(self, **kwargs):
        documents = list(selectors.latest_documents(call=self.call)[:10]) if self.can_export else []
        return {
            **super().get_context_data(**kwargs),
            "call": self.call,
            "can_export": self.can_export,
            "can_request": self.request.user.has_perm("portal.reports.request_report", self.call),
            "documents": documents,
            "languages": settings.LANGUAGES,
            "tables": ExportTable.choices,
            "formats": ExportFormat.choices,
            "open_formats": OpenDataFormat.choices,
        }


class ApprovalReportRequestView(CallExportMixin, View):
    def post(self, request, call_pk):
        document = services.approval_report_request(call=self.call, language=_language(request), actor=request.user)
        if document.status == DocumentStatus.SUCCEEDED:
            messages.info(request, _("The data has not changed since this report was generated; it is ready."))
        else:
            messages.success(request, _("The approval report is being generated."))
        return redirect(f"{reverse('reports:call', args=[call_pk])}#document-{document.pk}")


class DocumentMixin(PermissionRequiredMixin):
    permission_required = "portal.reports.export_call"

    def get_permission_object(self):
        self.document = get_object_or_404(GeneratedDocument.objects.select_related("call"), pk=self.kwargs["pk"])
        return self.document.call


class DocumentStatusView(DocumentMixin, View):
    def get(self, request, pk):
        document = self.document
        return JsonResponse(
            {
                "status": document.status,
                "status_display": document.get_status_display(),
                "progress": document.progress,
                "stage": document.stage,
                "pages": document.pages,
                "error": document.error,
                "url": reverse("reports:document_download", args=[pk])
                if document.status == DocumentStatus.SUCCEEDED
                else "",
            }
        )


class DocumentDownloadView(DocumentMixin, View):
    def get(self, request, pk):
        document = self.document
        if document.status != DocumentStatus.SUCCEEDED:
            raise Http404
        services.export_record(
            actor=request.user,
            action="reports.approval_report_download",
            obj=document.call,
            details={"document": document.pk, "version": document.version, "language": document.language},
        )
        return stored_file_response(document.file, filename=document.download_name, content_type="application/pdf")


class CallExportView(CallExportMixin, View):
    def get(self, request, call_pk, table, fmt):
        if table not in ExportTable.values or fmt not in ExportFormat.values:
            raise Http404
        if not self.can_export:
            return self.permission_denied("portal.reports.export_call")
        services.export_record(
            actor=request.user, action="reports.call_export", obj=self.call, details={"table": table, "format": fmt}
        )
        return exports.call_export_response(self.call, table, fmt, filename=f"{self.call.reference}-{table}.{fmt}")


class OpenDataView(PermissionRequiredMixin, View):
    permission_required = "portal.reports.export_open_data"

    def get(self, request, fmt):
        if fmt not in OpenDataFormat.values:
            raise Http404
        call = None
        if request.GET.get("call"):
            call = get_object_or_404(Call, pk=int_param(request.GET, "call"))
        rows = selectors.open_data_rows(call=call)
        services.export_record(
            actor=request.user,
            action="reports.open_data_export",
            obj=call,
            details={"format": fmt, "call": call.reference if call else "all"},
        )
        name = f"aiss-approved-projects{'-' + call.reference if call else ''}.{fmt}"
        if fmt == OpenDataFormat.CSV:
            return exports.open_data_csv_response(rows, filename=name)
        return download_response(exports.open_data(rows, fmt), filename=name, content_type="application/json")


class ProposalDocumentMixin(PermissionRequiredMixin):
    """A proposal the user may see (else 404) and whose documents they may read (else 403), in a state that has
    the document (else 404)."""

    permission_required = "portal.reports.view_proposal_documents"
    states: frozenset = frozenset()

    def get_permission_object(self):
        self.proposal = get_object_or_404(
            proposals_visible_to(self.request.user).select_related(
                "call", "organisation", "current_version", "created_by"
            ),
            pk=self.kwargs["pk"],
        )
        return self.proposal

    def prepare(self):
        if self.proposal.state not in self.states:
            raise Http404


class DecisionLetterView(ProposalDocumentMixin, View):
    """Short: rendered on request, in the reader's language."""

    states = LETTER_STATES

    def get(self, request, pk):
        language = _language(request)
        try:
            pdf = decision_letter_pdf(proposal=self.proposal, language=language)
        except NoDecision as exc:
            raise Http404 from exc
        services.export_record(
            actor=request.user, action="reports.decision_letter", obj=self.proposal, details={"language": language}
        )
        return download_response(
            pdf, filename=f"{self.proposal.reference}-decision-{language}.pdf", content_type="application/pdf"
        )


class UsageStatementView(ProposalDocumentMixin, View):
    states = USAGE_STATES

    def get(self, request, pk):
        language = _language(request)
        today = hk_today()
        pdf = usage_statement_pdf(proposal=self.proposal, language=language, today=today)
        services.export_record(
            actor=request.user, action="reports.usage_statement", obj=self.proposal, details={"language": language}
        )
        return download_response(
            pdf,
            filename=f"{self.proposal.reference}-usage-{today.isoformat()}-{language}.pdf",
            content_type="application/pdf",
        )


class AuditDossierView(PermissionRequiredMixin, View):
    """The audit dossier of one submitted proposal, for auditors (and the ombudsman, who logs in as one), in the
    reader's language or ``?lang=``. Each download is itself audited."""

    permission_required = "portal.reports.view_audit_dossier"

    def get_permission_object(self):
        self.proposal = get_object_or_404(
            proposals_visible_to(self.request.user).select_related("call", "organisation"), pk=self.kwargs["pk"]
        )
        return self.proposal

    def get(self, request, pk):
        language = _language(request)
        pdf = audit_dossier_pdf(proposal=self.proposal, language=language)
        services.export_record(
            actor=request.user, action="reports.audit_dossier", obj=self.proposal, details={"language": language}
        )
        return download_response(
            pdf, filename=f"{self.proposal.reference}-audit-dossier-{language}.pdf", content_type="application/pdf"
        )
