"""Who may do what in reviewing (django-rules)."""

import rules

from portal.accounts.rules import is_auditor, is_committee, is_reviewer, is_secretariat
from portal.proposals.rules import is_proposal_member

from .enums import ACTIVE_ASSIGNMENT, AssignmentStatus


@rules.predicate
def is_own_assignment(user, assignment) -> bool:
    return assignment is not None and assignment.reviewer_id == user.pk and assignment.status in ACTIVE_ASSIGNMENT


@rules.predicate
def has_declared_no_conflict(user, assignment) -> bool:
    return assignment is not None and assignment.status == AssignmentStatus.ACCEPTED


rules.add_perm("reviews.view_own_assignments", is_reviewer)
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
