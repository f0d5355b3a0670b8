"""Who may do what in reviewing (django-rules)."""

import rules

from portal.accounts.rules import is_auditor, is_committee, is_reviewer, is_secretariat
from portal.proposals.rules import is_proposal_member

from .enums import ACTIVE_ASSIGNMENT, AssignmentStatus, ReviewState


@rules.predicate
def is_own_assignment(user, assignment) -> bool:
    return assignment is not None and assignment.reviewer_id == user.pk and assignment.status in ACTIVE_ASSIGNMENT


@rules.predicate
def has_declared_no_conflict(user, assignment) -> bool:
    return assignment is not None and assignment.status == AssignmentStatus.ACCEPTED


rules.add_perm("reviews.view_own_assignments", is_reviewer)
rules.add_perm("reviews.change_own_profile", is_reviewer)
rules.add_perm("reviews.view_assignment", is_reviewer & is_own_assignment)
rules.add_perm("reviews.declare_interest", is_reviewer & is_own_assignment)
rules.add_perm("reviews.review_proposal", is_reviewer & is_own_assignment & has_declared_no_conflict)
rules.add_perm("reviews.assign_reviewers", is_secretariat)
rules.add_perm("reviews.reopen_review", is_secretariat)
rules.add_perm("reviews.record_conflict", is_secretariat | is_committee)
rules.add_perm("reviews.view_ranking", is_committee | is_secretariat | is_auditor)
rules.add_perm("reviews.record_consensus", is_committee)
rules.add_perm("reviews.committee_declare", is_committee)
rules.add_perm("reviews.respond_to_reviews", is_proposal_member)


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


@rules.predicate
def is_conflicted_with(user, proposal) -> bool:
    from .selectors import is_conflicted

    return proposal is not None and is_conflicted(user=user, proposal=proposal)


def _extend(name: str, predicate) -> None:
    rules.set_perm(name, rules.permissions.permissions[name] & predicate)


_extend("proposals.close_review", has_enough_reviews)
_extend("proposals.recommend_proposal", ~is_conflicted_with)
_extend("proposals.decide_proposal", ~is_conflicted_with)
