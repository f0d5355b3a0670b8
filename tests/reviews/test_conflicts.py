import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.accounts.enums import Role
from portal.notifications.models import Notification
from portal.reviews import selectors, services
from portal.reviews.enums import AssignmentStatus
from portal.reviews.models import Declaration
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.reviews import CollaborationFactory, ReviewerProfileFactory, submitted_proposal

pytestmark = pytest.mark.integration


def test_conflict_same_organisation_as_lead_through_profile(call, proposal):
    reviewer = ReviewerProfileFactory(organisation=proposal.organisation).user
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is True


def test_conflict_same_organisation_as_lead_through_membership(call, proposal):
    reviewer = ReviewerProfileFactory().user
    MembershipFactory(user=reviewer, organisation=proposal.organisation)
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is True


def test_conflict_co_applicant_organisation(call):
    co_org = OrganisationFactory(name="Chinese University of Hong Kong")
    proposal = submitted_proposal(call, co_organisations=[co_org])
    reviewer = ReviewerProfileFactory(organisation=co_org).user
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is True


def test_conflict_collaboration_within_three_years(call, proposal):
    reviewer = ReviewerProfileFactory().user
    CollaborationFactory(user=reviewer, organisation=proposal.organisation, last_year=timezone.localtime().year - 3)
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is True


def test_no_conflict_collaboration_older_than_three_years(call, proposal):
    reviewer = ReviewerProfileFactory().user
    CollaborationFactory(user=reviewer, organisation=proposal.organisation, last_year=timezone.localtime().year - 4)
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is False


def test_no_conflict_other_organisation(call, proposal, reviewer):
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is False


def test_conflict_committee_member_of_the_lead_organisation(call, proposal):
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    MembershipFactory(user=chair, organisation=proposal.organisation)
    assert selectors.is_conflicted(user=chair, proposal=proposal) is True


def test_manual_assignment_refused_on_conflict(call, proposal, secretariat):
    reviewer = ReviewerProfileFactory(organisation=proposal.organisation).user
    with pytest.raises(ValidationError) as exc:
        services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    assert exc.value.message_dict == {
        "reviewer": ["Conflict of interest: Same organisation as the applicant or a co-applicant"]
    }


def test_declared_conflict_removes_assignment_and_tells_secretariat(call, proposal, reviewer, secretariat):
    assignment = services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    services.assignment_declare(assignment=assignment, user=reviewer, conflicted=True, reason="My former student")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CONFLICTED
    assert selectors.is_conflicted(user=reviewer, proposal=proposal) is True
    assert list(Notification.objects.filter(user=secretariat).values_list("message", flat=True)) == [
        f"Dr Reviewer One has a conflict of interest on {proposal.reference}: My former student"
    ]


def test_declared_conflict_needs_a_reason(call, proposal, reviewer, secretariat):
    assignment = services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    with pytest.raises(ValidationError) as exc:
        services.assignment_declare(assignment=assignment, user=reviewer, conflicted=True, reason=" ")
    assert exc.value.message_dict == {"reason": ["Say what the conflict is."]}


def test_official_records_conflict_and_assignment_is_removed(call, proposal, reviewer, secretariat, assign):
    assignment = assign(proposal, reviewer)
    services.conflict_record(proposal=proposal, user=reviewer, reason="Co-author in 2025", actor=secretariat)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CONFLICTED
    assert Declaration.objects.get(proposal=proposal, user=reviewer).conflicted is True


def test_recorded_conflict_cannot_be_declared_away(call, proposal, member, secretariat):
    services.conflict_record(proposal=proposal, user=member, reason="Board member", actor=secretariat)
    with pytest.raises(ValidationError):
        services.committee_declare(proposal=proposal, user=member, conflicted=False)
    assert selectors.is_conflicted(user=member, proposal=proposal) is True
