"""Proposals made with the real services, and one user per role."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.accounts.enums import Role
from portal.decisions import services as decisions
from portal.proposals import services
from portal.proposals.enums import ProposalState as S
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call
from tests.factories.proposals import AttachmentFactory, complete_draft
from tests.factories.reviews import reviews_submitted

ROLES = (
    "member",  # an applicant of the proposal's organisation
    "outsider",  # an applicant of another organisation
    Role.REVIEWER,
    Role.SECRETARIAT,
    Role.COMMITTEE_MEMBER,
    Role.COMMITTEE_CHAIR,
    Role.APPROVING_OFFICER,
    Role.AUDITOR,
)


@pytest.fixture
def call(db):
    return open_call()


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="University of Hong Kong")


@pytest.fixture
def applicant(organisation):
    return MembershipFactory(organisation=organisation, user__full_name="Dr Chan").user


@pytest.fixture
def users(applicant):
    """One user per role (applicants: a member of the proposal's organisation and an outsider)."""
    found = {"member": applicant, "outsider": MembershipFactory(organisation=OrganisationFactory()).user}
    for role in ROLES[2:]:
        found[role] = UserFactory(role=role, full_name=f"{role.label} Wong")
    return found


@pytest.fixture
def secretariat(users):
    return users[Role.SECRETARIAT]


@pytest.fixture
def member(users):
    return users[Role.COMMITTEE_MEMBER]


@pytest.fixture
def chair(users):
    return users[Role.COMMITTEE_CHAIR]


def make_submitted(call, organisation, applicant, **draft_overrides):
    proposal = services.proposal_create(call=call, organisation=organisation, user=applicant)
    services.proposal_save_draft(proposal=proposal, raw=complete_draft(call, **draft_overrides), user=applicant)
    AttachmentFactory(proposal=proposal, uploaded_by=applicant)
    services.proposal_submit(proposal=proposal, user=applicant)
    proposal.refresh_from_db()
    return proposal


def advance(proposal, target, *, secretariat, member):
    """Take a submitted proposal along the workflow with the real services until it is in ``target``."""
    path = {
        S.SCREENING: [("start_screening", secretariat)],
        S.IN_REVIEW: [("start_screening", secretariat), ("screen", secretariat)],
        S.REVIEWED: [("start_screening", secretariat), ("screen", secretariat), ("close_review", secretariat)],
        S.RECOMMENDED: [
            ("start_screening", secretariat),
            ("screen", secretariat),
            ("close_review", secretariat),
            ("recommend", member),
        ],
    }[target]
    for step, actor in path:
        if step == "screen":
            items = decisions.screening_checklist_ensure(call=proposal.call)
            decisions.screening_record(proposal=proposal, actor=actor, answers={i.pk: True for i in items})
        elif step == "close_review":
            reviews_submitted(proposal, secretariat=secretariat)
            services.proposal_transition(proposal=proposal, action=step, actor=actor)
        elif step == "recommend":
            hours = {(r.pool_id, r.quarter_id): r.gpu_hours for r in proposal.current_version.compute_requests.all()}
            decisions.recommendation_make(
                proposal=proposal, actor=actor, recommended=True, hours=hours, conditions="Publish the weights."
            )
        else:
            services.proposal_transition(proposal=proposal, action=step, actor=actor)
    proposal.refresh_from_db()
    return proposal


@pytest.fixture
def submitted(call, organisation, applicant):
    return make_submitted(call, organisation, applicant)


@pytest.fixture
def recommended(submitted, secretariat, member):
    return advance(submitted, S.RECOMMENDED, secretariat=secretariat, member=member)


@pytest.fixture
def soon():
    return timezone.now() + timedelta(days=7)
