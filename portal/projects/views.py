import re
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from portal.accounts.enums import Role
from portal.allocations.charts import Series, bar_chart
from portal.allocations.selectors import locked_awards, project_usage
from portal.audit.services import audit_record
from portal.core.downloads import download_response
from portal.core.exports import Sheet, spreadsheet_response
from portal.core.formatting import hk_localtime, hk_today
from portal.core.forms import error_text, form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin
from portal.proposals.models import Proposal
from portal.proposals.rules import is_proposal_member
from portal.proposals.selectors import proposals_visible_to

from . import selectors
from .centre import centre_client_create, centre_client_revoke, centre_clients
from .changes import (
    TRANSITIONS,
    _plan_of,
    change_check,
    change_request_submit,
    change_request_transition,
    used_hours_by_cell,
)
from .documents import billing_statement_pdf, progress_report_pdf
from .enums import PENDING, ChangeRequestState, ReportState
from .forms import (
    CentreClientForm,
    ChangeDecisionForm,
    ChangeRequestFilterForm,
    ChangeRequestForm,
    ProgressReportForm,
    ReportOutputFormSet,
    ReportStepForm,
)
from .models import BillingStatement, CentreApiClient, ChangeRequest, ProgressReport
from .progress import OutputInput, ReportContent, progress_report_save, progress_report_transition
from .report_workflow import PAGE_ACTIONS, REPORT_TRANSITIONS, report_transitions_from
from .selectors import NoAward, pool_usage_rows, project_list, report_detail, reports_of
from .services import billing_csv


class CentreClientsView(PermissionRequiredMixin, FormView):
    """The centre's API clients: create one (its token is shown once, on the page that answers), revoke one."""

    template_name = "projects/centre_clients.html"
    form_class = CentreClientForm
    permission_required = "portal.projects.manage_centre_api"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "clients": list(centre_clients()[:200])}

    def form_valid(self, form):
        try:
            client, token = centre_client_create(name=form.cleaned_data["name"], actor=self.request.user)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        response = self.render_to_response(self.get_context_data(form=self.form_class(), created=client, token=token))
        response["Cache-Control"] = "private, no-store"
        return response

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=422)


class CentreClientRevokeView(PermissionRequiredMixin, View):
    permission_required = "portal.projects.manage_centre_api"
    http_method_names = ["post"]

    def post(self, request, pk):
        client = get_object_or_404(CentreApiClient, pk=pk)
        try:
            centre_client_revoke(client=client, actor=request.user)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("The token of %(name)s is revoked.") % {"name": client.name})
        return redirect("projects:centre_clients")


# ---- The project's section: award versions and change requests -----------------------------------------------


class ProjectMixin(PermissionRequiredMixin):
    """A page of one project: the proposal from those the user may see (else 404)."""

    permission_required = "portal.projects.view_project"

    def get_permission_object(self):
        self.proposal = get_object_or_404(
            proposals_visible_to(self.request.user).select_related("organisation", "call"), pk=self.kwargs["pk"]
        )
        return self.proposal


class ProjectChangesView(ProjectMixin, TemplateView):
    """A project's award versions and change requests, with the link to ask for a change."""

    template_name = "projects/project_changes.html"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "proposal": self.proposal,
            "change_section": selectors.change_section(proposal=self.proposal, user=self.request.user),
        }


class ChangeRequestCreateView(ProjectMixin, FormView):
    """The applicant's form to ask for a change, beside the award's hours and what is used of them."""

    template_name = "projects/change_request_form.html"
    form_class = ChangeRequestForm
    permission_required = "portal.projects.request_change"

    def permission_denied(self, permission):
        if self.request.user.role == "applicant" and is_proposal_member(self.request.user, self.proposal):
            # The project is not active (yet, or any more).
            messages.error(self.request, _("Only an active project with a locked award can ask for a change."))
            return redirect("projects:project_changes", pk=self.proposal.pk)
        return super().permission_denied(permission)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "call": self.proposal.call}

    def get_context_data(self, **kwargs):
        award = locked_awards(proposal=self.proposal).first()
        used = used_hours_by_cell(proposal=self.proposal)
        cells = []
        if award is not None:
            for cell in award.hours.all():
                spent = used.get((cell.pool.code, cell.quarter.code), Decimal(0))
                cells.append({"cell": cell, "used": spent, "unused": max(cell.gpu_hours - spent, Decimal(0))})
        return {**super().get_context_data(**kwargs), "proposal": self.proposal, "award": award, "cells": cells}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            request = change_request_submit(
                proposal=self.proposal,
                kind=data["kind"],
                pool=data.get("pool"),
                quarter=data["quarter"],
                to_quarter=data.get("to_quarter"),
                gpu_hours=data.get("gpu_hours") or 0,
                reason=data["reason"],
                actor=self.request.user,
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Your change request is submitted: the secretariat will consider it and tell you.")
        )
        return redirect("projects:change_request", pk=request.pk)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=422)


def _visible_change_requests(user):
    return ChangeRequest.objects.filter(proposal__in=proposals_visible_to(user).values("pk"))


class ChangeRequestView(PermissionRequiredMixin, TemplateView):
    """One change request: what it asks, its life, and the actions the reader may take (recommend, approve, refuse;
    the applicant: withdraw)."""

    template_name = "projects/change_request.html"
    permission_required = "portal.projects.view_change_request"

    def get_permission_object(self):
        self.change = get_object_or_404(
            _visible_change_requests(self.request.user).select_related(
                "proposal__organisation",
                "proposal__call",
                "pool",
                "quarter",
                "to_quarter",
                "submitted_by",
                "recommended_by",
                "decided_by",
                "version",
            ),
            pk=self.kwargs["pk"],
        )
        return self.change

    def actions(self) -> list[tuple[str, object]]:
        user = self.request.user
        return [
            (name, transition.label)
            for name, transition in TRANSITIONS.items()
            if self.change.state in transition.sources and user.has_perm(transition.permission, self.change)
        ]

    def get_context_data(self, **kwargs):
        change = self.change
        plan, problem = None, None
        if change.is_pending and self.request.user.has_perm("portal.projects.view_change_requests"):
            try:  # what approving it now would give, as things stand (checked again, with the row locks, on approval)
                with transaction.atomic():
                    plan = _plan_of(change)
                    change_check(plan)
            except ValidationError as exc:
                problem = error_text(exc)
        return {
            **super().get_context_data(**kwargs),
            "change": change,
            "proposal": change.proposal,
            "actions": self.actions(),
            "form": kwargs.get("form") or ChangeDecisionForm(),
            "plan": plan,
            "problem": problem,
            "recommender_may_not_approve": change.state == ChangeRequestState.RECOMMENDED
            and change.recommended_by_id == self.request.user.pk,
        }

    def post(self, request, pk):
        form = ChangeDecisionForm(request.POST)
        if not form.is_valid():
            if "action" in form.errors:
                raise PermissionDenied("no such action")
            return self.render_to_response(self.get_context_data(form=form), status=422)
        action = form.cleaned_data["action"]
        transition = TRANSITIONS[action]
        four_eyes = action == "approve" and self.change.recommended_by_id == request.user.pk
        if not four_eyes and not request.user.has_perm(transition.permission, self.change):
            return self.permission_denied(transition.permission)
        try:
            change_request_transition(
                request=self.change, action=action, actor=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "note" in exc.error_dict:
                form.add_error("note", exc.error_dict["note"])
                return self.render_to_response(self.get_context_data(form=form), status=422)
            messages.error(request, error_text(exc))
        else:
            messages.success(request, DONE[action])
        return redirect("projects:change_request", pk=self.change.pk)


DONE = {
    "recommend": gettext_lazy("The change is recommended: another official approves it."),
    "approve": gettext_lazy("The change is approved: the award has a new version and the centre's limits follow it."),
    "refuse": gettext_lazy("The change is refused; the applicant is told."),
    "withdraw": gettext_lazy("Your change request is withdrawn."),
}


class ChangeRequestListView(PermissionRequiredMixin, ListView):
    """The officials' change requests: those waiting (submitted or recommended) by default, or any status."""

    template_name = "projects/change_requests.html"
    permission_required = "portal.projects.view_change_requests"
    paginate_by = 50
    context_object_name = "changes"

    def get_queryset(self):
        self.filter_form = ChangeRequestFilterForm(self.request.GET or None)
        state = self.filter_form.cleaned_data.get("state") if self.filter_form.is_valid() else ""
        qs = selectors.change_requests_visible_to(user=self.request.user)
        if state == "all":
            return qs
        if state:
            return qs.filter(state=state)
        return qs.filter(state__in=PENDING).order_by("submitted_at", "pk")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "filter_form": self.filter_form}


# ---- Statements ----------------------------------------------------------------------------------------------


class StatementListView(ProjectMixin, TemplateView):
    """A project's billing statements: the newest version of each quarter's, with its downloads."""

    template_name = "projects/statements.html"
    permission_required = "portal.projects.view_statement"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "proposal": self.proposal,
            "statements": selectors.latest_statements(proposal=self.proposal),
            "history": list(selectors.statements_for(proposal=self.proposal)),
        }


class StatementDownloadView(PermissionRequiredMixin, View):
    """One version of a statement as a PDF (in the reader's language, made on request) or as CSV (the contract's
    columns)."""

    permission_required = "portal.projects.view_statement"

    def get_permission_object(self):
        if self.kwargs["fmt"] not in ("pdf", "csv"):
            raise Http404
        self.statement = get_object_or_404(
            BillingStatement.objects.filter(
                proposal__in=proposals_visible_to(self.request.user).values("pk")
            ).select_related("proposal__call", "issued_by"),
            pk=self.kwargs["pk"],
        )
        return self.statement.proposal

    def get(self, request, pk, fmt):
        statement = self.statement
        name = f"{statement.reference}-v{statement.version}"
        if fmt == "csv":
            return download_response(
                billing_csv(selectors.stored_lines(statement)), filename=f"{name}.csv", content_type="text/csv"
            )
        pdf = billing_statement_pdf(statement=statement, language=request.LANGUAGE_CODE)
        return download_response(pdf, filename=f"{name}.pdf", content_type="application/pdf")


# ---- Finance ---------------------------------------------------------------------------------------------------


def finance_sheet(rows) -> Sheet:
    return Sheet(
        title=_("Finance"),
        header=[
            _("Call"),
            _("Quarter"),
            _("Subsidy approved (HK$)"),
            _("Subsidy billed (HK$)"),
            _("Subsidy remaining (HK$)"),
            _("Payable by applicants (HK$)"),
            _("Statements"),
            _("Final statements"),
        ],
        rows=(
            [
                row.call.reference,
                row.quarter,
                row.approved,
                row.billed,
                row.remaining,
                row.payable,
                row.statements,
                row.final,
            ]
            for row in rows
        ),
    )


class FinanceView(PermissionRequiredMixin, TemplateView):
    """Per call and quarter: the subsidy approved, billed and remaining (read-only), with CSV and XLSX exports."""

    template_name = "projects/finance.html"
    permission_required = "portal.projects.view_finance"

    def get_context_data(self, **kwargs):
        rows = selectors.finance_rows()
        totals = {}
        for row in rows:
            total = totals.setdefault(row.call.pk, selectors.FinanceRow(call=row.call, quarter=""))
            total.approved += row.approved
            total.billed += row.billed
            total.payable += row.payable
            total.statements += row.statements
            total.final += row.final
        return {**super().get_context_data(**kwargs), "rows": rows, "totals": list(totals.values())}


class FinanceExportView(PermissionRequiredMixin, View):
    permission_required = "portal.projects.view_finance"

    def get(self, request, fmt):
        if fmt not in ("csv", "xlsx"):
            raise Http404
        stamp = hk_localtime().strftime("%Y%m%d")
        return spreadsheet_response(
            fmt=fmt, filename=f"aiss-finance-{stamp}.{fmt}", sheet=finance_sheet(selectors.finance_rows())
        )


# ---- The project page -------------------------------------------------------------------------------------------


def _project_of(user, pk) -> Proposal:
    return get_object_or_404(proposals_visible_to(user).select_related("organisation", "call"), pk=pk)


class ProjectView(PermissionRequiredMixin, TemplateView):
    """One page for a project after its award: the award (and its versions), tranches, usage per pool and
    quarter with the chart, progress reports due and done, change requests and statements."""

    template_name = "projects/project.html"
    permission_required = "portal.projects.view_project"

    def get_permission_object(self):
        self.proposal = _project_of(self.request.user, self.kwargs["pk"])
        return self.proposal

    def get_context_data(self, **kwargs):
        proposal, user, today = self.proposal, self.request.user, hk_today()
        usage = project_usage(proposal=proposal, today=today)
        chart = bar_chart(
            chart_id="usage",
            title=_("%(reference)s: GPU-hours awarded and used per quarter") % {"reference": proposal.reference},
            description=_("The table below gives the same figures per pool."),
            labels=[row.quarter.code for row in usage.quarters],
            series=[
                Series(_("Awarded"), [row.awarded for row in usage.quarters]),
                Series(_("Used"), [row.used for row in usage.quarters]),
            ],
        )
        try:
            pool_rows = pool_usage_rows(proposal=proposal)
        except NoAward:
            pool_rows = []
        reports = list(reports_of(proposal=proposal))
        for report in reports:
            report.overdue = report.is_overdue(today)
        return {
            **super().get_context_data(**kwargs),
            "proposal": proposal,
            "usage": usage,
            "chart": chart,
            "pool_rows": pool_rows,
            "reports": reports,
            "overdue": [r for r in reports if r.overdue],
            "change_section": selectors.change_section(proposal=proposal, user=user),
            "can_release": user.has_perm("portal.allocations.release_tranche"),
        }


class ProjectListView(PermissionRequiredMixin, ListView):
    """The officials' projects: each with its next report due, overdue reports flagged, and reports waiting."""

    template_name = "projects/list.html"
    context_object_name = "projects"
    permission_required = "portal.projects.view_projects"
    paginate_by = 50

    def get_queryset(self):
        return project_list(user=self.request.user, today=hk_today())

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "today": hk_today()}


# ---- Progress reports -------------------------------------------------------------------------------------------


class ReportMixin(PermissionRequiredMixin):
    def get_permission_object(self):
        self.report = report_detail(user=self.request.user, pk=self.kwargs["pk"])
        return self.report


class ReportView(ReportMixin, TemplateView):
    """A report as submitted (its outputs, the usage it was submitted with, its timeline), and the steps the
    reader may take on it: the secretariat screens, another official accepts or requires changes, the applicant
    answers a clarification."""

    template_name = "projects/report.html"
    permission_required = "portal.projects.view_progress_report"

    def get_context_data(self, **kwargs):
        report, user = self.report, self.request.user
        steps = [
            t
            for t in report_transitions_from(report.state)
            if t.action in PAGE_ACTIONS and user.has_perm(t.permission, report)
        ]
        events = [e for e in report.events.all() if e.visible_to_applicant or user.role != Role.APPLICANT]
        return {
            **super().get_context_data(**kwargs),
            "report": report,
            "proposal": report.proposal,
            "steps": steps,
            "events": events,
            "form": kwargs.get("form") or ReportStepForm(),
            "failed_action": kwargs.get("failed_action", ""),
            "overdue": report.is_overdue(hk_today()),
            "can_edit": user.has_perm("portal.projects.submit_progress_report", report),
            "is_applicant": user.role == Role.APPLICANT,
        }

    def post(self, request, pk):
        action = request.POST.get("action", "")
        if action not in PAGE_ACTIONS:
            return HttpResponseBadRequest(_("Choose a step."))
        refused = self.refuse_unless(REPORT_TRANSITIONS[action].permission)
        if refused is not None:
            return refused
        form = ReportStepForm(request.POST)
        if form.is_valid():
            try:
                progress_report_transition(
                    report=self.report, action=action, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                if getattr(exc, "code", "") == "conflict":
                    messages.error(request, error_text(exc))
                    return redirect("projects:report", pk=pk)
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Done: %(step)s.") % {"step": REPORT_TRANSITIONS[action].label})
                return redirect("projects:report", pk=pk)
        context = self.get_context_data(form=form, failed_action=action)
        return self.render_to_response(context, status=422)


def _initial_text(report: ProgressReport) -> dict:
    """What the form starts with: what was saved, else the proposal's KPIs and deliverables as submitted."""
    if report.saved_at or report.submitted_at:
        return {name: getattr(report, name) for name in ("kpis", "deliverables", "problems", "next_plan")}
    version = report.proposal.current_version
    fields = (version.content or {}).get("fields", {}) if version else {}
    return {"kpis": fields.get("kpis", ""), "deliverables": fields.get("deliverables", "")}


ROW_FIELD = re.compile(r"^outputs-(\d{1,3})-")


def _rows_counted(data, *, prefix: str):
    """The posted rows with a management form worked out from the rows themselves (how many were sent, at most
    the formset's limit), so that a page whose hidden counts were tampered with still shows every row typed."""
    data = data.copy()
    indexes = [int(m[1]) for key in data for m in [ROW_FIELD.match(key)] if m]
    total = min(max(indexes, default=-1) + 1, ReportOutputFormSet.absolute_max)
    data[f"{prefix}-TOTAL_FORMS"] = str(max(total, 0))
    data[f"{prefix}-INITIAL_FORMS"] = "0"
    data[f"{prefix}-MIN_NUM_FORMS"] = "0"
    data[f"{prefix}-MAX_NUM_FORMS"] = str(ReportOutputFormSet.max_num)
    return data


class ReportEditView(ReportMixin, TemplateView):
    """The applicant writes the report: text pre-filled from the proposal, outputs as rows, the usage so far
    shown read-only from the imported usage. Save keeps a draft; submit sends it to the secretariat."""

    template_name = "projects/report_edit.html"
    permission_required = "portal.projects.submit_progress_report"

    def get_context_data(self, **kwargs):
        report = self.report
        form = kwargs.get("form") or ProgressReportForm(initial=_initial_text(report))
        formset = kwargs.get("formset") or ReportOutputFormSet(
            prefix="outputs",
            initial=[{"kind": o.kind, "title": o.title, "doi": o.doi, "count": o.count} for o in report.outputs.all()],
        )
        try:
            pool_rows = pool_usage_rows(proposal=report.proposal)
        except NoAward:
            pool_rows = []
        return {
            **super().get_context_data(**kwargs),
            "report": report,
            "proposal": report.proposal,
            "form": form,
            "formset": formset,
            "pool_rows": pool_rows,
            "overdue": report.is_overdue(hk_today()),
        }

    def post(self, request, pk):
        form = ProgressReportForm(request.POST)
        formset = ReportOutputFormSet(_rows_counted(request.POST, prefix="outputs"), prefix="outputs")
        if not (form.is_valid() and formset.is_valid()):
            return self.render_to_response(self.get_context_data(form=form, formset=formset), status=422)
        outputs = [
            OutputInput(
                kind=f.cleaned_data["kind"],
                title=f.cleaned_data["title"],
                doi=f.cleaned_data.get("doi", ""),
                count=f.cleaned_data.get("count") or 1,
            )
            for f in formset
            if not f.is_blank and not f.cleaned_data.get("DELETE")
        ]
        content = ReportContent(**form.cleaned_data, outputs=outputs)
        try:
            report = progress_report_save(report=self.report, actor=request.user, content=content)
            if request.POST.get("action") == "submit":
                action = "resubmit" if report.state == ReportState.CHANGES_REQUIRED else "submit"
                progress_report_transition(report=report, action=action, actor=request.user)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form, formset=formset), status=422)
        if request.POST.get("action") == "submit":
            messages.success(request, _("The report is submitted to the secretariat."))
            return redirect("projects:report", pk=pk)
        messages.success(request, _("The report is saved. Submit it when it is complete."))
        return redirect("projects:report_edit", pk=pk)


class ReportPdfView(ReportMixin, View):
    """The report as a PDF, in the reader's language or ``?lang=`` (en, zh-hant). Each download is audited."""

    permission_required = "portal.projects.view_progress_report"

    def get(self, request, pk):
        wanted = request.GET.get("lang") or get_language()
        language = wanted if wanted in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE
        pdf = progress_report_pdf(report=self.report, language=language)
        audit_record(
            actor=request.user, action="progress_report.download", obj=self.report, after={"language": language}
        )
        return download_response(
            pdf, filename=f"{self.report.reference}-{language}.pdf", content_type="application/pdf"
        )
