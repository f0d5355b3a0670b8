"""Closing a call's review round: what is still missing per proposal, and closing the review of every proposal
that has its minimum of reviews (through the workflow's one writer of states, ``proposal_transition``).
Proposals still short are left in review and listed with what they lack."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.calls.models import Call
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal

from .enums import ACTIVE_ASSIGNMENT, AssignmentStatus, ReviewState
from .models import Assignment, Review


@dataclass
class RoundRow:
    proposal: Proposal
    wanted: int
    minimum: int
    assigned: int
    submitted: int
    pending: list[Assignment] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.submitted >= self.minimum


def review_round(*, call: Call) -> list[RoundRow]:
    """Every proposal of the call still in review, with what it lacks (reviewers to assign, reviews to come in).
    Two queries whatever the number of proposals."""
    proposals = (
        Proposal.objects.filter(call=call, state=S.IN_REVIEW)
        .prefetch_related(
            Prefetch(
                "review_assignments",
                queryset=Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT)
                .select_related("reviewer")
                .prefetch_related(
                    Prefetch("reviews", queryset=Review.objects.filter(is_current=True), to_attr="current_reviews")
                )
                .order_by("assigned_at", "pk"),
                to_attr="active_assignments",
            )
        )
        .order_by("reference", "pk")
    )
    rows = []
    for proposal in proposals:
        assignments = proposal.active_assignments
        done = [a for a in assignments if a.current_reviews and a.current_reviews[0].state == ReviewState.SUBMITTED]
        pending = [a for a in assignments if a not in done]
        row = RoundRow(
            proposal=proposal,
            wanted=call.reviewers_per_proposal,
            minimum=call.min_reviewers,
            assigned=len(assignments),
            submitted=len(done),
            pending=pending,
        )
        if row.assigned < row.wanted:
            short = row.wanted - row.assigned
            row.missing.append(ngettext("%(n)s reviewer to assign", "%(n)s reviewers to assign", short) % {"n": short})
        for assignment in pending:
            who = assignment.reviewer.full_name or assignment.reviewer.email
            if assignment.status == AssignmentStatus.PENDING:
                row.missing.append(_("%(who)s has not declared their interests") % {"who": who})
            else:
                row.missing.append(_("%(who)s has not submitted a review") % {"who": who})
        if not row.ready:
            row.missing.append(
                _("%(submitted)s of the minimum %(minimum)s reviews are in")
                % {"submitted": row.submitted, "minimum": row.minimum}
            )
        rows.append(row)
    rows.sort(key=lambda r: (r.ready, r.proposal.reference or ""))
    return rows


@dataclass
class RoundOutcome:
    closed: list[Proposal]
    left: list[RoundRow]


@transaction.atomic
def review_round_close(*, call: Call, actor) -> RoundOutcome:
    """Close the review of every proposal of the call that has its minimum of reviews; the others stay in review.
    Pending reviews of a closed proposal are not counted (the reviewers' assignments stay as they are)."""
    from portal.proposals.services import proposal_transition

    closed, left = [], []
    for row in review_round(call=call):
        if row.ready:
            closed.append(proposal_transition(proposal=row.proposal, action="close_review", actor=actor))
        else:
            left.append(row)
    return RoundOutcome(closed=closed, left=left)
