"""Issue 9 points 1-3: a conflict never leaks and a conflicted official cannot act; applicant membership is not
reviewer affiliation; the auditor changes nothing."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from portal.accounts.enums import Role
from portal.allocations import services as allocation_services
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.reports import services as report_services
from portal.reviews import services
from portal.reviews.enums import AssignmentStatus
from portal.reviews.models import Assignment, ReviewerProfile
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.allocations import allocatable_proposal
from tests.factories.reviews import CollaborationFactory, ReviewerProfileFactory, reviews_submitted, submitted_proposal

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

WITHHELD = "withheld — conflict of interest"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def two_projects(call):
    """Two approved projects with distinctive committee scores; a run of the call awards both."""
    mine = allocatable_proposal(call, hours={("h800", "2026Q1"): 300_000}, score="4.37", reference="AISS-2026-0901")
    other = allocatable_proposal(call, hours={("h800", "2026Q1"): 300_000}, score="3.21", reference="AISS-2026-0902")
    return mine, other


@pytest.fixture
def run(call, secretariat, two_projects, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = allocation_services.allocation_run_start(call=call, policy="rank", actor=secretariat)
    run.refresh_from_db()
    return run


def conflicted_on(proposal, role=Role.COMMITTEE_MEMBER, **kwargs):
    """An official with an automatic conflict: a collaboration with the applicant's organisation this year."""
    user = UserFactory(role=role, **kwargs)
    CollaborationFactory(user=user, organisation=proposal.organisation, last_year=2026)
    return user


# ---- 1. A conflict never leaks ------------------------------------------------------------------------------


def test_run_page_withholds_the_conflicted_proposal_and_puts_it_last(client, run, two_projects, member):
    mine, _other = two_projects
    conflicted = conflicted_on(mine)

    client.force_login(conflicted)
    page = text(client.get(reverse("allocations:run", args=[run.pk])))

    assert "4.37" not in page
    assert "3.21" in page
    # Its row, and the run's score-weighted value (a sum over the scores, its own included).
    assert page.count(WITHHELD) == 2
    assert "Score-weighted value" in page
    assert page.index("AISS-2026-0902") < page.index("AISS-2026-0901")
    client.force_login(member)
    assert "4.37" in text(client.get(reverse("allocations:run", args=[run.pk])))


def test_problem_json_is_refused_to_a_conflicted_official(client, run, two_projects, member):
    conflicted = conflicted_on(two_projects[0])

    client.force_login(conflicted)
    assert client.get(reverse("allocations:run_inputs", args=[run.pk])).status_code == 403
    client.force_login(member)
    response = client.get(reverse("allocations:run_inputs", args=[run.pk]))
    assert response.status_code == 200
    assert "4.37" in response.content.decode()


def test_run_comparison_is_a_copy_with_the_proposal_withheld(client, call, run, two_projects):
    conflicted = conflicted_on(two_projects[0])

    client.force_login(conflicted)
    page = text(client.get(reverse("allocations:compare", args=[call.pk]), {"runs": [run.pk]}))

    assert "3.21" in page
    assert "4.37" not in page
    assert page.count(WITHHELD) == 2  # its row and the run's score-weighted value


def test_approval_report_and_exports_are_refused_to_a_conflicted_official(client, call, two_projects):
    conflicted = conflicted_on(two_projects[0])
    client.force_login(conflicted)

    assert client.post(reverse("reports:approval_report", args=[call.pk]), {"language": "en"}).status_code == 403
    assert client.get(reverse("reports:call_export", args=[call.pk, "ranking", "csv"])).status_code == 403
    with pytest.raises(PermissionDenied):
        report_services.approval_report_request(call=call, language="en", actor=conflicted)


def test_conflicted_official_cannot_open_the_proposal_or_its_project(client, two_projects, member):
    mine, _other = two_projects
    conflicted = conflicted_on(mine, role=Role.SECRETARIAT)
    client.force_login(conflicted)

    assert client.get(reverse("proposals:detail", args=[mine.pk])).status_code == 404
    assert client.get(reverse("projects:project", args=[mine.pk])).status_code == 404
    client.force_login(member)
    assert client.get(reverse("proposals:detail", args=[mine.pk])).status_code == 200


def test_status_notices_skip_the_conflicted_official(call, django_capture_on_commit_callbacks):
    organisation = OrganisationFactory()
    free = UserFactory(role=Role.SECRETARIAT)
    conflicted = UserFactory(role=Role.SECRETARIAT)
    CollaborationFactory(user=conflicted, organisation=organisation, last_year=2026)

    with django_capture_on_commit_callbacks(execute=True):
        proposal = submitted_proposal(call, organisation=organisation)

    assert Notification.objects.filter(user=free, url__contains=f"/{proposal.pk}/").exists()
    assert not Notification.objects.filter(user=conflicted).exists()


# ---- 2. Applicant membership is not reviewer affiliation -------------------------------------------------------


def test_a_reviewer_with_a_membership_gets_no_applicant_rights(
    client, call, secretariat, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    affiliated = ReviewerProfileFactory().user
    MembershipFactory(user=affiliated, organisation=organisation)
    applicant = MembershipFactory(organisation=organisation, user=UserFactory(role=Role.APPLICANT)).user
    proposal = submitted_proposal(call, organisation=organisation)
    with django_capture_on_commit_callbacks(execute=True):
        reviews_submitted(proposal, secretariat=secretariat)

    assert Notification.objects.filter(user=applicant, url=reverse("reviews:feedback", args=[proposal.pk])).exists()
    assert not Notification.objects.filter(user=affiliated).exists()
    client.force_login(affiliated)
    assert client.get(reverse("reviews:feedback", args=[proposal.pk])).status_code == 404
    assert client.post(reverse("reviews:feedback", args=[proposal.pk]), {"text": "Rebuttal"}).status_code == 404
    with pytest.raises(PermissionDenied):
        services.response_submit(proposal=proposal, user=affiliated, text="Rebuttal")
    client.force_login(applicant)
    assert client.get(reverse("reviews:feedback", args=[proposal.pk])).status_code == 200


def test_a_reviewer_only_asks_for_an_affiliation_the_secretariat_confirms(call, secretariat, assign):
    old, new = OrganisationFactory(name="Old University"), OrganisationFactory(name="New University")
    reviewer = ReviewerProfileFactory(organisation=old).user
    proposal = submitted_proposal(call, organisation=new)
    assignment = assign(proposal, reviewer)

    services.reviewer_profile_save(user=reviewer, organisation=None, expertise=[], max_per_call=6, available=True)
    profile = ReviewerProfile.objects.get(user=reviewer)
    # Leaving an organisation waits for the secretariat: the old one still counts in conflicts.
    assert (profile.organisation_id, profile.organisation_change_pending) == (old.pk, True)

    services.reviewer_profile_save(user=reviewer, organisation=new, expertise=[], max_per_call=6, available=True)
    profile.refresh_from_db()
    # Joining one counts at once: the conflict checks ran again and removed the assignment.
    assert (profile.organisation_id, profile.organisation_requested_id) == (old.pk, new.pk)
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.CONFLICTED
    assert AuditEvent.objects.filter(action="review.conflict_found", object_id=str(proposal.pk)).count() == 1

    with pytest.raises(PermissionDenied):
        services.reviewer_affiliation_confirm(profile=profile, organisation=new, actor=reviewer)
    services.reviewer_affiliation_confirm(profile=profile, organisation=new, actor=secretariat)
    profile.refresh_from_db()
    assert (profile.organisation_id, profile.organisation_requested_id, profile.organisation_change_pending) == (
        new.pk,
        None,
        False,
    )
    assert profile.organisation_confirmed_by == secretariat
    entry = AuditEvent.objects.filter(action="reviewer_profile.affiliation_confirm").get()
    assert (entry.before["organisation"], entry.after["organisation"]) == (old.pk, new.pk)


def test_secretariat_confirms_affiliations_on_a_page(client, secretariat):
    new = OrganisationFactory(name="Hong Kong Institute of Testing")
    reviewer = ReviewerProfileFactory(user__full_name="Dr Pending Change").user
    services.reviewer_profile_save(user=reviewer, organisation=new, expertise=[], max_per_call=6, available=True)
    profile = ReviewerProfile.objects.get(user=reviewer)
    client.force_login(secretariat)

    page = text(client.get(reverse("reviews:affiliations")))
    assert "Dr Pending Change" in page
    assert "Hong Kong Institute of Testing" in page

    response = client.post(reverse("reviews:affiliation_confirm", args=[profile.pk]), {"action": "confirm"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.organisation_id, profile.organisation_change_pending) == (new.pk, False)
    client.force_login(reviewer)
    assert client.get(reverse("reviews:affiliations")).status_code == 403


# ---- 3. A conflicted official cannot act on the proposal -------------------------------------------------------


def test_conflicted_committee_member_cannot_strip_a_review(call, proposal, secretariat, review, reviewer):
    review(proposal, reviewer, 4)
    conflicted = conflicted_on(proposal)

    with pytest.raises(PermissionDenied):
        services.conflict_record(proposal=proposal, user=reviewer, reason="Says so", actor=conflicted)
    assert Assignment.objects.get(proposal=proposal, reviewer=reviewer).status == AssignmentStatus.ACCEPTED
    free = UserFactory(role=Role.COMMITTEE_MEMBER)
    services.conflict_record(proposal=proposal, user=reviewer, reason="Co-author", actor=free)
    assert Assignment.objects.get(proposal=proposal, reviewer=reviewer).status == AssignmentStatus.CONFLICTED


def test_conflicted_secretariat_cannot_assign_reopen_or_auto_assign(call, proposal, reviewer, reviewer2, review):
    submitted = review(proposal, reviewer, 4)
    conflicted = conflicted_on(proposal, role=Role.SECRETARIAT)

    with pytest.raises(PermissionDenied):
        services.assignment_create(proposal=proposal, reviewer=reviewer2, actor=conflicted)
    with pytest.raises(PermissionDenied):
        services.review_reopen(review=submitted, actor=conflicted, reason="Again")
    with pytest.raises(ValidationError, match="conflict of interest"):
        services.assignment_auto(call=call, actor=conflicted)
    assert conflicted.has_perm("portal.proposals.screen_proposal", proposal) is False


def test_conflicted_officials_cannot_adjust_propose_or_lock(run, two_projects, secretariat):
    mine, _other = two_projects
    conflicted_officer = conflicted_on(mine, role=Role.SECRETARIAT)
    conflicted_chair = conflicted_on(mine, role=Role.COMMITTEE_CHAIR)
    award = run.awards.get(proposal=mine)
    fingerprint = allocation_services.lock_fingerprint(allocation_services.lock_totals(run))

    with pytest.raises(PermissionDenied):
        allocation_services.award_adjust(
            award=award,
            hours={c.pk: 1 for c in award.hours.all()},
            reason="x",
            limit_reason="",
            actor=conflicted_officer,
        )
    with pytest.raises(PermissionDenied):
        allocation_services.allocation_lock_propose(run=run, actor=conflicted_officer, confirmed=fingerprint)
    allocation_services.allocation_lock_propose(run=run, actor=secretariat, confirmed=fingerprint)
    with pytest.raises(PermissionDenied):
        allocation_services.allocation_lock(call=run.call, run=run, actor=conflicted_chair, confirmed=fingerprint)
    run.refresh_from_db()
    assert run.locked_at is None


def test_the_auditor_starts_no_report_job(client, call):
    auditor = UserFactory(role=Role.AUDITOR)
    client.force_login(auditor)

    assert client.post(reverse("reports:approval_report", args=[call.pk]), {"language": "en"}).status_code == 403
    with pytest.raises(PermissionDenied):
        report_services.approval_report_request(call=call, language="en", actor=auditor)
    page = text(client.get(reverse("reports:call", args=[call.pk])))
    assert "Generate the approval report" not in page


def test_a_conflicted_officer_is_not_told_who_declared_a_conflict(proposal, reviewer, assign, secretariat):
    conflicted = conflicted_on(proposal, role=Role.SECRETARIAT)
    assignment = assign(proposal, reviewer, declare=False)

    services.assignment_declare(assignment=assignment, user=reviewer, conflicted=True, reason="My former student")

    assert Notification.objects.filter(user=secretariat, message__contains="My former student").count() == 1
    assert not Notification.objects.filter(user=conflicted).exists()
