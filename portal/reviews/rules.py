"""Who may do what in reviewing (django-rules)."""

import rules

import portal.allocations.rules  # noqa: F401  (registers the allocation permissions extended below)
from portal.accounts.rules import is_auditor, is_committee, is_reviewer, is_secretariat
from portal.proposals.rules import is_proposal_member

from .enums import ACTIVE_ASSIGNMENT, AssignmentStatus, ReviewState


@rules.predicate
def is_own_assignment(user, assignment) -> bool:
    return assignment is not None and assignment.reviewer_id == user.pk and assignment.status in ACTIVE_ASSIGNMENT


@rules.predicate
def has_declared_no_conflict(user, assignment) -> bool:
    return assignment is not None and assignment.status == AssignmentStatus.ACCEPTED


rules.add_perm("portal.reviews.view_own_assignments", is_reviewer)
rules.add_perm("portal.reviews.change_own_profile", is_reviewer)
rules.add_perm("portal.reviews.confirm_affiliation", is_secretariat)
rules.add_perm("portal.reviews.view_assignment", is_reviewer & is_own_assignment)
rules.add_perm("portal.reviews.declare_interest", is_reviewer & is_own_assignment)
rules.add_perm("portal.reviews.review_proposal", is_reviewer & is_own_assignment & has_declared_no_conflict)
rules.add_perm("portal.reviews.assign_reviewers", is_secretariat)
rules.add_perm("portal.reviews.reopen_review", is_secretariat)
rules.add_perm("portal.reviews.extend_review_deadline", is_secretariat)
rules.add_perm("portal.reviews.record_conflict", is_secretariat | is_committee)
rules.add_perm("portal.reviews.view_ranking", is_committee | is_secretariat | is_auditor)
rules.add_perm("portal.reviews.record_consensus", is_committee)
rules.add_perm("portal.reviews.committee_declare", is_committee)
rules.add_perm("portal.reviews.respond_to_reviews", is_proposal_member)


# ---- What reviewing adds to the proposal workflow ---------------------------------------------------------------
# The workflow's permissions live in proposals/rules.py, which cannot look up here (reviews sit above proposals).
# Reviewing adds two guards to them: a review round closes only when the call's minimum number of reviews is in,
# and nobody with a conflict of interest recommends or decides.


@rules.predicate
def has_enough_reviews(user, proposal) -> bool:
    from .models import Review

    if proposal is None:
        return False
    submitted = Review.objects.filter(
        assignment__proposal=proposal, is_current=True, state=ReviewState.SUBMITTED
    ).count()
    return submitted >= proposal.call.min_reviewers


def _proposals_of(obj):
    """The proposals an object of a permission check is about (a queryset): a proposal, a review, an assignment,
    an award, a run (every proposal it awards) or a claw-back checkpoint (every locked award of its call).
    ``None``: the object is about no proposal in particular (a page of a call), and the service checks each
    proposal it touches."""
    from portal.allocations.models import AllocationRun, Award, ClawbackCheckpoint
    from portal.proposals.models import Proposal

    from .models import Assignment, Review

    if isinstance(obj, Proposal):
        return Proposal.objects.filter(pk=obj.pk)
    if isinstance(obj, Assignment | Award):
        return Proposal.objects.filter(pk=obj.proposal_id)
    if isinstance(obj, Review):
        return Proposal.objects.filter(review_assignments__reviews=obj)
    if isinstance(obj, AllocationRun):
        return Proposal.objects.filter(awards__run=obj)
    if isinstance(obj, ClawbackCheckpoint):  # it takes hours from every locked award of its call
        return Proposal.objects.filter(awards__run__call_id=obj.call_id, awards__run__locked_at__isnull=False)
    return None


@rules.predicate
def is_free_of_conflict(user, obj) -> bool:
    """Issue 9 point 3: a conflicted official cannot act on the proposal (record or remove conflicts, assign
    reviewers, reopen reviews, record the consensus, screen, recommend, decide, adjust, lock or claw back its
    award). The person's conflicts in one query (a few rows), then, if there are any, whether the object's
    proposals include one of them: the object's proposals (a run's are thousands) are not each tested against
    every source of conflict."""
    from .conflicts import conflicted_ids

    proposals = _proposals_of(obj)
    if proposals is None:
        return True
    conflicted = conflicted_ids(user=user)
    return not conflicted or not proposals.filter(pk__in=conflicted).exists()


def _extend(name: str, predicate) -> None:
    rules.set_perm(name, rules.permissions.permissions[name] & predicate)


_extend("portal.proposals.close_review", has_enough_reviews)
for _name in (
    "portal.proposals.screen_proposal",
    "portal.proposals.close_review",
    "portal.proposals.recommend_proposal",
    "portal.proposals.decide_proposal",
    "portal.proposals.complete_proposal",
    "portal.reviews.assign_reviewers",
    "portal.reviews.reopen_review",
    "portal.reviews.extend_review_deadline",
    "portal.reviews.record_conflict",
    "portal.reviews.record_consensus",
    "portal.allocations.adjust_award",
    "portal.allocations.propose_lock",
    "portal.allocations.lock_allocation",
    "portal.allocations.manage_clawback",
):
    _extend(_name, is_free_of_conflict)
