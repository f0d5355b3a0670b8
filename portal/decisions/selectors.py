"""Reads for screening, clarifications, recommendations and decisions, with their joins already made."""

from django.db.models import BooleanField, Exists, OuterRef, Prefetch, QuerySet, Subquery, Value

from portal.calls.models import Call
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal

from .models import ClarificationRequest, Decision, Recommendation, RecommendedHours, Screening, ScreeningAnswer

SCREENING_STATES = (S.SUBMITTED, S.AMENDING, S.SCREENING, S.CLARIFICATION_REQUESTED)
RECOMMENDATION_STATES = (S.REVIEWED, S.RESPONSE)
DECISION_STATES = (S.RECOMMENDED, S.NOT_RECOMMENDED)


def current_recommendations(*, call: Call) -> QuerySet[Recommendation]:
    """The current recommendation of every proposal of ``call`` that has one, with its hours."""
    return (
        Recommendation.objects.filter(proposal__call=call, is_current=True)
        .select_related("proposal", "version", "recommended_by")
        .prefetch_related(
            Prefetch("hours", queryset=RecommendedHours.objects.select_related("pool", "quarter")),
        )
        .order_by("proposal__reference", "pk")
    )


def _queue(states) -> QuerySet[Proposal]:
    return (
        Proposal.objects.filter(state__in=states, reference__isnull=False)
        .select_related("call", "organisation", "current_version")
        .order_by("submitted_at", "pk")
    )


def screening_queue() -> QuerySet[Proposal]:
    """Proposals waiting for the secretariat's screening, with the due date of an open clarification request."""
    open_request = ClarificationRequest.objects.filter(proposal=OuterRef("pk"), answered_at__isnull=True)
    return _queue(SCREENING_STATES).annotate(clarification_due_at=Subquery(open_request.values("due_at")[:1]))


def recommendation_queue() -> QuerySet[Proposal]:
    return _queue(RECOMMENDATION_STATES)


def decision_queue(*, user, call: Call | None = None) -> QuerySet[Proposal]:
    """Proposals waiting for a decision, with their current recommendation (``current_recommendation``, a list of
    one) and whether ``user`` made it (and so may not decide: four-eyes). What ``user`` is conflicted on is left
    out (issue 9 point 1)."""
    from portal.reviews.conflicts import conflicted_q  # reviews sits above decisions

    mine = Recommendation.objects.filter(proposal=OuterRef("pk"), is_current=True, recommended_by=user.pk)
    qs = (
        _queue(DECISION_STATES)
        .exclude(conflicted_q(user))
        .annotate(recommended_by_me=Exists(mine) if user.pk else Value(False, output_field=BooleanField()))
        .prefetch_related(
            Prefetch(
                "recommendations",
                queryset=Recommendation.objects.filter(is_current=True)
                .select_related("recommended_by")
                .prefetch_related(
                    Prefetch("hours", queryset=RecommendedHours.objects.select_related("pool", "quarter"))
                ),
                to_attr="current_recommendation",
            )
        )
    )
    if call is not None:
        qs = qs.filter(call=call)
    return qs


def open_clarifications() -> QuerySet[ClarificationRequest]:
    return ClarificationRequest.objects.filter(answered_at__isnull=True).select_related("proposal", "requested_by")


def proposal_decision_record(*, proposal: Proposal) -> dict:
    """Everything decided about one proposal, for its page: screenings (with answers), clarification requests,
    recommendations (with hours) and decisions."""
    return {
        "screenings": list(
            Screening.objects.filter(proposal=proposal)
            .select_related("screened_by", "version")
            .prefetch_related(Prefetch("answers", queryset=ScreeningAnswer.objects.select_related("item")))
            .order_by("screened_at", "pk")
        ),
        "clarifications": list(
            ClarificationRequest.objects.filter(proposal=proposal)
            .select_related("requested_by", "version", "answered_version")
            .order_by("requested_at", "pk")
        ),
        "recommendations": list(
            Recommendation.objects.filter(proposal=proposal)
            .select_related("recommended_by", "version")
            .prefetch_related(Prefetch("hours", queryset=RecommendedHours.objects.select_related("pool", "quarter")))
            .order_by("created_at", "pk")
        ),
        "decisions": list(
            Decision.objects.filter(proposal=proposal).select_related("decided_by").order_by("decided_at", "pk")
        ),
    }
