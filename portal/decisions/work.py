"""Work waiting: for each staff role, what is waiting for them, each item with a link to where it is done.

One query per kind of work (a fixed number however many items there are), at most ``LIMIT`` items of each kind
shown with the full count. Kinds by role:

- secretariat: proposals to screen, clarifications overdue, proposals short of reviewers, late reviews, allocation
  runs whose lock waits to be proposed, progress reports to screen, progress reports overdue;
- committee members: recommendations to make;
- the chair and approving officers: recommendations to make, decisions to make, locks to approve, change requests to
  approve (the secretariat also has those it did not recommend, and those to recommend), progress reports to accept
  or return (not those they screened);
- reviewers: their reviews to write, with the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.accounts.enums import Role
from portal.allocations.models import AllocationRun, RunStatus
from portal.core.formatting import hk_localtime
from portal.projects.enums import REPORT_TO_SCREEN, ReportState
from portal.projects.models import ProgressReport
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal
from portal.reviews.conflicts import conflicted_q
from portal.reviews.enums import ACTIVE_ASSIGNMENT
from portal.reviews.models import Assignment, Review

from .models import ClarificationRequest, Decision, Recommendation

LIMIT = 25
SCREENING_STATES = (S.SUBMITTED, S.SCREENING)
RECOMMENDATION_STATES = (S.REVIEWED, S.RESPONSE)
DECISION_STATES = (S.RECOMMENDED, S.NOT_RECOMMENDED)


@dataclass
class WorkItem:
    title: str
    detail: str
    url: str
    due: datetime | None = None
    overdue: bool = False


@dataclass
class WorkKind:
    key: str
    heading: Promise
    action: Promise
    items: list[WorkItem] = field(default_factory=list)
    total: int = 0


def _proposal_title(proposal: Proposal) -> str:
    return f"{proposal.reference} · {proposal.local_title}"


def _kind(key, heading, action, rows, make) -> WorkKind:
    rows = list(rows[: LIMIT + 1])
    return WorkKind(key=key, heading=heading, action=action, items=[make(r) for r in rows[:LIMIT]], total=len(rows))


def _screening() -> WorkKind:
    rows = (
        Proposal.objects.filter(state__in=SCREENING_STATES, reference__isnull=False)
        .select_related("call")
        .order_by("submitted_at", "pk")
    )
    return _kind(
        "screening",
        _("Proposals to screen"),
        _("Screen"),
        rows,
        lambda p: WorkItem(_proposal_title(p), p.call.local_title, reverse("decisions:screen", args=[p.pk])),
    )


def _clarifications_overdue(now) -> WorkKind:
    rows = (
        ClarificationRequest.objects.filter(answered_at__isnull=True, due_at__lt=now)
        .select_related("proposal__call")
        .order_by("due_at", "pk")
    )
    return _kind(
        "clarifications",
        _("Clarifications overdue"),
        _("Follow up"),
        rows,
        lambda c: WorkItem(
            _proposal_title(c.proposal),
            c.proposal.call.local_title,
            reverse("decisions:screen", args=[c.proposal_id]),
            due=c.due_at,
            overdue=True,
        ),
    )


def _short_of_reviewers() -> WorkKind:
    rows = (
        Proposal.objects.filter(state=S.IN_REVIEW)
        .annotate(active=Count("review_assignments", filter=Q(review_assignments__status__in=ACTIVE_ASSIGNMENT)))
        .filter(active__lt=F("call__reviewers_per_proposal"))
        .select_related("call")
        .order_by("submitted_at", "pk")
    )
    return _kind(
        "reviewers",
        _("Proposals short of reviewers"),
        _("Assign reviewers"),
        rows,
        lambda p: WorkItem(
            _proposal_title(p),
            str(
                _("%(active)s of %(wanted)s reviewers assigned")
                % {"active": p.active, "wanted": p.call.reviewers_per_proposal}
            ),
            reverse("reviews:call_assignments", args=[p.call_id]),
        ),
    )


def _late_reviews(now) -> WorkKind:
    submitted = Review.objects.filter(assignment=OuterRef("pk"), is_current=True, submitted_at__isnull=False)
    rows = (
        Assignment.objects.filter(
            status__in=ACTIVE_ASSIGNMENT,
            proposal__state=S.IN_REVIEW,
            proposal__call__review_settings__review_deadline__lt=now,
        )
        .exclude(Exists(submitted))
        .select_related("proposal__call__review_settings", "reviewer")
        .order_by("proposal__call__review_settings__review_deadline", "proposal__reference", "pk")
    )
    return _kind(
        "late_reviews",
        _("Late reviews"),
        _("Remind or reassign"),
        rows,
        lambda a: WorkItem(
            _proposal_title(a.proposal),
            a.reviewer.full_name or a.reviewer.email,
            reverse("reviews:call_assignments", args=[a.proposal.call_id]),
            due=a.proposal.call.review_settings.review_deadline,
            overdue=True,
        ),
    )


def _locks_to_propose() -> WorkKind:
    rows = (
        AllocationRun.objects.filter(status=RunStatus.SUCCEEDED, lock_proposed_at__isnull=True, locked_at__isnull=True)
        .exclude(call__allocation_runs__locked_at__isnull=False)
        .select_related("call")
        .order_by("-finished_at", "-pk")
    )
    return _kind(
        "locks_to_propose",
        _("Allocation runs to compare and propose for locking"),
        _("Open the run"),
        rows,
        lambda r: WorkItem(
            str(_("Run #%(n)s · %(policy)s") % {"n": r.pk, "policy": r.get_policy_display()}),
            r.call.local_title,
            reverse("allocations:run", args=[r.pk]),
        ),
    )


def _recommendations() -> WorkKind:
    rows = (
        Proposal.objects.filter(state__in=RECOMMENDATION_STATES).select_related("call").order_by("submitted_at", "pk")
    )
    return _kind(
        "recommendations",
        _("Recommendations to make"),
        _("Recommend"),
        rows,
        lambda p: WorkItem(_proposal_title(p), p.call.local_title, reverse("decisions:recommend", args=[p.pk])),
    )


def _decisions(user) -> WorkKind:
    decided = Decision.objects.filter(recommendation=OuterRef("pk"))
    mine = Recommendation.objects.filter(proposal=OuterRef("pk"), is_current=True, recommended_by=user.pk)
    rows = (
        Proposal.objects.filter(state__in=DECISION_STATES)
        .exclude(Exists(mine))  # four-eyes: not on a recommendation of one's own
        .filter(
            Exists(Recommendation.objects.filter(proposal=OuterRef("pk"), is_current=True).exclude(Exists(decided)))
        )
        .select_related("call")
        .order_by("submitted_at", "pk")
    )
    return _kind(
        "decisions",
        _("Decisions to make"),
        _("Decide"),
        rows,
        lambda p: WorkItem(_proposal_title(p), p.call.local_title, reverse("decisions:decide", args=[p.pk])),
    )


def _locks_to_approve(user) -> WorkKind:
    rows = (
        AllocationRun.objects.filter(lock_proposed_at__isnull=False, locked_at__isnull=True)
        .exclude(lock_proposed_by=user.pk)
        .select_related("call", "lock_proposed_by")
        .order_by("lock_proposed_at", "pk")
    )
    return _kind(
        "locks",
        _("Locks to approve"),
        _("Review and approve"),
        rows,
        lambda r: WorkItem(
            str(_("Run #%(n)s · %(policy)s") % {"n": r.pk, "policy": r.get_policy_display()}),
            r.call.local_title,
            reverse("allocations:run_lock", args=[r.pk]),
            due=r.lock_proposed_at,
        ),
    )


def _changes(user, state: str) -> WorkKind:
    """Change requests of projects (issue 11): submitted ones for the secretariat to recommend, recommended ones for
    another official to approve (four-eyes: not those ``user`` recommended); none of a project ``user`` is
    conflicted on."""
    from portal.projects.models import ChangeRequest
    from portal.reviews.conflicts import conflicted_q

    rows = (
        ChangeRequest.objects.filter(state=state)
        .exclude(recommended_by=user.pk)
        .exclude(conflicted_q(user, prefix="proposal__"))
        .select_related("proposal")
        .order_by("submitted_at", "pk")
    )
    if state == "submitted":
        key, heading, action = "changes_to_recommend", _("Change requests to recommend"), _("Consider")
    else:
        key, heading, action = "changes_to_approve", _("Change requests to approve"), _("Approve or refuse")
    return _kind(
        key,
        heading,
        action,
        rows,
        lambda c: WorkItem(
            f"{c.proposal.reference} · {c.get_kind_display()}",
            c.proposal.local_title,
            reverse("projects:change_request", args=[c.pk]),
            due=c.recommended_at or c.submitted_at,
        ),
    )


def _reviews_to_write(user, now) -> WorkKind:
    submitted = Review.objects.filter(assignment=OuterRef("pk"), is_current=True, submitted_at__isnull=False)
    rows = (
        Assignment.objects.filter(reviewer=user, status__in=ACTIVE_ASSIGNMENT, proposal__state=S.IN_REVIEW)
        .exclude(Exists(submitted))
        .select_related("proposal__call__review_settings")
        .order_by("proposal__call__review_settings__review_deadline", "proposal__reference", "pk")
    )

    def make(a):
        settings = getattr(a.proposal.call, "review_settings", None)
        deadline = settings.review_deadline if settings else None
        return WorkItem(
            _proposal_title(a.proposal),
            a.proposal.call.local_title,
            reverse("reviews:assignment", args=[a.pk]),
            due=deadline,
            overdue=bool(deadline and deadline < now),
        )

    return _kind("reviews", _("Reviews to write"), _("Review"), rows, make)


def _reports(user, **filters):
    """Progress reports matching ``filters`` of projects ``user`` has no conflict on, with their call."""
    return (
        ProgressReport.objects.filter(**filters)
        .exclude(conflicted_q(user, prefix="proposal__"))
        .select_related("proposal__call")
    )


def _reports_to_screen(user) -> WorkKind:
    rows = _reports(user, state__in=REPORT_TO_SCREEN).order_by("submitted_at", "pk")
    return _kind(
        "reports_to_screen",
        _("Progress reports to screen"),
        _("Screen the report"),
        rows,
        lambda r: WorkItem(
            _proposal_title(r.proposal),
            str(_("Progress report %(n)s") % {"n": r.number}),
            reverse("projects:report", args=[r.pk]),
        ),
    )


def _reports_overdue(user, now) -> WorkKind:
    """Reports past their due date and not in: each holds its project's further tranches."""
    rows = _reports(
        user, state=ReportState.DUE, due_on__lt=hk_localtime(now).date(), proposal__state=S.ACTIVE
    ).order_by("due_on", "pk")
    return _kind(
        "reports_overdue",
        _("Progress reports overdue (further tranches held)"),
        _("Open the project"),
        rows,
        lambda r: WorkItem(
            _proposal_title(r.proposal),
            str(_("Progress report %(n)s, due %(date)s") % {"n": r.number, "date": r.due_on.isoformat()}),
            reverse("projects:project", args=[r.proposal_id]),
            overdue=True,
        ),
    )


def _reports_to_accept(user) -> WorkKind:
    rows = (
        _reports(user, state=ReportState.RECOMMENDED)
        .exclude(screened_by=user.pk)  # four-eyes: not a report one screened
        .order_by("screened_at", "pk")
    )
    return _kind(
        "reports_to_accept",
        _("Progress reports to accept or return"),
        _("Decide on the report"),
        rows,
        lambda r: WorkItem(
            _proposal_title(r.proposal),
            str(_("Progress report %(n)s") % {"n": r.number}),
            reverse("projects:report", args=[r.pk]),
            due=r.screened_at,
        ),
    )


def work_waiting(*, user, now: datetime | None = None) -> list[WorkKind]:
    """What waits for ``user``, by their role (an empty list for a role with no work here)."""
    now = now or timezone.now()
    role = user.role
    if role == Role.SECRETARIAT:
        return [
            _screening(),
            _clarifications_overdue(now),
            _short_of_reviewers(),
            _late_reviews(now),
            _locks_to_propose(),
            _changes(user, "submitted"),
            _changes(user, "recommended"),
            _reports_to_screen(user),
            _reports_overdue(user, now),
        ]
    if role == Role.COMMITTEE_MEMBER:
        return [_recommendations()]
    if role in (Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER):
        return [
            _recommendations(),
            _decisions(user),
            _locks_to_approve(user),
            _changes(user, "recommended"),
            _reports_to_accept(user),
        ]
    if role == Role.REVIEWER:
        return [_reviews_to_write(user, now)]
    return []
