import pytest

from portal.accounts.enums import Role
from portal.proposals import services
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.proposals import AttachmentFactory, complete_draft
from tests.factories.reports import report_call


@pytest.fixture
def rc(db):
    """A call with ten submitted proposals: five approved (funded), two not approved, one waiting, one
    ineligible, one withdrawn; reviews, recommendations, decisions and a locked allocation."""
    return report_call(10)


@pytest.fixture
def officer(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Ms Lau Mei Ling")


@pytest.fixture
def auditor(db):
    return UserFactory(role=Role.AUDITOR)


# ---- A proposal submitted through the real services (the pattern of tests/proposals/conftest.py) -----------------


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="University of Hong Kong")


@pytest.fixture
def applicant(organisation):
    return MembershipFactory(organisation=organisation).user


@pytest.fixture
def submitted(rc, organisation, applicant):
    """A proposal of the report call, submitted with the real services and not yet decided."""
    draft = services.proposal_create(call=rc.call, organisation=organisation, user=applicant)
    services.proposal_save_draft(proposal=draft, raw=complete_draft(rc.call), user=applicant)
    AttachmentFactory(proposal=draft, uploaded_by=applicant)
    services.proposal_submit(proposal=draft, user=applicant)
    draft.refresh_from_db()
    return draft
