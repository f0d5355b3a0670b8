import pytest

from tests.factories.accounts import MembershipFactory, UserFactory


@pytest.fixture
def applicant(db):
    return UserFactory(email="applicant@example.hk", full_name="Chan Tai Man")


@pytest.fixture
def member(db):
    """An applicant who administers an organisation."""
    return MembershipFactory(user__email="admin@example.hk", organisation__name="Lion Rock University")
