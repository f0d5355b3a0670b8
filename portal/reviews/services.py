"""Writes on reviews: assignment (manual and automatic), declarations of interest, reviews, reopening,
the applicant's response, the committee's consensus and the reminders."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.accounts.selectors import applicants_of
from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.core.formatting import format_hkt
from portal.notifications.messages import Bilingual, Message
from portal.notifications.services import email_queue, notify, users_notify
from portal.proposals.enums import DECIDED, ProposalState
from portal.proposals.models import Proposal

from . import selectors
from .assignment import AssignmentProblem, AssignmentResult, Shortfall, assign, check_assignment, shortfalls
from .conflicts import conflict_reason, conflicted_in_call_ids, conflicted_pairs, free_of_conflict
from .enums import ACTIVE_ASSIGNMENT, AssignmentSource, AssignmentStatus, ConflictSource, ReviewState
from .figures import figures_invalidate_for_assignments
from .models import (
    ApplicantResponse,
    Assignment,
    Consensus,
    Declaration,
    ExpertiseTag,
    ProposalExpertise,
    ReminderSent,
    Review,
    ReviewerProfile,
    Score,
    SuggestedReviewer,
)

# ---- The reviewer's profile --------------------------------------------------------------------------------


def _profile_snapshot(profile: ReviewerProfile) -> dict:
    return {
        "organisation": profile.organisation_id,
        "organisation_requested": profile.organisation_requested_id,
        "organisation_change_pending": profile.organisation_change_pending,
        "expertise": sorted(profile.expertise.values_list("pk", flat=True)) if profile.pk else [],
        "max_per_call": profile.max_per_call,
        "available": profile.available,
    }


@transaction.atomic
def reviewer_profile_save(
    *, user, organisation, expertise: Iterable[ExpertiseTag], max_per_call: int, available: bool
) -> ReviewerProfile:
    """Save a reviewer's own profile: the organisation they work for, their expertise (which counts in assignment),
    the most proposals they take per call and whether they take new ones. Recorded in the audit log with what it
    was before.

    The organisation counts in conflicts of interest, so the reviewer only *asks* for a change: it waits for the
    secretariat (:func:`reviewer_affiliation_confirm`). Meanwhile the organisation asked for already counts in
    conflicts (it can add one, never take one away), and the conflict checks are run again at once."""
    if not user.has_perm("portal.reviews.change_own_profile"):
        raise PermissionDenied
    profile = ReviewerProfile.objects.select_for_update().filter(user=user).first() or ReviewerProfile(user=user)
    before = _profile_snapshot(profile) if profile.pk else {}
    organisation_id = organisation.pk if organisation is not None else None
    if organisation_id != profile.organisation_id:
        profile.organisation_requested = organisation
        profile.organisation_change_pending = True
    else:  # back to the confirmed affiliation: nothing waits any more
        profile.organisation_requested = None
        profile.organisation_change_pending = False
    profile.max_per_call = max_per_call
    profile.available = available
    profile.full_clean()
    profile.save()
    profile.expertise.set(expertise)
    audit_record(
        actor=user, action="reviewer_profile.save", obj=profile, before=before, after=_profile_snapshot(profile)
    )
    if profile.organisation_change_pending:
        _conflicts_recheck(reviewer=user, actor=user)
    return profile


@transaction.atomic
def reviewer_affiliation_confirm(*, profile: ReviewerProfile, organisation, actor, now: datetime | None = None):
    """The secretariat sets a reviewer's affiliation (the organisation asked for, or any other, or none), which
    ends any pending change. Audited with the values before and after; the conflict checks are run again."""
    if not actor.has_perm("portal.reviews.confirm_affiliation"):
        raise PermissionDenied
    profile = ReviewerProfile.objects.select_for_update().get(pk=profile.pk)
    before = _profile_snapshot(profile)
    profile.organisation = organisation
    profile.organisation_requested = None
    profile.organisation_change_pending = False
    profile.organisation_confirmed_by = actor
    profile.organisation_confirmed_at = now or timezone.now()
    profile.full_clean()
    profile.save()
    audit_record(
        actor=actor,
        action="reviewer_profile.affiliation_confirm",
        obj=profile,
        before=before,
        after=_profile_snapshot(profile),
    )
    _conflicts_recheck(reviewer=profile.user, actor=actor)
    return profile


def _conflicts_recheck(*, reviewer, actor) -> list[int]:
    """Run the conflict checks again for every active assignment of ``reviewer``: one that is now conflicted is
    removed (as if declared), audited, and the secretariat is told. Returns the proposals concerned."""
    active = list(
        Assignment.objects.filter(reviewer=reviewer, status__in=ACTIVE_ASSIGNMENT).select_related("proposal__call")
    )
    pairs = conflicted_pairs(proposal_ids=[a.proposal_id for a in active], user_ids=[reviewer.pk])
    removed = []
    for assignment in active:
        reason = pairs.get((assignment.proposal_id, reviewer.pk))
        if reason is None:
            continue
        assignment.status = AssignmentStatus.CONFLICTED
        assignment.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="review.conflict_found",
            obj=assignment.proposal,
            after={"reviewer": reviewer.pk, "assignment": assignment.pk},
            reason=reason,
        )
        _tell_secretariat(proposal=assignment.proposal, person=reviewer, reason=reason)
        removed.append(assignment.proposal_id)
    return removed


# ---- Assignment ---------------------------------------------------------------------------------------------


def _load(*, reviewer, call: Call) -> int:
    return Assignment.objects.filter(reviewer=reviewer, proposal__call=call, status__in=ACTIVE_ASSIGNMENT).count()


@transaction.atomic
def assignment_create(
    *, proposal: Proposal, reviewer, actor, source: str = AssignmentSource.MANUAL, now: datetime | None = None
) -> Assignment:
    """Assign one reviewer to one proposal, by hand: the same rules as the automatic assignment."""
    if not actor.has_perm("portal.reviews.assign_reviewers", proposal):
        raise PermissionDenied
    if reviewer.role != Role.REVIEWER or not reviewer.is_active:
        raise ValidationError({"reviewer": _("Only an active reviewer can be assigned.")})
    if not selectors.reviewable_proposals(call=proposal.call).filter(pk=proposal.pk).exists():
        raise ValidationError({"proposal": _("This proposal is not open for review.")})
    if Assignment.objects.filter(proposal=proposal, reviewer=reviewer).exists():
        raise ValidationError({"reviewer": _("This reviewer has already been assigned to this proposal.")})
    reason = conflict_reason(user=reviewer, proposal=proposal)
    if reason:
        raise ValidationError({"reviewer": _("Conflict of interest: %(reason)s") % {"reason": reason}})
    profile = selectors.reviewer_profile_get(user=reviewer)
    if not profile.available:
        raise ValidationError({"reviewer": _("This reviewer is not available.")})
    if _load(reviewer=reviewer, call=proposal.call) >= profile.max_per_call:
        raise ValidationError({"reviewer": _("This reviewer has reached their limit for this call.")})
    suggested = selectors.suggested_reviewer_ids(proposal_ids=[proposal.pk]).get(proposal.pk, set())
    if (
        reviewer.pk in suggested
        and Assignment.objects.filter(
            proposal=proposal, reviewer_id__in=suggested, status__in=ACTIVE_ASSIGNMENT
        ).exists()
    ):
        raise ValidationError({"reviewer": _("A reviewer from the applicant's suggested list is already assigned.")})
    explanation = pair_explanations(
        pairs=[(proposal.pk, reviewer.pk)],
        loads={reviewer.pk: _load(reviewer=reviewer, call=proposal.call) + 1},
        limits={reviewer.pk: profile.max_per_call},
    )[(proposal.pk, reviewer.pk)]
    assignment = _assignment_save(
        proposal=proposal, reviewer=reviewer, actor=actor, source=source, now=now, explanation=explanation
    )
    audit_record(
        actor=actor,
        action="review.assign",
        obj=proposal,
        after={"reviewer": reviewer.pk, "source": source, "explanation": explanation},
    )
    return assignment


def _assignment_save(*, proposal, reviewer, actor, source, now, explanation: dict | None = None) -> Assignment:
    assignment = Assignment(
        proposal=proposal,
        reviewer=reviewer,
        assigned_by=actor,
        source=source,
        assigned_at=now or timezone.now(),
        explanation=explanation or {},
    )
    assignment.full_clean()
    assignment.save()
    transaction.on_commit(lambda: _notify_assigned(assignment.pk))
    return assignment


def _notify_assigned(assignment_id: int) -> None:
    assignment = Assignment.objects.select_related("proposal__call", "reviewer").get(pk=assignment_id)
    reviewer = assignment.reviewer
    url = reverse("reviews:assignment", args=[assignment.pk])
    settings = selectors.review_settings(call=assignment.proposal.call)
    message = Message(
        gettext_noop("You are asked to review %(reference)s."), {"reference": assignment.proposal.reference}
    )
    notify(user=reviewer, message=message, url=url, key=f"review-assigned:{assignment.pk}")
    email_queue(
        key=f"review-assigned:{assignment.pk}",
        to=reviewer.email,
        template="emails/reviews_assigned",
        context={
            "name": reviewer.full_name,
            "reference": assignment.proposal.reference,
            "title": assignment.proposal.title,
            "call": assignment.proposal.call.title,
            "deadline": format_hkt(settings.review_deadline) if settings.review_deadline else "",
            "url": url,
        },
        language=reviewer.preferred_language,
    )


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def pair_explanations(
    *, pairs: list[tuple[int, int]], loads: dict[int, int], limits: dict[int, int]
) -> dict[tuple[int, int], dict]:
    """Why each (proposal, reviewer) pair: the expertise they share and its match (as the assignment scores it),
    and the reviewer's load in the call after the assignment against their limit. Two queries."""
    proposal_ids = {p for p, _r in pairs}
    reviewer_ids = {r for _p, r in pairs}
    proposal_tags: dict[int, set[int]] = defaultdict(set)
    for p, t in ProposalExpertise.objects.filter(proposal_id__in=proposal_ids).values_list("proposal_id", "tag_id"):
        proposal_tags[p].add(t)
    reviewer_tags: dict[int, set[int]] = defaultdict(set)
    through = ReviewerProfile.expertise.through
    for r, t in through.objects.filter(reviewerprofile__user_id__in=reviewer_ids).values_list(
        "reviewerprofile__user_id", "expertisetag_id"
    ):
        reviewer_tags[r].add(t)
    return {
        (p, r): {
            "affinity": round(_jaccard(proposal_tags[p], reviewer_tags[r]), 3),
            "tags": sorted(proposal_tags[p] & reviewer_tags[r]),
            "load": loads.get(r, 0),
            "limit": limits.get(r),
        }
        for p, r in pairs
    }


def assignment_problem(*, call: Call) -> AssignmentProblem:
    """The call's assignment problem, read from the database (ids as strings)."""
    proposals = list(selectors.reviewable_proposals(call=call).values_list("pk", flat=True))
    reviewers = list(
        User.objects.filter(role=Role.REVIEWER, is_active=True)
        .filter(Q(reviewer_profile__isnull=True) | Q(reviewer_profile__available=True))
        .values_list("pk", flat=True)
    )
    limits = dict(ReviewerProfile.objects.filter(user_id__in=reviewers).values_list("user_id", "max_per_call"))
    default_limit = ReviewerProfile._meta.get_field("max_per_call").default
    assigned = list(Assignment.objects.filter(proposal__call=call).values_list("proposal_id", "reviewer_id", "status"))
    active = [(p, r) for p, r, status in assigned if status in ACTIVE_ASSIGNMENT]
    load: dict[int, int] = {}
    per_proposal: dict[int, int] = {}
    for p, r in active:
        load[r] = load.get(r, 0) + 1
        per_proposal[p] = per_proposal.get(p, 0) + 1
    conflicts = {(str(p), str(r)) for p, r, _s in assigned}
    conflicts |= {(str(p), str(r)) for p, r in conflicted_pairs(proposal_ids=proposals, user_ids=reviewers)}
    suggested: dict[str, set[str]] = {}
    for p, reviewer_ids in selectors.suggested_reviewer_ids(proposal_ids=proposals).items():
        suggested[str(p)] = {str(r) for r in reviewer_ids}
    suggested_already: dict[str, int] = {}
    for p, r in active:
        if str(r) in suggested.get(str(p), set()):
            suggested_already[str(p)] = suggested_already.get(str(p), 0) + 1
    proposal_tags: dict[int, set[int]] = {}
    for p, t in ProposalExpertise.objects.filter(proposal_id__in=proposals).values_list("proposal_id", "tag_id"):
        proposal_tags.setdefault(p, set()).add(t)
    reviewer_tags: dict[int, set[int]] = {}
    through = ReviewerProfile.expertise.through
    for r, t in through.objects.filter(reviewerprofile__user_id__in=reviewers).values_list(
        "reviewerprofile__user_id", "expertisetag_id"
    ):
        reviewer_tags.setdefault(r, set()).add(t)
    affinity = {
        (str(p), str(r)): _jaccard(proposal_tags[p], reviewer_tags[r])
        for p in proposal_tags
        for r in reviewer_tags
        if proposal_tags[p] & reviewer_tags[r]
    }
    need = {p: max(0, call.reviewers_per_proposal - per_proposal.get(p, 0)) for p in proposals}
    # The first slots: those that bring a proposal up to the call's minimum number of reviewers.
    first = {p: min(need[p], max(0, call.min_reviewers - per_proposal.get(p, 0))) for p in proposals}
    return AssignmentProblem(
        proposals={str(p): n for p, n in need.items()},
        reviewers={str(r): max(0, limits.get(r, default_limit) - load.get(r, 0)) for r in reviewers},
        conflicts=frozenset(conflicts),
        suggested={p: frozenset(rs) for p, rs in suggested.items()},
        affinity=affinity,
        suggested_already=suggested_already,
        load_already={str(r): n for r, n in load.items()},
        min_reviewers={str(p): n for p, n in first.items() if n},
    )


@dataclass(frozen=True)
class AutoAssignmentOutcome:
    created: list[Assignment]
    result: AssignmentResult
    shortfalls: dict[str, Shortfall] = field(default_factory=dict)


@transaction.atomic
def assignment_auto(
    *, call: Call, actor, time_limit: float = 30.0, now: datetime | None = None
) -> AutoAssignmentOutcome:
    """Assign reviewers to every proposal of the call that still needs them, optimally (see assignment.py), check
    the answer independently, and save it. Nothing is saved when the check finds a violation."""
    if not actor.has_perm("portal.reviews.assign_reviewers"):
        raise PermissionDenied
    if conflicted_in_call_ids(user=actor, call_id=call.pk) & set(
        selectors.reviewable_proposals(call=call).values_list("pk", flat=True)
    ):
        raise ValidationError(
            _("You have a conflict of interest on a proposal of this call: another officer assigns its reviewers.")
        )
    # Lock the call's proposals so that two officials running this at once do not both assign.
    list(selectors.reviewable_proposals(call=call).select_for_update().values_list("pk", flat=True))
    problem = assignment_problem(call=call)
    result = assign(problem, time_limit=time_limit)
    violations = check_assignment(problem, result)
    if violations:
        raise ValidationError(_("The automatic assignment failed its check: %(v)s") % {"v": "; ".join(violations)})
    now = now or timezone.now()
    proposals = {str(p.pk): p for p in selectors.reviewable_proposals(call=call)}
    reviewers = {str(u.pk): u for u in User.objects.filter(pk__in=[int(r) for _p, r in result.pairs])}
    new_load = Counter(r for _p, r in result.pairs)
    explanations = pair_explanations(
        pairs=[(int(p), int(r)) for p, r in result.pairs],
        loads={int(r): problem.load_already.get(r, 0) + n for r, n in new_load.items()},
        limits={int(r): problem.load_already.get(r, 0) + problem.reviewers[r] for r in new_load},
    )
    created = [
        _assignment_save(
            proposal=proposals[p],
            reviewer=reviewers[r],
            actor=actor,
            source=AssignmentSource.AUTOMATIC,
            now=now,
            explanation=explanations[(int(p), int(r))],
        )
        for p, r in sorted(result.pairs, key=lambda pair: (int(pair[0]), int(pair[1])))
    ]
    short = shortfalls(problem, result.pairs)
    audit_record(
        actor=actor,
        action="review.assign_auto",
        obj=call,
        after={
            "pairs": sorted([int(p), int(r)] for p, r in result.pairs),
            "unassigned": {p: list(v) for p, v in result.unassigned.items()},
            "shortfalls": {p: asdict(s) for p, s in short.items()},
            "status": result.status,
            "objective": result.objective,
        },
    )
    return AutoAssignmentOutcome(created=created, result=result, shortfalls=short)


# ---- Conflicts of interest ------------------------------------------------------------------------------------


def _tell_secretariat(*, proposal: Proposal, person, reason: str) -> None:
    url = reverse("reviews:call_assignments", args=[proposal.call_id])
    officials = User.objects.filter(role=Role.SECRETARIAT, is_active=True).order_by("pk")
    for official in free_of_conflict(users=officials, proposal=proposal):  # names a reviewer of it: not to them
        message = Message(
            gettext_noop("%(person)s has a conflict of interest on %(reference)s: %(reason)s"),
            {"person": person.full_name or person.email, "reference": proposal.reference, "reason": reason},
        )
        notify(user=official, message=message, url=url)


def _declaration_save(*, proposal, user, conflicted: bool, reason: str, source: str, recorded_by, now) -> Declaration:
    declaration = Declaration.objects.filter(proposal=proposal, user=user).first()
    if declaration is not None and declaration.conflicted and not conflicted:
        raise ValidationError({"conflicted": _("A conflict of interest has been recorded and cannot be withdrawn.")})
    declaration = declaration or Declaration(proposal=proposal, user=user)
    declaration.conflicted = conflicted
    declaration.reason = reason.strip()
    declaration.source = source
    declaration.recorded_by = recorded_by
    declaration.created_at = now
    declaration.full_clean()
    declaration.save()
    return declaration


def _remove_for_conflict(*, proposal, user) -> int:
    removed = Assignment.objects.filter(proposal=proposal, reviewer=user, status__in=ACTIVE_ASSIGNMENT)
    ids = list(removed.values_list("pk", flat=True))
    count = removed.update(status=AssignmentStatus.CONFLICTED)
    figures_invalidate_for_assignments(ids)  # no signal for update(): the review no longer counts
    return count


@transaction.atomic
def assignment_declare(
    *, assignment: Assignment, user, conflicted: bool, reason: str = "", now: datetime | None = None
) -> Assignment:
    """The reviewer declares "no conflict" (and may then read and score) or "conflict" with a reason (which
    removes the assignment and tells the secretariat)."""
    if not user.has_perm("portal.reviews.declare_interest", assignment):
        raise PermissionDenied
    if conflicted and not reason.strip():
        raise ValidationError({"reason": _("Say what the conflict is.")})
    now = now or timezone.now()
    if not conflicted and conflict_reason(user=user, proposal=assignment.proposal):
        raise ValidationError({"conflicted": _("A conflict of interest has been found for you on this proposal.")})
    _declaration_save(
        proposal=assignment.proposal,
        user=user,
        conflicted=conflicted,
        reason=reason,
        source=ConflictSource.DECLARED,
        recorded_by=user,
        now=now,
    )
    assignment.status = AssignmentStatus.CONFLICTED if conflicted else AssignmentStatus.ACCEPTED
    assignment.declared_at = now
    assignment.save(update_fields=["status", "declared_at"])
    audit_record(
        actor=user,
        action="review.declare",
        obj=assignment.proposal,
        after={"conflicted": conflicted, "assignment": assignment.pk},
        reason=reason,
    )
    if conflicted:
        _tell_secretariat(proposal=assignment.proposal, person=user, reason=reason)
    return assignment


@transaction.atomic
def conflict_record(*, proposal: Proposal, user, reason: str, actor, now: datetime | None = None) -> Declaration:
    """An official records a conflict of a reviewer or committee member; any assignment is removed."""
    if not actor.has_perm("portal.reviews.record_conflict", proposal):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Say what the conflict is.")})
    declaration = _declaration_save(
        proposal=proposal,
        user=user,
        conflicted=True,
        reason=reason,
        source=ConflictSource.RECORDED,
        recorded_by=actor,
        now=now or timezone.now(),
    )
    removed = _remove_for_conflict(proposal=proposal, user=user)
    audit_record(
        actor=actor,
        action="review.conflict_record",
        obj=proposal,
        after={"user": user.pk, "assignments_removed": removed},
        reason=reason,
    )
    _tell_secretariat(proposal=proposal, person=user, reason=reason)
    return declaration


@transaction.atomic
def committee_declare(
    *, proposal: Proposal, user, conflicted: bool, reason: str = "", now: datetime | None = None
) -> Declaration:
    if not user.has_perm("portal.reviews.committee_declare"):
        raise PermissionDenied
    if conflicted and not reason.strip():
        raise ValidationError({"reason": _("Say what the conflict is.")})
    if not conflicted and conflict_reason(user=user, proposal=proposal):
        raise ValidationError({"conflicted": _("A conflict of interest has been found for you on this proposal.")})
    declaration = _declaration_save(
        proposal=proposal,
        user=user,
        conflicted=conflicted,
        reason=reason,
        source=ConflictSource.DECLARED,
        recorded_by=user,
        now=now or timezone.now(),
    )
    audit_record(actor=user, action="review.committee_declare", obj=proposal, after={"conflicted": conflicted})
    if conflicted:
        _tell_secretariat(proposal=proposal, person=user, reason=reason)
    return declaration


# ---- Reviews -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewInput:
    """What the reviewer typed: criterion number → (score or None, comment), and the general fields."""

    scores: dict[int, tuple[int | None, str]]
    recommendation: str = ""
    comments_applicant: str = ""
    comments_committee: str = ""


def _current_or_new(assignment: Assignment, now) -> Review:
    review = Review.objects.select_for_update().filter(assignment=assignment, is_current=True).first()
    if review is None:
        review = Review(assignment=assignment, version=assignment.proposal.current_version, created_at=now)
    return review


def _write(review: Review, data: ReviewInput, now) -> Review:
    review.recommendation = data.recommendation
    review.comments_applicant = data.comments_applicant.strip()
    review.comments_committee = data.comments_committee.strip()
    review.updated_at = now
    review.full_clean()
    review.save()
    criteria = {c.number: c for c in review.assignment.proposal.call.criteria.all()}
    existing = {s.criterion_id: s for s in review.scores.all()}
    for number, criterion in criteria.items():
        value, comment = data.scores.get(number, (None, ""))
        score = existing.get(criterion.pk) or Score(review=review, criterion=criterion)
        score.score = value
        score.comment = (comment or "").strip()
        score.full_clean()
        score.save()
    return review


@transaction.atomic
def review_save(*, assignment: Assignment, user, data: ReviewInput, now: datetime | None = None) -> Review:
    """Save a draft: everything typed is kept; only values that can never be valid (a score of 6) are refused."""
    if not user.has_perm("portal.reviews.review_proposal", assignment):
        raise PermissionDenied
    now = now or timezone.now()
    _check_not_frozen(assignment.proposal)
    review = _current_or_new(assignment, now)
    if review.state == ReviewState.SUBMITTED:
        raise ValidationError(_("This review has been submitted. Only the secretariat can reopen it."))
    return _write(review, data, now)


def _check_not_frozen(proposal: Proposal) -> None:
    if selectors.reviews_frozen(proposal=proposal):
        raise ValidationError(
            _("The committee has made its recommendation on this proposal: its reviews can no longer change.")
        )


@transaction.atomic
def review_deadline_extend(
    *, assignment: Assignment, until: datetime, reason: str, actor, now: datetime | None = None
) -> Assignment:
    """The secretariat lets one reviewer submit after the call's review deadline, until ``until``. Audited with
    the reason and the time before and after."""
    if not actor.has_perm("portal.reviews.extend_review_deadline", assignment):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    now = now or timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a time in the future.")})
    assignment = Assignment.objects.select_for_update().select_related("proposal").get(pk=assignment.pk)
    if assignment.status not in ACTIVE_ASSIGNMENT:
        raise ValidationError(_("This reviewer is no longer assigned to the proposal."))
    _check_not_frozen(assignment.proposal)
    before = assignment.deadline_extended_to
    assignment.deadline_extended_to = until
    assignment.save(update_fields=["deadline_extended_to"])
    audit_record(
        actor=actor,
        action="review.deadline_extend",
        obj=assignment.proposal,
        before={"assignment": assignment.pk, "deadline_extended_to": before.isoformat() if before else None},
        after={"assignment": assignment.pk, "deadline_extended_to": until.isoformat()},
        reason=reason,
    )
    notify(
        user=assignment.reviewer,
        message=Message(
            gettext_noop("You may submit your review of %(reference)s until %(until)s."),
            {"reference": assignment.proposal.reference, "until": format_hkt(until)},
        ),
        url=reverse("reviews:review", args=[assignment.pk]),
    )
    return assignment


def review_problems(*, assignment: Assignment, data: ReviewInput) -> dict[str, list[str]]:
    """What is missing for a submission, by form field."""
    problems: dict[str, list[str]] = {}
    for criterion in assignment.proposal.call.criteria.all():
        value, _comment = data.scores.get(criterion.number, (None, ""))
        if value is None:
            problems[f"score_{criterion.number}"] = [_("Give a score from 0 to 5.")]
    if not data.recommendation:
        problems["recommendation"] = [_("Choose an overall recommendation.")]
    if not data.comments_applicant.strip():
        problems["comments_applicant"] = [_("Write your comments to the applicant.")]
    return problems


@transaction.atomic
def review_submit(*, assignment: Assignment, user, data: ReviewInput, now: datetime | None = None) -> Review:
    if not user.has_perm("portal.reviews.review_proposal", assignment):
        raise PermissionDenied
    problems = review_problems(assignment=assignment, data=data)
    if problems:
        raise ValidationError(problems)
    now = now or timezone.now()
    _check_not_frozen(assignment.proposal)
    deadline = selectors.review_deadline_for(assignment=assignment)
    if deadline is not None and now > deadline:
        raise ValidationError(
            _("The review deadline (%(deadline)s) has passed; the secretariat can extend it for you.")
            % {"deadline": format_hkt(deadline)}
        )
    review = _current_or_new(assignment, now)
    if review.state == ReviewState.SUBMITTED:
        raise ValidationError(_("This review has been submitted. Only the secretariat can reopen it."))
    review = _write(review, data, now)
    review.state = ReviewState.SUBMITTED
    review.submitted_at = now
    review.save(update_fields=["state", "submitted_at"])
    audit_record(actor=user, action="review.submit", obj=assignment.proposal, after={"review": review.pk})
    proposal_id = assignment.proposal_id
    transaction.on_commit(lambda: _notify_if_reviews_ready(proposal_id))
    return review


def _notify_if_reviews_ready(proposal_id: int) -> None:
    """Once every review is in, tell the applicant's organisation that the reviews are ready and by when they
    may respond (once per proposal)."""
    proposal = Proposal.objects.select_related("call", "organisation").get(pk=proposal_id)
    status = selectors.reviews_status(proposal=proposal)
    if not status.all_in or ApplicantResponse.objects.filter(proposal=proposal).exists():
        return
    users_notify(
        users=applicants_of(organisation_id=proposal.organisation_id),
        key=f"reviews-ready:{proposal.pk}",
        template="emails/reviews_ready",
        context={
            "reference": proposal.reference,
            "title": Bilingual.of(proposal, "title"),
            "call": Bilingual.of(proposal.call, "title"),
            "due_at": status.response_closes_at,
        },
        url=reverse("reviews:feedback", args=[proposal.pk]),
    )


@transaction.atomic
def review_reopen(*, review: Review, actor, reason: str, now: datetime | None = None) -> Review:
    """The secretariat reopens a submitted review: the submitted revision is kept as it is, and a new draft
    revision with the same content is opened for the reviewer."""
    if not actor.has_perm("portal.reviews.reopen_review", review):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    review = Review.objects.select_for_update().select_related("assignment__proposal").get(pk=review.pk)
    if review.state != ReviewState.SUBMITTED or not review.is_current:
        raise ValidationError(_("Only the current submitted review can be reopened."))
    _check_not_frozen(review.assignment.proposal)
    now = now or timezone.now()
    review.is_current = False
    review.reopened_by = actor
    review.reopened_at = now
    review.reopen_reason = reason.strip()
    review.save(update_fields=["is_current", "reopened_by", "reopened_at", "reopen_reason"])
    new = Review.objects.create(
        assignment=review.assignment,
        revision=review.revision + 1,
        version=review.assignment.proposal.current_version or review.version,
        recommendation=review.recommendation,
        comments_applicant=review.comments_applicant,
        comments_committee=review.comments_committee,
        created_at=now,
        updated_at=now,
    )
    # The new revision is a draft, which counts in no figure; saving the old one above made the figures stale.
    Score.objects.bulk_create(
        Score(review=new, criterion_id=s.criterion_id, score=s.score, comment=s.comment) for s in review.scores.all()
    )
    audit_record(
        actor=actor,
        action="review.reopen",
        obj=review.assignment.proposal,
        before={"review": review.pk, "revision": review.revision, "state": ReviewState.SUBMITTED},
        after={"review": new.pk, "revision": new.revision, "state": ReviewState.DRAFT},
        reason=reason,
    )
    reviewer = review.assignment.reviewer
    message = Message(
        gettext_noop("Your review of %(reference)s was reopened: %(reason)s"),
        {"reference": review.assignment.proposal.reference, "reason": reason},
    )
    notify(user=reviewer, message=message, url=reverse("reviews:review", args=[review.assignment_id]))
    return new


# ---- Applicant response and committee consensus ---------------------------------------------------------------


@transaction.atomic
def response_submit(*, proposal: Proposal, user, text: str, now: datetime | None = None) -> ApplicantResponse:
    if not user.has_perm("portal.reviews.respond_to_reviews", proposal):
        raise PermissionDenied
    now = now or timezone.now()
    status = selectors.reviews_status(proposal=proposal)
    if not status.all_in:
        raise ValidationError(_("You can respond once all reviews are in."))
    if now > status.response_closes_at:
        raise ValidationError(_("The response window has closed."))
    if proposal.state in RESPONSE_CLOSED_STATES:
        raise ValidationError(_("The response window has closed: the committee has made its recommendation."))
    if ApplicantResponse.objects.filter(proposal=proposal).exists():
        raise ValidationError(_("You have already sent your response."))
    if not text.strip():
        raise ValidationError({"text": _("Write your response.")})
    response = ApplicantResponse(proposal=proposal, text=text.strip(), submitted_by=user, submitted_at=now)
    response.full_clean()
    response.save()
    audit_record(actor=user, action="review.response", obj=proposal, after={"response": response.pk})
    proposal_id = proposal.pk
    transaction.on_commit(lambda: _tell_committee_of_response(proposal_id))
    return response


# The rebuttal window closes at its deadline or when the committee recommends, whichever comes first.
RESPONSE_CLOSED_STATES = DECIDED | {ProposalState.RECOMMENDED, ProposalState.NOT_RECOMMENDED}


def _tell_committee_of_response(proposal_id: int) -> None:
    """Tell every committee member (not those conflicted on the proposal) that the applicant has responded."""
    proposal = Proposal.objects.get(pk=proposal_id)
    committee = User.objects.filter(
        role__in=(Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER), is_active=True
    ).order_by("pk")
    message = Message(
        gettext_noop("The applicant of %(reference)s has responded to the reviews."), {"reference": proposal.reference}
    )
    for member in committee:
        if selectors.is_conflicted(user=member, proposal=proposal):
            continue
        notify(
            user=member,
            message=message,
            url=reverse("reviews:committee_proposal", args=[proposal.pk]),
            key=f"response-arrived:{proposal.pk}",
        )


@transaction.atomic
def consensus_record(
    *, proposal: Proposal, user, score: Decimal, rationale: str, feedback: str, now: datetime | None = None
) -> Consensus:
    """The committee's agreed score. Departing from the calibrated mean by more than the call's margin needs a
    rationale."""
    if not user.has_perm("portal.reviews.record_consensus") or selectors.is_conflicted(user=user, proposal=proposal):
        raise PermissionDenied
    figures = selectors.proposal_figures(call=proposal.call, proposal=proposal)
    calibrated = figures.calibrated_mean
    margin = selectors.review_settings(call=proposal.call).consensus_margin
    errors: dict[str, list[str]] = {}
    if calibrated is not None and abs(Decimal(score) - calibrated) > margin and not rationale.strip():
        errors["rationale"] = [
            _(
                "The agreed score departs from the calibrated mean (%(mean)s) by more than %(margin)s: give the rationale."
            )
            % {"mean": f"{calibrated:.2f}", "margin": margin}
        ]
    if not feedback.strip():
        errors["feedback"] = [_("Write the feedback for the applicant.")]
    if errors:
        raise ValidationError(errors)
    consensus = Consensus.objects.filter(proposal=proposal).first()
    before = {"score": str(consensus.score)} if consensus else None
    consensus = consensus or Consensus(proposal=proposal)
    consensus.score = Decimal(score)
    consensus.calibrated_mean = None if calibrated is None else calibrated.quantize(Decimal("0.01"))
    consensus.rationale = rationale.strip()
    consensus.feedback = feedback.strip()
    consensus.recorded_by = user
    consensus.recorded_at = now or timezone.now()
    consensus.full_clean()
    consensus.save()
    audit_record(
        actor=user,
        action="review.consensus",
        obj=proposal,
        before=before,
        after={"score": str(consensus.score), "calibrated_mean": str(consensus.calibrated_mean)},
        reason=consensus.rationale,
    )
    return consensus


# ---- Reminders ------------------------------------------------------------------------------------------------


@transaction.atomic
def review_reminders_send(*, now: datetime | None = None) -> int:
    """Remind each reviewer whose review is not submitted: once in the days before the deadline, once after it.
    Each reminder is recorded under a unique key, so running this twice (or twice a day) sends nothing new."""
    now = now or timezone.now()
    sent = 0
    pending = (
        Assignment.objects.filter(
            status__in=ACTIVE_ASSIGNMENT,
            proposal__call__review_settings__review_deadline__isnull=False,
        )
        .exclude(proposal__state__in=DECIDED)
        .exclude(pk__in=Review.objects.filter(state=ReviewState.SUBMITTED, is_current=True).values("assignment_id"))
        .select_related("reviewer", "proposal__call__review_settings")
        .order_by("pk")
    )
    for assignment in pending:
        settings = assignment.proposal.call.review_settings
        deadline = settings.review_deadline
        if deadline - timedelta(days=settings.reminder_days_before) <= now < deadline:
            kind = "before"
        elif now >= deadline + timedelta(days=settings.reminder_days_after):
            kind = "after"
        else:
            continue
        key = f"review-reminder-{kind}:{assignment.pk}"
        if ReminderSent.objects.filter(key=key).exists():
            continue
        ReminderSent.objects.create(key=key, sent_at=now)
        reviewer = assignment.reviewer
        email_queue(
            key=key,
            to=reviewer.email,
            template=f"emails/reviews_reminder_{kind}",
            context={
                "name": reviewer.full_name,
                "reference": assignment.proposal.reference,
                "title": assignment.proposal.title,
                "deadline": format_hkt(deadline),
                "url": reverse("reviews:assignment", args=[assignment.pk]),
            },
            language=reviewer.preferred_language,
        )
        sent += 1
    return sent


# ---- What the applicant tells the review ------------------------------------------------------------------------

MAX_SUGGESTED_REVIEWERS = 3


@transaction.atomic
def review_preferences_set(*, proposal: Proposal, user, tag_ids: list[int], suggestions: list[tuple[str, str]]) -> None:
    """The applicant's areas of expertise and suggested reviewers (name, email), while the proposal is editable.
    At most one suggested reviewer will be assigned."""
    if not user.has_perm("portal.proposals.change_proposal", proposal):
        raise PermissionDenied
    suggestions = [(name.strip(), email.strip().lower()) for name, email in suggestions if email.strip()]
    if len(suggestions) > MAX_SUGGESTED_REVIEWERS:
        raise ValidationError(
            _("Suggest at most %(n)s reviewers.") % {"n": MAX_SUGGESTED_REVIEWERS}, code="too_many_suggestions"
        )
    tags = list(ExpertiseTag.objects.filter(pk__in=tag_ids))
    before = {
        "tags": sorted(ProposalExpertise.objects.filter(proposal=proposal).values_list("tag_id", flat=True)),
        "suggested": sorted(SuggestedReviewer.objects.filter(proposal=proposal).values_list("email", flat=True)),
    }
    ProposalExpertise.objects.filter(proposal=proposal).delete()
    ProposalExpertise.objects.bulk_create(ProposalExpertise(proposal=proposal, tag=tag) for tag in tags)
    SuggestedReviewer.objects.filter(proposal=proposal, reviewer__isnull=True).delete()
    for name, email in {email: (name, email) for name, email in suggestions}.values():
        row = SuggestedReviewer(proposal=proposal, name=name, email=email)
        row.full_clean()
        row.save()
    audit_record(
        actor=user,
        action="proposal.review_preferences",
        obj=proposal,
        before=before,
        after={"tags": sorted(t.pk for t in tags), "suggested": sorted(e for _n, e in suggestions)},
    )
