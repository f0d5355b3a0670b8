import pytest

from portal.accounts.enums import Role
from portal.reviews import services
from tests.factories import OrganisationFactory, UserFactory, open_call
from tests.factories.reviews import ReviewerProfileFactory, submitted_proposal


@pytest.fixture
def call(db):
    return open_call()


@pytest.fixture
def secretariat(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Officer Wong")


@pytest.fixture
def member(db):
    return UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Lee")


@pytest.fixture
def reviewer(db):
    return ReviewerProfileFactory(user__full_name="Dr Reviewer One").user


@pytest.fixture
def reviewer2(db):
    return ReviewerProfileFactory(user__full_name="Dr Reviewer Two").user


@pytest.fixture
def proposal(call):
    return submitted_proposal(call, organisation=OrganisationFactory(name="University of Hong Kong"))


@pytest.fixture
def assign(secretariat):
    def _assign(proposal, reviewer, *, declare=True):
        assignment = services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
        if declare:
            services.assignment_declare(assignment=assignment, user=reviewer, conflicted=False)
        return assignment

    return _assign


def scores_input(*values, recommendation="fund", applicant="Clear plan.", committee="Strong team."):
    """A complete ReviewInput: one score per criterion (numbers 1..n)."""
    return services.ReviewInput(
        scores={i: (v, f"Comment {i}") for i, v in enumerate(values, start=1)},
        recommendation=recommendation,
        comments_applicant=applicant,
        comments_committee=committee,
    )


@pytest.fixture
def review(assign):
    """Assign, declare and submit a review with the same score on every criterion (or the given ones)."""

    def _review(proposal, reviewer, *values):
        assignment = assign(proposal, reviewer)
        values = values if len(values) == 5 else values * 5
        return services.review_submit(assignment=assignment, user=reviewer, data=scores_input(*values))

    return _review
