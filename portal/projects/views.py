from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from portal.allocations.selectors import locked_awards
from portal.core.downloads import download_response
from portal.core.exports import Sheet, spreadsheet_response
from portal.core.formatting import hk_localtime
from portal.core.forms import error_text, form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin
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
from .documents import billing_statement_pdf
from .enums import PENDING, ChangeRequestState
from .forms import CentreClientForm, ChangeDecisionForm, ChangeRequestFilterForm, ChangeRequestForm
from .models import BillingStatement, CentreApiClient, ChangeRequest
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
