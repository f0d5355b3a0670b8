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


def test_conflicted_in_call_ids_same_rule_as_the_query_filter(call):
    """The page-sized UNION query and the filter every other page uses must agree, source by source, and keep to
    the call (and, when asked, to submitted proposals)."""
    from portal.proposals import services as proposal_services
    from portal.proposals.models import Proposal
    from portal.reviews.conflicts import conflicted_in_call_ids, conflicted_q
    from tests.factories.calls import open_call

    lead, co_org, recent, old, requested = (OrganisationFactory() for _ in range(5))
    by_lead = submitted_proposal(call, organisation=lead)
    by_co = submitted_proposal(call, co_organisations=[co_org])
    by_recent = submitted_proposal(call, organisation=recent)
    by_old = submitted_proposal(call, organisation=old)
    by_requested = submitted_proposal(call, organisation=requested)
    declared_on = submitted_proposal(call)
    submitted_proposal(call)  # no conflict
    other_call = submitted_proposal(open_call(reference="AISS-2099-02"), organisation=lead)
    draft = proposal_services.proposal_create(
        call=call, organisation=lead, user=MembershipFactory(organisation=lead).user
    )
    official = UserFactory(role=Role.SECRETARIAT)

    member = UserFactory(role=Role.COMMITTEE_MEMBER)
    MembershipFactory(user=member, organisation=lead)
    co_reviewer = ReviewerProfileFactory(organisation=co_org).user
    collaborator = ReviewerProfileFactory().user
    CollaborationFactory(user=collaborator, organisation=recent, last_year=timezone.localtime().year - 1)
    CollaborationFactory(user=collaborator, organisation=old, last_year=timezone.localtime().year - 5)
    asking = ReviewerProfileFactory(organisation_requested=requested).user
    declarer = ReviewerProfileFactory().user
    Declaration.objects.create(
        proposal=declared_on, user=declarer, conflicted=True, reason="Former student", recorded_by=official
    )
    expected = {
        member: {by_lead.pk, draft.pk},
        co_reviewer: {by_co.pk},
        collaborator: {by_recent.pk},
        asking: {by_requested.pk},
        declarer: {declared_on.pk},
        official: set(),
    }

    for user, ids in expected.items():
        by_filter = set(Proposal.objects.filter(conflicted_q(user), call=call).values_list("pk", flat=True))
        assert conflicted_in_call_ids(user=user, call_id=call.pk) == by_filter == ids, user
        assert conflicted_in_call_ids(user=user, call_id=call.pk, submitted_only=True) == ids - {draft.pk}
    assert other_call.pk not in conflicted_in_call_ids(user=member, call_id=call.pk)
    assert by_old.pk not in conflicted_in_call_ids(user=collaborator, call_id=call.pk)


def test_conflicted_in_call_ids_counts_collaborations_of_the_last_three_years_only(call):
    """The query compiled once (portal/reviews/conflicts._conflicted_rows_sql) takes this year and this person."""
    from portal.reviews.conflicts import conflicted_in_call_ids

    year = timezone.localtime().year
    recent, old = OrganisationFactory(), OrganisationFactory()
    by_recent, by_old = submitted_proposal(call, organisation=recent), submitted_proposal(call, organisation=old)
    first, second = ReviewerProfileFactory().user, ReviewerProfileFactory().user
    CollaborationFactory(user=first, organisation=recent, last_year=year - 3)
    CollaborationFactory(user=first, organisation=old, last_year=year - 4)
    CollaborationFactory(user=second, organisation=old, last_year=year)
    assert conflicted_in_call_ids(user=first, call_id=call.pk) == {by_recent.pk}
    assert conflicted_in_call_ids(user=second, call_id=call.pk) == {by_old.pk}
