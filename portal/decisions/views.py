"""Thin views over the decision services. Which page offers which step comes from the workflow table."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from portal.core.forms import form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin
from portal.proposals.selectors import proposals_visible_to
from portal.proposals.services import TransitionConflict
from portal.proposals.workflow import GENERIC_ACTIONS, TRANSITIONS
from portal.reviews.conflicts import conflicted_q

from . import selectors, services
from .diff import version_diff
from .forms import (
    BulkDecisionForm,
    ClarificationForm,
    DecisionForm,
    RecommendationForm,
    RecommendationRevisionForm,
    ScreeningForm,
    StepForm,
)


class ProposalPageMixin(PermissionRequiredMixin):
    """A page acting on one proposal the user may see (others: 404)."""

    def get_permission_object(self):
        self.proposal = get_object_or_404(
            proposals_visible_to(self.request.user).select_related("call", "organisation", "current_version"),
            pk=self.kwargs["pk"],
        )
        return self.proposal

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "proposal": self.proposal}

    def done(self, message: str):
        messages.success(self.request, message)
        return redirect("proposals:detail", pk=self.proposal.pk)

    def conflict(self):
        messages.error(self.request, _("The proposal changed meanwhile; nothing was done."))
        return redirect("proposals:detail", pk=self.proposal.pk)


class ProposalStepMixin(ProposalPageMixin):
    """A page on which one or more rows of the workflow table are taken for one proposal.

    The user must hold the permission of at least one of ``actions`` and the proposal must be in one of their
    source states; otherwise the page refuses (403) or sends the user back to the proposal (changed state)."""

    actions: tuple[str, ...] = ()
    any_permission = True

    def get_actions(self) -> tuple[str, ...]:
        return self.actions

    def get_permission_required(self) -> tuple[str, ...]:
        return tuple(TRANSITIONS[a].permission for a in self.get_actions())

    def prepare(self):
        self.allowed = [TRANSITIONS[a] for a in self.get_actions() if self.proposal.state in TRANSITIONS[a].sources]
        if not self.allowed:
            messages.error(self.request, _("This step is not possible in the proposal's present state."))
            return redirect("proposals:detail", pk=self.proposal.pk)
        return None

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "rows": self.allowed}


class StepView(ProposalStepMixin, FormView):
    """Steps that need only a reason: start screening, close the review, invite a response, complete."""

    template_name = "decisions/step.html"
    form_class = StepForm

    def get_actions(self):
        if self.kwargs["action"] not in GENERIC_ACTIONS:
            raise Http404
        return (self.kwargs["action"],)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "reason_required": TRANSITIONS[self.kwargs["action"]].reason_required}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "transition": TRANSITIONS[self.kwargs["action"]]}

    def form_valid(self, form):
        transition = TRANSITIONS[self.kwargs["action"]]
        try:
            services.proposal_step(
                proposal=self.proposal,
                action=transition.action,
                actor=self.request.user,
                reason=form.cleaned_data["reason"],
            )
        except TransitionConflict:
            return self.conflict()
        return self.done(_("Done: %(step)s.") % {"step": transition.label})


class ScreeningView(ProposalStepMixin, FormView):
    template_name = "decisions/screen.html"
    form_class = ScreeningForm
    actions = ("pass_screening", "mark_ineligible")

    def get_form_kwargs(self):
        call = self.proposal.call
        self.items = services.screening_checklist_ensure(call=call)
        version = self.proposal.current_version
        suggestions = {
            item.pk: services.screening_suggest(call=call, version=version, item=item) for item in self.items
        }
        return {
            **super().get_form_kwargs(),
            "items": self.items,
            "suggestions": suggestions,
            "language": get_language(),
        }

    def form_valid(self, form):
        try:
            screening = services.screening_record(
                proposal=self.proposal,
                actor=self.request.user,
                answers=form.answers(),
                notes=form.notes(),
                reasons=form.cleaned_data["reasons"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        except TransitionConflict:
            return self.conflict()
        if screening.eligible:
            return self.done(_("The proposal is eligible and goes to review."))
        return self.done(_("The proposal is ineligible; the applicant has been told why."))


class ClarificationView(ProposalStepMixin, FormView):
    template_name = "decisions/clarify.html"
    form_class = ClarificationForm
    actions = ("request_clarification",)

    def form_valid(self, form):
        try:
            services.clarification_request(
                proposal=self.proposal,
                actor=self.request.user,
                questions=form.cleaned_data["questions"],
                due_at=form.cleaned_data["due_at"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        except TransitionConflict:
            return self.conflict()
        return self.done(_("The questions were sent to the applicant."))


class RecommendationView(ProposalStepMixin, FormView):
    template_name = "decisions/recommend.html"
    form_class = RecommendationForm
    actions = ("recommend", "not_recommend")

    def get_form_kwargs(self):
        call = self.proposal.call
        version = self.proposal.current_version
        requested = {(r.pool_id, r.quarter_id): r.gpu_hours for r in version.compute_requests.all()}
        return {
            **super().get_form_kwargs(),
            "pools": list(call.pools.order_by("code")),
            "quarters": list(call.quarters.order_by("starts_on")),
            "requested": requested,
            "call_rate": call.subsidy_rate,
        }

    def form_valid(self, form):
        try:
            services.recommendation_make(proposal=self.proposal, actor=self.request.user, **form.recommendation())
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        except TransitionConflict:
            return self.conflict()
        return self.done(_("The recommendation is recorded and waits for a decision."))


class RecommendationRevisionView(ProposalPageMixin, FormView):
    """Replace the current recommendation before the decision, with a reason (committee members, not conflicted)."""

    template_name = "decisions/revise.html"
    form_class = RecommendationRevisionForm
    permission_required = "portal.proposals.recommend_proposal"

    def prepare(self):
        self.current = services.recommendation_revisable(proposal=self.proposal)
        if self.current is None:
            messages.error(
                self.request, _("A recommendation can only be revised while the proposal waits for a decision.")
            )
            return redirect("proposals:detail", pk=self.proposal.pk)
        return None

    def get_form_kwargs(self):
        call = self.proposal.call
        return {
            **super().get_form_kwargs(),
            "current": self.current,
            "pools": list(call.pools.order_by("code")),
            "quarters": list(call.quarters.order_by("starts_on")),
        }

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "current": self.current}

    def form_valid(self, form):
        try:
            services.recommendation_revise(
                proposal=self.proposal,
                actor=self.request.user,
                reason=form.cleaned_data["reason"],
                **form.recommendation(),
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        except TransitionConflict:
            return self.conflict()
        return self.done(_("The recommendation is revised and waits for a decision."))


class DecisionView(ProposalStepMixin, FormView):
    template_name = "decisions/decide.html"
    form_class = DecisionForm
    actions = ("approve", "reject")

    def get_initial(self):
        current = self.proposal.recommendations.filter(is_current=True).values_list("pk", flat=True).first()
        return {**super().get_initial(), "recommendation": current}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(selectors.proposal_decision_record(proposal=self.proposal))
        context["current"] = next((r for r in context["recommendations"] if r.is_current), None)
        return context

    def form_valid(self, form):
        try:
            services.decision_make(
                proposal=self.proposal,
                actor=self.request.user,
                approved=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
                recommendation_id=form.cleaned_data["recommendation"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        except TransitionConflict:
            return self.conflict()
        return self.done(_("The decision is recorded."))


class QueueView(PermissionRequiredMixin, TemplateView):
    """The official's work list: what waits for screening, for a recommendation, for a decision."""

    template_name = "decisions/queue.html"
    permission_required = "portal.decisions.view_queue"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["now"] = timezone.now()
        conflicted = conflicted_q(user)  # what the user is conflicted on is not in their lists (issue 9 point 1)
        if user.has_perm("portal.decisions.view_screening_queue"):
            context["screening"] = list(selectors.screening_queue().exclude(conflicted))
        if user.has_perm("portal.decisions.view_recommendation_queue"):
            context["recommending"] = list(selectors.recommendation_queue().exclude(conflicted))
        if user.has_perm("portal.decisions.view_decision_queue"):
            context["deciding"] = list(selectors.decision_queue(user=user))
        if user.has_perm("portal.decisions.decide_in_bulk"):
            context["bulk_form"] = BulkDecisionForm(queryset=selectors.decision_queue(user=user))
        return context


class BulkDecisionView(PermissionRequiredMixin, FormView):
    """Approve or reject a batch: each proposal is still its own decision, timeline step and audit record."""

    template_name = "decisions/queue.html"
    form_class = BulkDecisionForm
    permission_required = "portal.decisions.decide_in_bulk"
    http_method_names = ["post"]

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "queryset": selectors.decision_queue(user=self.request.user)}

    def form_invalid(self, form):
        for errors in form.errors.values():
            for error in errors:
                messages.error(self.request, error)
        return redirect("decisions:queue")

    def form_valid(self, form):
        result = services.decision_make_bulk(
            proposals=list(form.cleaned_data["proposals"]),
            actor=self.request.user,
            approved=form.cleaned_data["decision"] == "approve",
            reason=form.cleaned_data["reason"],
        )
        if result.decided:
            messages.success(self.request, _("%(n)s proposal(s) decided.") % {"n": len(result.decided)})
        for proposal, reason in result.refused:
            messages.error(self.request, f"{proposal.reference}: {reason}")
        return redirect("decisions:queue")


class VersionDiffView(PermissionRequiredMixin, TemplateView):
    """What changed between two submitted versions, field by field (for officials)."""

    template_name = "decisions/diff.html"
    permission_required = "portal.decisions.view_diff"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        proposal = get_object_or_404(proposals_visible_to(self.request.user), pk=kwargs["pk"])
        versions = {v.number: v for v in proposal.versions.filter(number__in=[kwargs["old"], kwargs["new"]])}
        if kwargs["old"] not in versions or kwargs["new"] not in versions:
            raise Http404
        old, new = versions[kwargs["old"]], versions[kwargs["new"]]
        context.update(proposal=proposal, old=old, new=new, changes=version_diff(old.content, new.content))
        return context
