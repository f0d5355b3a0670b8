import pytest

from portal.proposals import services
from tests.factories import MembershipFactory, OrganisationFactory, ProposalFactory, UserFactory, open_call
from tests.factories.proposals import AttachmentFactory, complete_draft


@pytest.fixture
def call(db):
    return open_call()


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="University of Hong Kong")


@pytest.fixture
def applicant(organisation):
    return MembershipFactory(organisation=organisation).user


@pytest.fixture
def outsider(db):
    """An applicant of another organisation."""
    return MembershipFactory(organisation=OrganisationFactory(name="Other University")).user


@pytest.fixture
def draft(call, organisation, applicant):
    return services.proposal_create(call=call, organisation=organisation, user=applicant)


@pytest.fixture
def ready_draft(draft, call, applicant):
    """A draft with every section complete and the technical proposal attached."""
    services.proposal_save_draft(proposal=draft, raw=complete_draft(call), user=applicant)
    AttachmentFactory(proposal=draft, uploaded_by=applicant)
    return draft


@pytest.fixture
def submitted(ready_draft, applicant):
    services.proposal_submit(proposal=ready_draft, user=applicant)
    ready_draft.refresh_from_db()
    return ready_draft


__all__ = ["ProposalFactory", "UserFactory"]
