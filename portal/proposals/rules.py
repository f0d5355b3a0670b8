"""Who may do what with a proposal (django-rules). The workflow table (``workflow.py``) names these
permissions; each carries its row's guard: who may act, and what must be true of the proposal."""

import rules

from portal.accounts.enums import Role
from portal.accounts.rules import is_applicant, is_chair, is_committee, is_email_verified, is_official, is_secretariat

from .enums import EDITABLE, WITHDRAWABLE
from .enums import ProposalState as S


@rules.predicate
def is_proposal_member(user, proposal) -> bool:
    """An applicant member of the proposal's organisation. Applicant rights (the proposal, its status notices,
    the review feedback, the response) come from an applicant membership only: a reviewer or an official who is
    affiliated with the organisation is not its applicant (issue 9 point 2)."""
    if proposal is None or not user.is_authenticated or user.role != Role.APPLICANT:
        return False
    # One request checks several permissions on one proposal (the view, the service, the workflow step): the
    # membership is read once per proposal as loaded (a request's own copy) and person. A proposal read through
    # selectors.proposals_visible_to for this person was read by the membership itself, in the same query.
    known = proposal.__dict__.setdefault("_members_known", {})
    if user.pk not in known:
        read_as_member = proposal.__dict__.get("read_as_member_by") == user.pk
        known[user.pk] = read_as_member or proposal.organisation.memberships.filter(user=user).exists()
    return known[user.pk]


@rules.predicate
def is_editable(user, proposal) -> bool:
    return proposal is not None and proposal.state in EDITABLE


@rules.predicate
def is_withdrawable(user, proposal) -> bool:
    return proposal is not None and proposal.state in WITHDRAWABLE


@rules.predicate
def is_reopenable(user, proposal) -> bool:
    """Submitted, not yet screened, and the call still open: the applicant may amend until the deadline."""
    return proposal is not None and proposal.state == S.SUBMITTED and proposal.call.is_open()


@rules.predicate
def is_being_amended(user, proposal) -> bool:
    return proposal is not None and proposal.state == S.AMENDING


@rules.predicate
def is_not_amended_before_deadline(user, proposal) -> bool:
    """Screening waits while the applicant amends before the deadline; after it, the last submitted version is
    screened."""
    return proposal is not None and (proposal.state != S.AMENDING or not proposal.call.is_open())


@rules.predicate
def is_submitted(user, proposal) -> bool:
    return proposal is not None and proposal.current_version_id is not None


@rules.predicate
def is_current_recommender(user, proposal) -> bool:
    """The four-eyes rule: whoever made the current recommendation may not decide on it."""
    if proposal is None or not user.is_authenticated:
        return False
    return proposal.recommendations.filter(is_current=True, recommended_by=user).exists()


@rules.predicate
def has_current_recommendation(user, proposal) -> bool:
    return proposal is not None and proposal.recommendations.filter(is_current=True).exists()


can_view_proposal = is_proposal_member | is_official
rules.add_perm("portal.proposals.view_proposal", can_view_proposal)
rules.add_perm("portal.proposals.create_proposal", is_applicant & is_email_verified)
rules.add_perm("portal.proposals.change_proposal", is_applicant & is_proposal_member & is_editable)
rules.add_perm("portal.proposals.submit_proposal", is_applicant & is_email_verified & is_proposal_member & is_editable)
rules.add_perm("portal.proposals.withdraw_proposal", is_applicant & is_proposal_member & is_withdrawable)
rules.add_perm("portal.proposals.download_attachment", can_view_proposal)
rules.add_perm(
    "portal.proposals.reopen_proposal", is_applicant & is_email_verified & is_proposal_member & is_reopenable
)
rules.add_perm("portal.proposals.keep_submitted_proposal", is_applicant & is_proposal_member & is_being_amended)
rules.add_perm("portal.proposals.screen_proposal", is_secretariat & is_submitted & is_not_amended_before_deadline)
# reviews/rules.py adds to close_review, recommend_proposal and decide_proposal: enough reviews in, no conflict.
rules.add_perm("portal.proposals.close_review", is_secretariat & is_submitted)
rules.add_perm("portal.proposals.recommend_proposal", is_committee & is_submitted)
rules.add_perm(
    "portal.proposals.decide_proposal", is_chair & is_submitted & has_current_recommendation & ~is_current_recommender
)
rules.add_perm("portal.proposals.complete_proposal", is_secretariat & is_submitted)
