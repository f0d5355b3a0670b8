from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from portal.accounts.models import Organisation
from portal.calls.models import Call
from portal.core.downloads import download_response
from portal.core.formatting import format_hk_clock, format_hkd
from portal.core.forms import form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin

from . import selectors, services
from .downloads import attachment_response
from .enums import EDITABLE
from .forms import AttachmentForm, ProposalForm, ProposalStartForm, WithdrawForm
from .models import Proposal
from .schema import CallContext, budget_from_raw, raw_from_post
from .workflow import transitions_from

PENDING_KEY = "pending-draft:{pk}"


class DashboardView(LoginRequiredMixin, ListView):
    """The organisation's proposals (applicants) or the submitted proposals (officials)."""

    template_name = "proposals/dashboard.html"
    paginate_by = 25
    context_object_name = "proposals"

    def get_queryset(self):
        return selectors.proposal_list(user=self.request.user, state=self.request.GET.get("state") or None)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        now = timezone.now()
        context["is_official"] = user.is_official
        context["open_calls"] = list(Call.objects.filter(opens_at__lte=now, closes_at__gte=now).order_by("closes_at"))
        context["organisations"] = list(Organisation.objects.filter(memberships__user=user))
        context["can_create"] = user.has_perm("proposals.create_proposal")
        return context


class ProposalStartView(PermissionRequiredMixin, FormView):
    template_name = "proposals/start.html"
    form_class = ProposalStartForm
    permission_required = "proposals.create_proposal"

    def permission_denied(self, permission):
        messages.error(self.request, _("Only applicants with a verified email address can start a proposal."))
        return redirect("proposals:dashboard")

    def get(self, request, *args, **kwargs):
        if not Organisation.objects.filter(memberships__user=request.user).exists():
            messages.info(request, _("Create or join your organisation before starting a proposal."))
            return redirect("accounts:organisation")
        return super().get(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        return {"call": self.request.GET.get("call")}

    def form_valid(self, form):
        try:
            proposal = services.proposal_create(
                call=form.cleaned_data["call"], organisation=form.cleaned_data["organisation"], user=self.request.user
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Your draft is created. Save it as often as you like."))
        return redirect("proposals:edit", pk=proposal.pk)


def _context_for(proposal: Proposal) -> CallContext:
    return CallContext(proposal.call, organisations=list(Organisation.objects.order_by("name")))


class ProposalEditView(PermissionRequiredMixin, View):
    """The proposal form. Save draft keeps everything typed; Submit validates fully and freezes a version.

    A POST from an expired session is kept in the new session and restored after logging in again."""

    template_name = "proposals/edit.html"
    permission_required = "proposals.change_proposal"

    def handle_no_permission(self):
        request, pk = self.request, self.kwargs["pk"]
        if request.method == "POST":
            request.session[PENDING_KEY.format(pk=pk)] = {
                k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"
            }
            messages.warning(
                request,
                _("Your session had expired. Log in again: what you typed is kept and will be saved."),
            )
        return redirect_to_login(reverse("proposals:edit", args=[pk]))

    def get_permission_object(self):
        self.proposal = get_object_or_404(selectors.proposal_detail(user=self.request.user, pk=self.kwargs["pk"]))
        return self.proposal

    def permission_denied(self, permission):
        if self.proposal.state not in EDITABLE:  # submitted meanwhile: show it as it is now
            return redirect("proposals:detail", pk=self.proposal.pk)
        return super().permission_denied(permission)

    def prepare(self):
        self.context = _context_for(self.proposal)

    def get(self, request, pk):
        pending = request.session.pop(PENDING_KEY.format(pk=pk), None)
        if pending:
            raw = raw_from_post(ProposalForm(context=self.context).fields, pending)
            services.proposal_save_draft(proposal=self.proposal, raw=raw, user=request.user)
            messages.success(request, _("What you typed before your session expired has been saved."))
        form = ProposalForm(initial=self.proposal.draft, context=self.context)
        return self.render(form, AttachmentForm(), check=self._check())

    def post(self, request, pk):
        form = ProposalForm(data=request.POST, context=self.context)
        raw = raw_from_post(form.fields, request.POST)
        try:
            services.proposal_save_draft(proposal=self.proposal, raw=raw, user=request.user)
        except services.TransitionConflict:
            messages.error(request, _("This proposal can no longer be edited."))
            return redirect("proposals:detail", pk=pk)
        attachment_form = AttachmentForm(data=request.POST, files=request.FILES)
        attachment_ok = self._handle_attachments(attachment_form)
        action = request.POST.get("action", "save")
        if action == "submit" and attachment_ok:
            return self._submit(form, attachment_form)
        if not attachment_ok:
            messages.warning(request, _("Your draft is saved, but the attachment was not added."))
            form = ProposalForm(initial=self.proposal.draft, context=self.context)
            return self.render(form, attachment_form, check=self._check(), status=422)
        messages.success(
            request,
            _("Draft saved at %(time)s.") % {"time": format_hk_clock(self.proposal.draft_saved_at)},
        )
        return redirect(reverse("proposals:edit", args=[pk]) + "#status")

    def _handle_attachments(self, attachment_form) -> bool:
        remove = self.request.POST.get("remove_attachment")
        if remove:
            attachment = self.proposal.attachments.filter(pk=remove, removed_at__isnull=True).first()
            if attachment is not None:
                services.attachment_remove(attachment=attachment, user=self.request.user)
                messages.info(
                    self.request, _("The attachment %(name)s is removed.") % {"name": attachment.original_name}
                )
        if not attachment_form.is_valid():
            return False
        upload = attachment_form.cleaned_data.get("attachment")
        if not upload:
            return True
        try:
            services.attachment_add(
                proposal=self.proposal,
                upload=upload,
                kind=attachment_form.cleaned_data.get("attachment_kind") or "other",
                user=self.request.user,
            )
        except ValidationError as exc:
            form_add_service_errors(attachment_form, exc)
            return False
        messages.success(self.request, _("The attachment %(name)s is added.") % {"name": upload.name})
        return True

    def _submit(self, form, attachment_form):
        try:
            version = services.proposal_submit(proposal=self.proposal, user=self.request.user, context=self.context)
        except services.AlreadySubmitted as exc:
            if exc.version is None:
                return redirect("proposals:detail", pk=self.proposal.pk)
            messages.info(self.request, _("This proposal was already submitted."))
            return redirect("proposals:receipt", pk=self.proposal.pk, number=exc.version.number)
        except services.SubmissionRefused as exc:
            messages.error(
                self.request,
                _("The proposal was not submitted: please correct the problems below. Your draft is saved."),
            )
            bound = ProposalForm(data=self.proposal.draft, context=self.context)
            bound.is_valid()
            return self.render(bound, attachment_form, check=exc.check, status=422)
        # The receipt page itself says that the proposal is submitted, with its reference.
        return redirect("proposals:receipt", pk=self.proposal.pk, number=version.number)

    def _check(self):
        return services.proposal_check(proposal=self.proposal, context=self.context, user=self.request.user)

    def render(self, form, attachment_form, *, check, status=200):
        from django.template.response import TemplateResponse

        budget, _problems = budget_from_raw(self.context, self.proposal.draft)
        sections = []
        for section in form.sections(self.context):
            missing = [form.fields[name].label for name in section.fields if name in check.schema.errors]
            sections.append(
                {
                    "key": section.key,
                    "title": section.title,
                    "fields": [form[name] for name in section.fields if not name.startswith("hours__")],
                    "missing": missing,
                    "problems": check.problems.get(section.key, []),
                }
            )
        grid = [
            {"pool": pool, "cells": [form[name] for p, _q, name in self.context.hours_fields() if p == pool]}
            for pool in self.context.pools
        ]
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "proposal": self.proposal,
                "form": form,
                "attachment_form": attachment_form,
                "sections": sections,
                "grid": grid,
                "quarters": self.context.quarters,
                "budget": budget,
                "call_problems": check.problems.get("call", []) + check.problems.get("eligibility", []),
                "ready": check.ok,
                "attachments": [a for a in self.proposal.attachments.all() if a.removed_at is None],
            },
            status=status,
        )


class BudgetPreviewView(LoginRequiredMixin, View):
    """The budget worked out in Decimal from what is typed (for the live figures on the form)."""

    def get(self, request, pk):
        proposal = get_object_or_404(selectors.proposals_visible_to(request.user).select_related("call"), pk=pk)
        context = CallContext(proposal.call)
        budget, problems = budget_from_raw(context, request.GET)
        return JsonResponse(
            {
                "total_hours": f"{budget.total_hours:,.0f}",
                "cost": format_hkd(budget.cost),
                "subsidy": format_hkd(budget.subsidy),
                "applicant_share": format_hkd(budget.applicant_share),
                "other_funding": format_hkd(budget.other_funding),
                "own_funds": format_hkd(budget.own_funds),
                "problems": problems,
            }
        )


class ProposalDetailView(LoginRequiredMixin, DetailView):
    template_name = "proposals/detail.html"
    context_object_name = "proposal"

    def get_queryset(self):
        return selectors.proposal_detail(user=self.request.user, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        proposal = self.object
        user = self.request.user
        version = proposal.current_version
        context["version"] = version
        context["requests"] = (
            list(version.compute_requests.select_related("pool", "quarter")) if version is not None else []
        )
        context["timeline"] = selectors.proposal_timeline(proposal=proposal, user=user)
        context["actions"] = [t for t in transitions_from(proposal.state) if user.has_perm(t.permission, proposal)]
        context["can_edit"] = user.has_perm("proposals.change_proposal", proposal)
        return context


class ReceiptView(LoginRequiredMixin, TemplateView):
    template_name = "proposals/receipt.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        version = get_object_or_404(
            selectors.version_for(user=self.request.user, proposal_pk=kwargs["pk"], number=kwargs["number"])
        )
        context["version"] = version
        context["proposal"] = version.proposal
        return context


class VersionContentView(LoginRequiredMixin, View):
    """The exact bytes of what was submitted; their SHA-256 is the one on the receipt."""

    def get(self, request, pk, number):
        version = get_object_or_404(selectors.version_for(user=request.user, proposal_pk=pk, number=number))
        return download_response(
            services.version_content_bytes(version),
            filename=f"{version.proposal.reference}-v{version.number}.json",
            content_type="application/json",
        )


class ReceiptPdfView(LoginRequiredMixin, View):
    """The receipt as a PDF, in the reader's language (short: rendered on request)."""

    def get(self, request, pk, number):
        from portal.reports.documents import receipt_pdf

        version = get_object_or_404(selectors.version_for(user=request.user, proposal_pk=pk, number=number))
        pdf = receipt_pdf(version=version, language=request.LANGUAGE_CODE)
        return download_response(
            pdf, filename=f"{version.proposal.reference}-v{version.number}-receipt.pdf", content_type="application/pdf"
        )


class AttachmentDownloadView(LoginRequiredMixin, View):
    def get(self, request, pk, attachment_pk):
        attachment = get_object_or_404(selectors.attachment_for(user=request.user, proposal_pk=pk, pk=attachment_pk))
        return attachment_response(attachment)


class WithdrawView(PermissionRequiredMixin, FormView):
    template_name = "proposals/withdraw.html"
    form_class = WithdrawForm
    permission_required = "proposals.withdraw_proposal"

    def get_permission_object(self):
        self.proposal = get_object_or_404(selectors.proposals_visible_to(self.request.user), pk=self.kwargs["pk"])
        return self.proposal

    def permission_denied(self, permission):
        messages.error(self.request, _("This proposal can no longer be withdrawn."))
        return redirect("proposals:detail", pk=self.proposal.pk)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "proposal": self.proposal}

    def form_valid(self, form):
        try:
            services.proposal_withdraw(
                proposal=self.proposal, user=self.request.user, reason=form.cleaned_data["reason"]
            )
        except services.TransitionConflict:
            messages.error(self.request, _("The proposal changed meanwhile and was not withdrawn."))
            return redirect("proposals:detail", pk=self.proposal.pk)
        messages.success(self.request, _("The proposal is withdrawn."))
        return redirect("proposals:detail", pk=self.proposal.pk)
