from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from portal.accounts.enums import OFFICIAL_ROLES
from portal.accounts.models import Organisation
from portal.calls.models import Call
from portal.core.downloads import download_response
from portal.core.formatting import format_hk_clock, format_hkd
from portal.core.forms import form_add_service_errors
from portal.core.params import int_param
from portal.core.permissions import PermissionRequiredMixin

from . import selectors, services
from .downloads import attachment_response
from .enums import EDITABLE, PROJECT_STATES, ProposalState
from .forms import AttachmentForm, ProposalForm, ProposalStartForm, WithdrawForm
from .models import Proposal
from .schema import (
    CLARIFICATION_REPLY,
    MAX_TYPED,
    CallContext,
    budget_from_raw,
    extra_from_post,
    raw_from_post,
    too_long_in_post,
)
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
        context["can_create"] = user.has_perm("portal.proposals.create_proposal")
        return context


class ProposalStartView(PermissionRequiredMixin, FormView):
    template_name = "proposals/start.html"
    form_class = ProposalStartForm
    permission_required = "portal.proposals.create_proposal"

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
    return CallContext(proposal.call)


def _is_fetch(request) -> bool:
    """Sent by the page's script (``fetch`` with this header), which reads a JSON answer."""
    return request.headers.get("X-Requested-With") == "fetch"


class ProposalEditView(PermissionRequiredMixin, View):
    """The proposal form. Save draft keeps everything typed; Submit validates fully and freezes a version.

    A POST from an expired session is kept in the new session and restored after logging in again."""

    template_name = "proposals/edit.html"
    permission_required = "portal.proposals.change_proposal"

    def handle_no_permission(self):
        request, pk = self.request, self.kwargs["pk"]
        if request.method == "POST" and _is_fetch(request):  # the page then sends the form itself
            return JsonResponse({"saved": False}, status=403)
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
        self.proposal = get_object_or_404(selectors.proposal_for_edit(user=self.request.user, pk=self.kwargs["pk"]))
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
            raw.update(extra_from_post(pending))
            services.proposal_save_draft(proposal=self.proposal, raw=raw, user=request.user)
            messages.success(request, _("What you typed before your session expired has been saved."))
        form = ProposalForm(initial=self.proposal.draft, context=self.context)
        return self.render(form, AttachmentForm(), check=self._check())

    def post(self, request, pk):
        form = ProposalForm(data=request.POST, context=self.context)
        raw = raw_from_post(form.fields, request.POST)
        raw.update(extra_from_post(request.POST))
        too_long = too_long_in_post(form.fields, request.POST)
        for name in too_long:  # the saved value stays until the applicant shortens what they typed
            raw.pop(name)
        action = request.POST.get("action", "save")
        # Save draft from the page's script: a small answer, not the whole page again. Anything else (a problem to
        # show, a file, a removal) is answered "not saved here", and the script then sends the form itself.
        in_place = (
            _is_fetch(request) and action == "save" and not request.FILES and not request.POST.get("remove_attachment")
        )
        try:
            services.proposal_save_draft(proposal=self.proposal, raw=raw, user=request.user)
        except services.TransitionConflict:
            if in_place:
                return JsonResponse({"saved": False}, status=409)
            messages.error(request, _("This proposal can no longer be edited."))
            return redirect("proposals:detail", pk=pk)
        if too_long:
            if in_place:
                return JsonResponse({"saved": False}, status=422)
            return self._too_long(too_long)
        if in_place:
            time = format_hk_clock(self.proposal.draft_saved_at)
            return JsonResponse(
                {
                    "saved": True,
                    "message": _("Draft saved at %(time)s.") % {"time": time},
                    "saved_at": self.proposal.draft_saved_at.isoformat(),
                }
            )
        attachment_form = AttachmentForm(data=request.POST, files=request.FILES)
        attachment_ok = self._handle_attachments(attachment_form)
        if not attachment_ok:
            if action == "submit":
                messages.error(
                    request,
                    _(
                        "The proposal was not submitted: the file you chose could not be attached (see below). "
                        "Everything you typed is saved."
                    ),
                )
            else:
                messages.warning(request, _("Your draft is saved, but the attachment was not added."))
            form = ProposalForm(initial=self.proposal.draft, context=self.context)
            return self.render(form, attachment_form, check=self._check(), status=422, summary=True)
        if action == "submit":
            return self._to_confirm(attachment_form)
        messages.success(
            request,
            _("Draft saved at %(time)s.") % {"time": format_hk_clock(self.proposal.draft_saved_at)},
        )
        return redirect(reverse("proposals:edit", args=[pk]) + "#status")

    def _too_long(self, too_long: dict[str, str]):
        """The page again with what was typed, each field that is too long saying so (the rest is saved)."""
        form = ProposalForm(initial={**self.proposal.draft, **too_long}, context=self.context)
        form.cleaned_data = {}
        for name in too_long:
            form.add_error(
                name,
                _("This is longer than %(max)s characters and was not saved: shorten it. The rest is saved.")
                % {"max": f"{MAX_TYPED:,}"},
            )
        return self.render(form, AttachmentForm(), check=self._check(), status=422, summary=True)

    def _handle_attachments(self, attachment_form) -> bool:
        remove = int_param(self.request.POST, "remove_attachment")
        if remove is not None:
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

    def _to_confirm(self, attachment_form):
        """Submit, first step: everything is checked; if it is complete, the applicant reviews the whole proposal
        on the confirm page before the final Submit."""
        check = self._check()
        if not check.ok:
            messages.error(
                self.request,
                _("The proposal was not submitted: please correct the problems below. Your draft is saved."),
            )
            bound = ProposalForm(data=self.proposal.draft, context=self.context)
            bound.is_valid()
            return self.render(bound, attachment_form, check=check, status=422, summary=True)
        return redirect("proposals:confirm", pk=self.proposal.pk)

    def _check(self):
        return services.proposal_check(proposal=self.proposal, context=self.context, user=self.request.user)

    def render(self, form, attachment_form, *, check, status=200, summary=False):
        from django.template.response import TemplateResponse

        budget, _problems = budget_from_raw(self.context, self.proposal.draft)
        attachments = services.current_attachments(self.proposal)
        # Problems outside the form's fields, for the error summary: each links to where it is put right.
        other_problems = []
        if summary:
            for key in ("call", "eligibility"):
                other_problems += [("status", problem) for problem in check.problems.get(key, [])]
            other_problems += [("id_attachment", problem) for problem in check.problems.get("attachments", [])]
            other_problems += [("id_attachment", error) for error in attachment_form.errors.get("attachment", [])]
            other_problems += [
                ("id_clarification_reply", problem) for problem in check.problems.get("clarification", [])
            ]
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
                "other_problems": other_problems,
                "ready": check.ok,
                "attachments": attachments,
                "clarification": _open_clarification(self.proposal),
                "reply": self.proposal.draft.get(CLARIFICATION_REPLY, ""),
            },
            status=status,
        )


def _reviews_ready(proposal: Proposal):
    """When the reviews are in and the applicant may still respond: the response window's end, else None."""
    from portal.reviews.models import ApplicantResponse
    from portal.reviews.selectors import reviews_status

    if proposal.state not in (ProposalState.IN_REVIEW, ProposalState.REVIEWED, ProposalState.RESPONSE):
        return None
    status = reviews_status(proposal=proposal)
    if not status.all_in or timezone.now() > status.response_closes_at:
        return None
    if ApplicantResponse.objects.filter(proposal=proposal).exists():
        return None
    return status.response_closes_at


def _open_clarification(proposal: Proposal):
    return proposal.clarifications.filter(answered_at__isnull=True).order_by("-requested_at", "-pk").first()


def _editable_proposal(request, pk) -> Proposal:
    proposal = get_object_or_404(selectors.proposal_detail(user=request.user, pk=pk))
    if not request.user.has_perm("portal.proposals.change_proposal", proposal):
        raise PermissionDenied
    return proposal


class ProposalConfirmView(LoginRequiredMixin, View):
    """Submit, second step: the whole proposal as it will be frozen, then the final Submit.

    The page carries a digest of the draft it showed; if the draft changed since (another tab, autosave), the
    applicant is shown the new one instead of submitting something they have not seen."""

    template_name = "proposals/confirm.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        proposal = get_object_or_404(selectors.proposal_for_edit(user=request.user, pk=kwargs["pk"]))
        if not request.user.has_perm("portal.proposals.change_proposal", proposal):
            if proposal.current_version_id and proposal.state not in EDITABLE:
                messages.info(request, _("This proposal was already submitted."))
                return redirect("proposals:receipt", pk=proposal.pk, number=proposal.current_version.number)
            raise PermissionDenied
        self.proposal = proposal
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def context(self) -> CallContext:
        """The call's pools and quarters, read when the page needs them (the final Submit reads them itself)."""
        return _context_for(self.proposal)

    def _not_complete(self):
        messages.error(self.request, _("The proposal is not complete yet: see what is still needed."))
        return redirect("proposals:edit", pk=self.proposal.pk)

    def get(self, request, pk):
        self.preview = services.proposal_preview(proposal=self.proposal, context=self.context, user=request.user)
        if not self.preview.check.ok:
            return self._not_complete()
        return self.render()

    def post(self, request, pk):
        # The digest is compared, and the proposal's whole content checked, once, by proposal_submit.
        try:
            version = services.proposal_submit(
                proposal=self.proposal, user=request.user, digest=request.POST.get("digest", "")
            )
        except services.DraftChanged:
            self.preview = services.proposal_preview(proposal=self.proposal, context=self.context, user=request.user)
            if not self.preview.check.ok:
                return self._not_complete()
            messages.warning(
                request,
                _("The proposal changed since this page was shown (in another tab?). Check it again, then submit."),
            )
            return self.render(status=409)
        except services.AlreadySubmitted as exc:
            if exc.version is None:
                return redirect("proposals:detail", pk=self.proposal.pk)
            messages.info(request, _("This proposal was already submitted."))
            return redirect("proposals:receipt", pk=self.proposal.pk, number=exc.version.number)
        except services.SubmissionRefused:
            return self._not_complete()
        # The receipt page itself says that the proposal is submitted, with its reference.
        return redirect("proposals:receipt", pk=self.proposal.pk, number=version.number)

    def render(self, status=200):
        from django.template.response import TemplateResponse

        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "proposal": self.proposal,
                "content": self.preview.content,
                "digest": self.preview.digest,
                "pools": {pool.code: pool for pool in self.context.pools},
                "reply": self.proposal.draft.get(CLARIFICATION_REPLY, ""),
                "clarification": _open_clarification(self.proposal),
            },
            status=status,
        )


class ClarificationReplyView(LoginRequiredMixin, View):
    """The reply box under the clarification questions on the proposal's page: the reply is kept in the working
    copy (like any field) and goes with the revised proposal when it is submitted again."""

    def post(self, request, pk):
        proposal = _editable_proposal(request, pk)
        reply = extra_from_post(request.POST).get(CLARIFICATION_REPLY, "")
        try:
            services.proposal_save_draft(proposal=proposal, raw={CLARIFICATION_REPLY: reply}, user=request.user)
        except services.TransitionConflict:
            messages.error(request, _("This proposal can no longer be edited."))
            return redirect("proposals:detail", pk=pk)
        messages.success(
            request, _("Your reply is saved. Change the proposal where needed, then submit it again with your reply.")
        )
        return redirect(reverse("proposals:edit", args=[pk]) + "#section-clarification")


class ProposalAutosaveView(LoginRequiredMixin, View):
    """Autosave of the form (JavaScript): what is typed is kept, as by Save draft; files are not sent."""

    def post(self, request, pk):
        proposal = get_object_or_404(selectors.proposals_visible_to(request.user).select_related("call"), pk=pk)
        if not request.user.has_perm("portal.proposals.change_proposal", proposal):
            return JsonResponse({"saved": False, "message": _("This proposal can no longer be edited.")}, status=409)
        form = ProposalForm(context=_context_for(proposal))
        raw = raw_from_post(form.fields, request.POST)
        raw.update(extra_from_post(request.POST))
        try:
            proposal = services.proposal_save_draft(proposal=proposal, raw=raw, user=request.user)
        except services.TransitionConflict:
            return JsonResponse({"saved": False, "message": _("This proposal can no longer be edited.")}, status=409)
        time = format_hk_clock(proposal.draft_saved_at)
        return JsonResponse({"saved": True, "message": _("Draft saved automatically at %(time)s.") % {"time": time}})


class AttachmentRemoveView(LoginRequiredMixin, View):
    """Removing an attachment asks first (this page without JavaScript; a dialog on the form with it)."""

    template_name = "proposals/attachment_remove.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.proposal = _editable_proposal(request, kwargs["pk"])
        self.attachment = get_object_or_404(
            self.proposal.attachments.filter(removed_at__isnull=True), pk=kwargs["attachment_pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk, attachment_pk):
        from django.template.response import TemplateResponse

        return TemplateResponse(request, self.template_name, {"proposal": self.proposal, "attachment": self.attachment})

    def post(self, request, pk, attachment_pk):
        services.attachment_remove(attachment=self.attachment, user=request.user)
        messages.info(request, _("The attachment %(name)s is removed.") % {"name": self.attachment.original_name})
        return redirect(reverse("proposals:edit", args=[pk]) + "#section-attachments")


class _TransitionPageView(LoginRequiredMixin, View):
    """A page that asks before taking one applicant's step of the workflow table (reopen, keep submitted)."""

    template_name = ""
    action = ""
    permission = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.proposal = get_object_or_404(selectors.proposal_detail(user=request.user, pk=kwargs["pk"]))
        if not request.user.has_perm(self.permission, self.proposal):
            messages.error(request, self.refused_message())
            return redirect("proposals:detail", pk=self.proposal.pk)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk):
        from django.template.response import TemplateResponse

        return TemplateResponse(request, self.template_name, {"proposal": self.proposal})

    def post(self, request, pk):
        try:
            self.act()
        except services.TransitionConflict:
            messages.error(request, _("The proposal changed meanwhile; nothing was done."))
            return redirect("proposals:detail", pk=pk)
        return self.done()


class ProposalReopenView(_TransitionPageView):
    template_name = "proposals/reopen.html"
    permission = "portal.proposals.reopen_proposal"

    def refused_message(self):
        return _("This proposal can no longer be reopened: the call has closed or screening has begun.")

    def act(self):
        services.proposal_reopen(proposal=self.proposal, user=self.request.user)

    def done(self):
        messages.success(
            self.request,
            _(
                "The proposal is reopened. Your submitted version stands until you submit the amended proposal "
                "before the deadline."
            ),
        )
        return redirect("proposals:edit", pk=self.proposal.pk)


class ProposalKeepSubmittedView(_TransitionPageView):
    template_name = "proposals/keep_submitted.html"
    permission = "portal.proposals.keep_submitted_proposal"

    def refused_message(self):
        return _("This proposal is not being amended.")

    def act(self):
        services.proposal_keep_submitted(proposal=self.proposal, user=self.request.user)

    def done(self):
        messages.success(self.request, _("The amendment is discarded; the submitted version stands."))
        return redirect("proposals:detail", pk=self.proposal.pk)


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
        context["can_edit"] = user.has_perm("portal.proposals.change_proposal", proposal)
        context["has_project"] = proposal.state in PROJECT_STATES and user.has_perm(
            "portal.projects.view_project", proposal
        )
        context["pools"] = {pool.code: pool for pool in proposal.call.pools.all()}
        context["is_member"] = user.role not in OFFICIAL_ROLES
        context["clarification"] = _open_clarification(proposal) if proposal.state in EDITABLE else None
        context["reply"] = proposal.draft.get(CLARIFICATION_REPLY, "") if context["is_member"] else ""
        context["reviews_ready"] = _reviews_ready(proposal) if context["is_member"] else None
        return context


class ReceiptView(LoginRequiredMixin, TemplateView):
    template_name = "proposals/receipt.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        version = get_object_or_404(
            selectors.version_for(user=self.request.user, proposal_pk=kwargs["pk"], number=kwargs["number"])
        )
        from portal.reviews.selectors import review_settings

        proposal = version.proposal
        context["version"] = version
        context["proposal"] = proposal
        context["call_open"] = proposal.call.is_open() and proposal.state in (
            ProposalState.SUBMITTED,
            ProposalState.AMENDING,
        )
        context["can_reopen"] = self.request.user.has_perm("portal.proposals.reopen_proposal", proposal)
        context["review_deadline"] = review_settings(call=proposal.call).review_deadline
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
    permission_required = "portal.proposals.withdraw_proposal"

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
