import pytest

from portal.accounts.enums import Role
from tests.factories import UserFactory, open_call


@pytest.fixture
def call(db):
    """An open call with the H800 pool (1,300,000 GPU-hours a quarter, 10% held back: 1,170,000 awardable)."""
    return open_call()


@pytest.fixture
def officer(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Mr Lau Chi Keung")


@pytest.fixture
def chair(db):
    return UserFactory(role=Role.COMMITTEE_CHAIR)


@pytest.fixture
def auditor(db):
    return UserFactory(role=Role.AUDITOR)
