from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView, TemplateView

from portal.calls.models import Call
from portal.core.exports import Columns, Sheet, csv_download, csv_pieces
from portal.core.formatting import format_hk_clock
from portal.core.forms import error_text, form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin
from portal.proposals.downloads import attachment_response
from portal.proposals.models import Proposal
from portal.reports.snapshots import cached, snapshot_key

from . import selectors, services
from .conflicts import WITHHELD, conflicted_in_call_ids
from .enums import AssignmentStatus, ReviewState
from .explain import shortfall_reasons, tag_names
from .filters import RankingFilter
from .forms import (
    SUGGESTION_ROWS,
    ConflictRecordForm,
    ConsensusForm,
    DeadlineExtensionForm,
    DeclarationForm,
    ManualAssignForm,
    ProfileForm,
    ReopenForm,
    ResponseForm,
    ReviewForm,
    ReviewPreferencesForm,
)
from .models import Assignment, Declaration, ExpertiseTag, Review
from .round import review_round, review_round_close

# ---- Reviewers ----------------------------------------------------------------------------------------------


class MyAssignmentsView(PermissionRequiredMixin, ListView):
    template_name = "reviews/my_assignments.html"
    context_object_name = "assignments"
    permission_required = "portal.reviews.view_own_assignments"

    def get_queryset(self):
        return selectors.assignments_for_reviewer(user=self.request.user)


class AssignmentMixin(PermissionRequiredMixin):
    """A page of one of the reviewer's own active assignments; anyone else's, or one they may not use, is a 404."""

    def get_permission_object(self):
        self.assignment = get_object_or_404(selectors.assignment_for(user=self.request.user, pk=self.kwargs["pk"]))
        return self.assignment

    def permission_denied(self, permission):
        raise Http404


class AssignmentView(AssignmentMixin, View):
    """Before the declaration: title, organisations and summary only. After "no conflict": the submitted
    version in full, with its attachments."""

    template_name = "reviews/assignment.html"
    permission_required = "portal.reviews.view_assignment"

    def get(self, request, pk):
        return self.render(DeclarationForm())

    def post(self, request, pk):
        form = DeclarationForm(data=request.POST)
        if self.assignment.status != AssignmentStatus.PENDING:
            return redirect("reviews:assignment", pk=pk)
        if form.is_valid():
            try:
                services.assignment_declare(
                    assignment=self.assignment,
                    user=request.user,
                    conflicted=form.conflicted,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                if form.conflicted:
                    messages.info(request, _("Thank you. The assignment is removed and the secretariat is told."))
                    return redirect("reviews:my_assignments")
                messages.success(request, _("You declared no conflict of interest. You can now read and score."))
                return redirect("reviews:assignment", pk=pk)
        return self.render(form, status=422)

    def render(self, form, status=200):
        assignment = self.assignment
        version = assignment.proposal.current_version
        accepted = assignment.status == AssignmentStatus.ACCEPTED
        review = selectors.current_review(assignment=assignment) if accepted else None
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "assignment": assignment,
                "proposal": assignment.proposal,
                "version": version,
                "fields": version.content.get("fields", {}),
                "co_applicants": version.content.get("co_applicants", []),
                "accepted": accepted,
                "form": form,
                "review": review,
                "requests": list(version.compute_requests.all()) if accepted else [],
                "attachments": list(version.attachments.all()) if accepted else [],
            },
            status=status,
        )


class AssignmentAttachmentView(AssignmentMixin, View):
    permission_required = "portal.reviews.review_proposal"

    def get(self, request, pk, attachment_pk):
        attachment = get_object_or_404(self.assignment.proposal.current_version.attachments.all(), pk=attachment_pk)
        return attachment_response(attachment)


class ReviewView(AssignmentMixin, View):
    template_name = "reviews/review.html"
    permission_required = "portal.reviews.review_proposal"

    def permission_denied(self, permission):
        if self.assignment.status == AssignmentStatus.PENDING:
            messages.info(self.request, _("Declare your interests before you read and score the proposal."))
            return redirect("reviews:assignment", pk=self.assignment.pk)
        return super().permission_denied(permission)

    def prepare(self):
        self.criteria = list(self.assignment.proposal.call.criteria.all())
        self.review = selectors.current_review(assignment=self.assignment)

    def get(self, request, pk):
        form = ReviewForm(initial=ReviewForm.initial_from(self.review), criteria=self.criteria)
        return self.render(form)

    def post(self, request, pk):
        if self.review is not None and self.review.state == ReviewState.SUBMITTED:
            messages.error(request, _("This review has been submitted. Only the secretariat can reopen it."))
            return redirect("reviews:review", pk=pk)
        form = ReviewForm(data=request.POST, criteria=self.criteria)
        if not form.is_valid():
            messages.error(request, _("Your review was not saved: please correct the problems below."))
            return self.render(form, status=422)
        data = form.review_input()
        submit = request.POST.get("action") == "submit"
        try:
            if submit:
                services.review_submit(assignment=self.assignment, user=request.user, data=data)
            else:
                services.review_save(assignment=self.assignment, user=request.user, data=data)
        except ValidationError as exc:
            if submit:
                # Keep what was typed: the draft is saved, then the missing parts are shown.
                services.review_save(assignment=self.assignment, user=request.user, data=data)
            form_add_service_errors(form, exc)
            messages.error(
                request, _("The review was not submitted: please complete the parts marked below. Your draft is saved.")
            )
            return self.render(form, status=422)
        if submit:
            messages.success(request, _("Your review is submitted. Thank you."))
        else:
            messages.success(
                request,
                _("Draft saved at %(time)s.") % {"time": format_hk_clock()},
            )
        return redirect("reviews:review", pk=pk)

    def render(self, form, status=200):
        submitted = self.review is not None and self.review.state == ReviewState.SUBMITTED
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "assignment": self.assignment,
                "proposal": self.assignment.proposal,
                "form": form,
                "review": self.review,
                "submitted": submitted,
                "others": selectors.other_reviews(assignment=self.assignment) if submitted else [],
            },
            status=status,
        )


class ProfileView(PermissionRequiredMixin, View):
    template_name = "reviews/profile.html"
    permission_required = "portal.reviews.change_own_profile"

    def get(self, request):
        profile = selectors.reviewer_profile_get(user=request.user)
        initial = {"organisation": profile.organisation_requested_id} if profile.organisation_change_pending else {}
        form = ProfileForm(instance=profile, initial=initial)
        return TemplateResponse(request, self.template_name, {"form": form, "profile": profile})

    def post(self, request):
        profile = selectors.reviewer_profile_get(user=request.user)
        form = ProfileForm(data=request.POST, instance=profile)
        if form.is_valid():
            try:
                services.reviewer_profile_save(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Your reviewer profile is saved."))
                return redirect("reviews:profile")
        return TemplateResponse(request, self.template_name, {"form": form, "profile": profile}, status=422)


class AffiliationListView(PermissionRequiredMixin, ListView):
    """The reviewers' changes of organisation waiting for the secretariat (issue 9 point 2)."""

    template_name = "reviews/affiliations.html"
    context_object_name = "profiles"
    permission_required = "portal.reviews.confirm_affiliation"

    def get_queryset(self):
        return selectors.affiliation_changes_pending()


class AffiliationConfirmView(PermissionRequiredMixin, View):
    """Confirm the organisation a reviewer asked for, or keep the one on record; audited, and the conflict checks
    are run again."""

    permission_required = "portal.reviews.confirm_affiliation"
    http_method_names = ["post"]

    def get_permission_object(self):
        self.profile = get_object_or_404(
            selectors.affiliation_changes_pending().select_related("organisation_requested"), pk=self.kwargs["pk"]
        )
        return self.profile

    def post(self, request, pk):
        action = request.POST.get("action")
        if action not in ("confirm", "keep"):
            raise Http404
        organisation = self.profile.organisation_requested if action == "confirm" else self.profile.organisation
        services.reviewer_affiliation_confirm(profile=self.profile, organisation=organisation, actor=request.user)
        messages.success(
            request,
            _("The affiliation of %(name)s is confirmed.") % {"name": self.profile.user.full_name},
        )
        return redirect("reviews:affiliations")


# ---- Secretariat --------------------------------------------------------------------------------------------


class CallListView(PermissionRequiredMixin, ListView):
    template_name = "reviews/calls.html"
    context_object_name = "calls"
    permission_required = "portal.reviews.view_ranking"

    def get_queryset(self):
        return Call.objects.order_by("-opens_at")


# Rows per page of the whole-call pages (assignments, ranking).
PAGE_SIZE = 50


class CallMixin(PermissionRequiredMixin):
    permission_required = "portal.reviews.assign_reviewers"

    def get_permission_object(self):
        self.call = get_object_or_404(Call, pk=self.kwargs["call_pk"])
        return self.call


class CallAssignmentsView(CallMixin, TemplateView):
    template_name = "reviews/call_assignments.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        hidden = conflicted_in_call_ids(user=self.request.user, call_id=self.call.pk)
        proposals = selectors.reviewable_proposals(call=self.call).exclude(pk__in=hidden)
        search = (self.request.GET.get("q") or "").strip()[:100]
        overview = selectors.call_assignment_overview(call=self.call)
        if search:
            overview = overview.filter(
                Q(reference__icontains=search) | Q(title__icontains=search) | Q(title_zh__icontains=search)
            )
        # A page at a time: a whole call's assignments are thousands of rows (issue 14).
        page = Paginator(overview, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(
            call=self.call,
            hidden=hidden,
            withheld_text=WITHHELD,
            proposals=page,
            page_obj=page,
            is_paginated=page.has_other_pages(),
            search=search,
            reviewers=selectors.reviewer_loads(call=self.call),
            assign_form=kwargs.get("assign_form") or ManualAssignForm(proposals=proposals),
            conflict_form=kwargs.get("conflict_form") or ConflictRecordForm(proposals=proposals),
            outcome=_outcome_worded(self.request.session.pop(f"auto-assign:{self.call.pk}", None)),
            tag_names=tag_names(),
        )
        return context


def _outcome_worded(outcome: dict | None) -> dict | None:
    """The last automatic assignment's outcome with each shortfall's reasons in the reader's language."""
    if not outcome:
        return outcome
    for row in outcome.get("unassigned", []):
        shortfall = row.get("shortfall") or {}
        row["missing"] = shortfall.get("missing", 0)
        row["reasons"] = shortfall_reasons(shortfall) if shortfall else []
    return outcome


class AutoAssignView(CallMixin, View):
    def post(self, request, call_pk):
        try:
            outcome = services.assignment_auto(call=self.call, actor=request.user)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect("reviews:call_assignments", call_pk=call_pk)
        references = dict(Proposal.objects.filter(call=self.call).values_list("pk", "reference"))
        # Kept as figures, not words, so that the page words them in the reader's language.
        request.session[f"auto-assign:{call_pk}"] = {
            "created": len(outcome.created),
            "status": outcome.result.status,
            "objective": round(outcome.result.objective, 3),
            "unassigned": [
                {"reference": references.get(int(p), p), "shortfall": asdict(shortfall)}
                for p, shortfall in sorted(outcome.shortfalls.items(), key=lambda i: int(i[0]))
            ],
        }
        messages.success(request, _("%(n)s reviewers were assigned.") % {"n": len(outcome.created)})
        return redirect("reviews:call_assignments", call_pk=call_pk)


class ManualAssignView(CallMixin, View):
    def post(self, request, call_pk):
        form = ManualAssignForm(data=request.POST, proposals=selectors.reviewable_proposals(call=self.call))
        if form.is_valid():
            try:
                services.assignment_create(
                    proposal=form.cleaned_data["proposal"], reviewer=form.cleaned_data["reviewer"], actor=request.user
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("The reviewer is assigned."))
                return redirect("reviews:call_assignments", call_pk=call_pk)
        view = CallAssignmentsView(request=request, kwargs={"call_pk": call_pk})
        view.call = self.call
        return TemplateResponse(
            request, CallAssignmentsView.template_name, view.get_context_data(assign_form=form), status=422
        )


class ConflictRecordView(CallMixin, View):
    permission_required = "portal.reviews.record_conflict"

    def post(self, request, call_pk):
        form = ConflictRecordForm(data=request.POST, proposals=selectors.reviewable_proposals(call=self.call))
        if form.is_valid():
            try:
                services.conflict_record(
                    proposal=form.cleaned_data["proposal"],
                    user=form.cleaned_data["person"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("The conflict of interest is recorded."))
                return redirect("reviews:call_assignments", call_pk=call_pk)
        messages.error(request, _("The conflict was not recorded: %(errors)s") % {"errors": form.errors.as_text()})
        return redirect("reviews:call_assignments", call_pk=call_pk)


class DeadlineExtensionView(PermissionRequiredMixin, View):
    """The secretariat lets one reviewer submit after the call's review deadline (audited; issue 9 point 4)."""

    template_name = "reviews/extend_deadline.html"
    permission_required = "portal.reviews.extend_review_deadline"

    def get_permission_object(self):
        from .enums import ACTIVE_ASSIGNMENT

        self.assignment = get_object_or_404(
            Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT).select_related("proposal__call", "reviewer"),
            pk=self.kwargs["pk"],
        )
        return self.assignment

    def get(self, request, pk):
        return self.render(DeadlineExtensionForm())

    def post(self, request, pk):
        form = DeadlineExtensionForm(data=request.POST)
        if form.is_valid():
            try:
                services.review_deadline_extend(
                    assignment=self.assignment,
                    until=form.cleaned_data["until"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("The review deadline is extended for this reviewer."))
                return redirect("reviews:call_assignments", call_pk=self.assignment.proposal.call_id)
        return self.render(form, status=422)

    def render(self, form, status=200):
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "form": form,
                "assignment": self.assignment,
                "deadline": selectors.review_deadline_for(assignment=self.assignment),
            },
            status=status,
        )


class ReopenView(PermissionRequiredMixin, View):
    permission_required = "portal.reviews.reopen_review"

    def post(self, request, pk):
        review = get_object_or_404(Review.objects.select_related("assignment__proposal"), pk=pk)
        form = ReopenForm(data=request.POST)
        if form.is_valid():
            try:
                services.review_reopen(review=review, actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                messages.error(request, error_text(exc))
            else:
                messages.success(request, _("The review is reopened; the submitted version is kept."))
        else:
            messages.error(request, _("Give a reason for reopening the review."))
        return redirect("reviews:call_assignments", call_pk=review.assignment.proposal.call_id)


# ---- Committee ----------------------------------------------------------------------------------------------


class RankingMixin(PermissionRequiredMixin):
    permission_required = "portal.reviews.view_ranking"

    def get_permission_object(self):
        self.call = get_object_or_404(Call, pk=self.kwargs["call_pk"])
        return self.call

    def ranking(self) -> selectors.Ranking:
        self.filter = RankingFilter(
            data=self.request.GET or None, queryset=selectors.submitted_proposals(call=self.call)
        )
        return selectors.call_ranking_query(
            call=self.call, user=self.request.user, proposals=self.filter.qs, **self.filter.row_options()
        )


class RankingView(RankingMixin, TemplateView):
    template_name = "reviews/ranking.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ranking = self.ranking()
        # Sorted, ranked, filtered and paged in the database: a page costs the same whatever the size of the call.
        page = Paginator(ranking, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(
            call=self.call,
            filter=self.filter,
            rows=page,
            page_obj=page,
            is_paginated=page.has_other_pages(),
            conflicted_rows=ranking.conflicted_rows(),
            settings=selectors.review_settings(call=self.call),
            query=self.request.GET.urlencode(),
        )
        return context


RANKING_CSV_HEADER = [
    "rank",
    "reference",
    "title",
    "organisation",
    "reviews",
    "weighted_scores",
    "raw_mean",
    "calibrated_mean",
    "spread",
    "disagreement",
    "passes",
    "consensus",
    "ranking_score",
    "applicant_response",
    "note",
]


class RankingCsvView(RankingMixin, View):
    def get(self, request, call_pk):
        ranking = self.ranking()  # the figures made current and the viewer's conflicts found; no row read yet

        def pieces():  # the rows are read only now, as the response is sent
            return csv_pieces(
                Sheet(
                    title="ranking",
                    header=RANKING_CSV_HEADER,
                    rows=ranking.values(),
                    columns=Columns(numbers=tuple(range(6, 13))),
                )
            )

        filename = f"ranking-{self.call.reference}.csv"
        if not self.filter.is_bound:
            filters = {}
        else:
            filters = self.filter.form.cleaned_data if self.filter.form.is_valid() else None
        if filters is None or filters.get("q"):
            # Free text (or a filter refused) would keep a snapshot per search: read afresh.
            return csv_download(pieces(), filename=filename)
        # Kept per viewer's conflicts (their rows are left out, and the others ranked without them) and filters.
        key = snapshot_key(
            "committee ranking", self.call.pk, sorted(ranking.hidden), sorted((k, str(v)) for k, v in filters.items())
        )
        return csv_download(cached(key, pieces), filename=filename)


class CommitteeProposalView(PermissionRequiredMixin, View):
    """The reviews of one proposal for the committee. A committee member first declares their interests; a
    conflicted one sees nothing of the reviews."""

    permission_required = "portal.reviews.view_ranking"
    template_name = "reviews/committee_proposal.html"

    def get_permission_object(self):
        self.proposal = get_object_or_404(selectors.committee_proposal(pk=self.kwargs["pk"]))
        return self.proposal

    def get(self, request, pk):
        return self.render()

    def post(self, request, pk):
        action = request.POST.get("action")
        permission = {"declare": "portal.reviews.committee_declare", "consensus": "portal.reviews.record_consensus"}
        if action not in permission:
            raise Http404
        refused = self.refuse_unless(permission[action])  # before the form: who may not act is not told more
        if refused is not None:
            return refused
        if action == "declare":
            form = DeclarationForm(data=request.POST)
            if form.is_valid():
                try:
                    services.committee_declare(
                        proposal=self.proposal,
                        user=request.user,
                        conflicted=form.conflicted,
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as exc:
                    form_add_service_errors(form, exc)
                else:
                    return redirect("reviews:committee_proposal", pk=pk)
            return self.render(declaration_form=form, status=422)
        if action == "consensus":
            form = ConsensusForm(data=request.POST)
            if form.is_valid():
                try:
                    services.consensus_record(
                        proposal=self.proposal,
                        user=request.user,
                        score=form.cleaned_data["score"],
                        rationale=form.cleaned_data["rationale"],
                        feedback=form.cleaned_data["feedback"],
                    )
                except ValidationError as exc:
                    form_add_service_errors(form, exc)
                else:
                    messages.success(request, _("The committee's consensus is recorded."))
                    return redirect("reviews:committee_proposal", pk=pk)
            return self.render(consensus_form=form, status=422)
        raise Http404

    def render(self, *, declaration_form=None, consensus_form=None, status=200):
        user = self.request.user
        proposal = self.proposal
        context = {"proposal": proposal, "version": proposal.current_version, "call": proposal.call}
        conflicted = selectors.is_conflicted(user=user, proposal=proposal)
        declared = Declaration.objects.filter(proposal=proposal, user=user).exists()
        if conflicted:
            context["conflicted"] = True
        elif user.has_perm("portal.reviews.committee_declare") and not declared:
            context["declaration_form"] = declaration_form or DeclarationForm()
        else:
            consensus = getattr(proposal, "review_consensus", None)
            initial = (
                {"score": consensus.score, "rationale": consensus.rationale, "feedback": consensus.feedback}
                if consensus
                else {}
            )
            context.update(
                row=selectors.proposal_figures(call=proposal.call, proposal=proposal),
                criteria=list(proposal.call.criteria.all()),
                consensus=consensus,
                response=getattr(proposal, "review_response", None),
                can_record=user.has_perm("portal.reviews.record_consensus"),
                consensus_form=consensus_form or ConsensusForm(initial=initial),
                margin=selectors.review_settings(call=proposal.call).consensus_margin,
            )
        return TemplateResponse(self.request, self.template_name, context, status=status)


# ---- Applicants ---------------------------------------------------------------------------------------------


class FeedbackListView(LoginRequiredMixin, ListView):
    template_name = "reviews/feedback_list.html"
    context_object_name = "proposals"

    def get_queryset(self):
        return selectors.proposals_with_feedback(user=self.request.user)


class FeedbackView(LoginRequiredMixin, View):
    """The reviewers' comments to the applicant, anonymised, once all reviews are in; and the one response."""

    template_name = "reviews/feedback.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.proposal = get_object_or_404(
            selectors.proposals_with_feedback(user=request.user).select_related("review_response"), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk):
        return self.render(ResponseForm())

    def post(self, request, pk):
        form = ResponseForm(data=request.POST)
        if form.is_valid():
            try:
                services.response_submit(proposal=self.proposal, user=request.user, text=form.cleaned_data["text"])
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Your response is sent to the committee."))
                return redirect("reviews:feedback", pk=pk)
        return self.render(form, status=422)

    def render(self, form, status=200):
        status_ = selectors.reviews_status(proposal=self.proposal)
        response = getattr(self.proposal, "review_response", None)
        now = timezone.now()
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "proposal": self.proposal,
                "status": status_,
                "reviews": selectors.applicant_feedback(proposal=self.proposal),
                "response": response,
                "can_respond": status_.all_in and response is None and now <= status_.response_closes_at,
                "form": form,
            },
            status=status,
        )


class ReviewPreferencesView(PermissionRequiredMixin, View):
    """The applicant names the expertise the proposal needs and suggests up to three reviewers."""

    template_name = "reviews/preferences.html"
    permission_required = "portal.proposals.change_proposal"

    def get_permission_object(self):
        from portal.proposals.selectors import proposals_visible_to

        self.proposal = get_object_or_404(
            proposals_visible_to(self.request.user).select_related("call"), pk=self.kwargs["pk"]
        )
        return self.proposal

    def permission_denied(self, permission):
        messages.error(self.request, _("The proposal can no longer be changed."))
        return redirect("proposals:detail", pk=self.proposal.pk)

    def prepare(self):
        self.tags = list(ExpertiseTag.objects.order_by("name"))

    def get(self, request, pk):
        suggested = list(self.proposal.suggested_reviewers.filter(reviewer__isnull=True).order_by("pk"))
        initial = {"tags": [str(t) for t in self.proposal.expertise_tags.values_list("tag_id", flat=True)]}
        for i, row in enumerate(suggested[:SUGGESTION_ROWS], start=1):
            initial[f"name{i}"] = row.name
            initial[f"email{i}"] = row.email
        return self.render(ReviewPreferencesForm(initial=initial, tags=self.tags))

    def post(self, request, pk):
        form = ReviewPreferencesForm(data=request.POST, tags=self.tags)
        if form.is_valid():
            try:
                services.review_preferences_set(
                    proposal=self.proposal,
                    user=request.user,
                    tag_ids=[int(t) for t in form.cleaned_data["tags"]],
                    suggestions=form.suggestions(),
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Your review preferences are saved."))
                return redirect("proposals:edit", pk=self.proposal.pk)
        return self.render(form, status=422)

    def render(self, form, status=200):
        return TemplateResponse(
            self.request, self.template_name, {"form": form, "proposal": self.proposal}, status=status
        )


class ReviewRoundView(CallMixin, TemplateView):
    """Close the call's review round: per proposal still in review, what is missing; closing moves every proposal
    with its minimum of reviews on, and leaves the rest listed."""

    template_name = "reviews/round.html"

    def get_context_data(self, **kwargs):
        rows = review_round(call=self.call)
        return super().get_context_data(
            call=self.call,
            rows=rows,
            ready=sum(1 for r in rows if r.ready),
            settings=selectors.review_settings(call=self.call),
            **kwargs,
        )

    def post(self, request, call_pk):
        outcome = review_round_close(call=self.call, actor=request.user)
        messages.success(
            request,
            _("The review of %(closed)s proposals was closed; %(left)s remain in review.")
            % {"closed": len(outcome.closed), "left": len(outcome.left)},
        )
        return redirect("reviews:round", call_pk=call_pk)
