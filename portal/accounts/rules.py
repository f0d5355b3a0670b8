"""Role predicates (django-rules). Other apps combine these with their own object predicates."""

import rules

from .enums import Role


def _has_role(*roles: str):
    def predicate(user) -> bool:
        return bool(user and user.is_authenticated and user.is_active and user.role in roles)

    return predicate


is_applicant = rules.predicate(_has_role(Role.APPLICANT), name="is_applicant")
is_reviewer = rules.predicate(_has_role(Role.REVIEWER), name="is_reviewer")
is_secretariat = rules.predicate(_has_role(Role.SECRETARIAT), name="is_secretariat")
is_committee_member = rules.predicate(_has_role(Role.COMMITTEE_MEMBER), name="is_committee_member")
is_chair = rules.predicate(_has_role(Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER), name="is_chair")
is_committee = rules.predicate(
    _has_role(Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER), name="is_committee"
)
is_auditor = rules.predicate(_has_role(Role.AUDITOR), name="is_auditor")
is_official = is_secretariat | is_committee | is_auditor


@rules.predicate
def is_active_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


@rules.predicate
def is_email_verified(user) -> bool:
    return bool(user and user.is_authenticated and user.email_verified_at is not None)


@rules.predicate
def is_org_member(user, organisation) -> bool:
    if organisation is None or not user.is_authenticated:
        return False
    return organisation.memberships.filter(user=user).exists()


@rules.predicate
def is_org_admin(user, organisation) -> bool:
    if organisation is None or not user.is_authenticated:
        return False
    return organisation.memberships.filter(user=user, role="admin").exists()


rules.add_perm("portal.accounts.create_organisation", is_applicant & is_email_verified)
rules.add_perm("portal.accounts.view_organisation", is_org_member | is_official)
rules.add_perm("portal.accounts.invite_to_organisation", is_applicant & is_org_member)
rules.add_perm("portal.accounts.accept_invitation", is_applicant & is_email_verified)
rules.add_perm("portal.accounts.ask_to_join_organisation", is_applicant & is_email_verified)
rules.add_perm("portal.accounts.decide_join_request", is_applicant & is_org_admin)
# Personal data (PDPO): everyone signed in sees, downloads and may ask to erase their own; the secretariat decides.
# In the portal.<app> namespace, so that no name answers for a Django model permission.
rules.add_perm("portal.accounts.view_own_data", is_active_user)
rules.add_perm("portal.accounts.request_erasure", is_active_user)
rules.add_perm("portal.accounts.manage_erasure", is_secretariat)
# Sign-in security: unlock an account or address, reset a person's second factor (a lost phone).
rules.add_perm("portal.accounts.manage_sign_in", is_secretariat)
