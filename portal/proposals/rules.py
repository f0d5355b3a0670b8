"""Who may do what with a proposal (django-rules)."""

import rules

from portal.accounts.rules import is_applicant, is_email_verified, is_official, is_secretariat

from .enums import EDITABLE, WITHDRAWABLE


@rules.predicate
def is_proposal_member(user, proposal) -> bool:
    if proposal is None or not user.is_authenticated:
        return False
    return proposal.organisation.memberships.filter(user=user).exists()


@rules.predicate
def is_editable(user, proposal) -> bool:
    return proposal is not None and proposal.state in EDITABLE


@rules.predicate
def is_withdrawable(user, proposal) -> bool:
    return proposal is not None and proposal.state in WITHDRAWABLE


can_view_proposal = is_proposal_member | is_official
rules.add_perm("proposals.view_proposal", can_view_proposal)
rules.add_perm("proposals.create_proposal", is_applicant & is_email_verified)
rules.add_perm("proposals.change_proposal", is_applicant & is_proposal_member & is_editable)
rules.add_perm("proposals.submit_proposal", is_applicant & is_email_verified & is_proposal_member & is_editable)
rules.add_perm("proposals.withdraw_proposal", is_applicant & is_proposal_member & is_withdrawable)
rules.add_perm("proposals.download_attachment", can_view_proposal)
rules.add_perm("proposals.screen_proposal", is_secretariat)
