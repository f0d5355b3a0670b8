"""Work waiting: each staff role sees what waits for it, each item linking to where it is done, in a fixed number
of queries."""

import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.accounts.enums import Role
from portal.allocations.models import AllocationRun, RunStatus
from portal.projects.enums import ReportState
from portal.projects.models import ProgressReport
from portal.projects.progress import progress_report_schedule
from portal.proposals.enums import ProposalState as S
from portal.reviews.enums import AssignmentStatus
from portal.reviews.models import Assignment
from tests.factories import UserFactory, open_call
from tests.factories.allocations import allocatable_proposal
from tests.factories.decisions import ClarificationRequestFactory, RecommendationFactory
from tests.factories.reviews import CallReviewSettingsFactory
from tests.projects.conftest import locked_project

pytestmark = pytest.mark.django_db
_accounts = itertools.count(1)


@pytest.fixture
def call():
    call = open_call(reference="aiss-work")
    CallReviewSettingsFactory(call=call, review_deadline=timezone.now() - timedelta(days=1))
    return call


def make_work(call, n: int, *, reviewer, officer):
    """``n`` of each kind of work."""
    for _i in range(n):
        allocatable_proposal(call, state=S.SCREENING, score=None)
        asked = allocatable_proposal(call, state=S.CLARIFICATION_REQUESTED, score=None)
        now = timezone.now()
        ClarificationRequestFactory(
            proposal=asked, requested_at=now - timedelta(days=20), due_at=now - timedelta(days=6)
        )
        short = allocatable_proposal(call, state=S.IN_REVIEW, score=None)
        Assignment.objects.create(
            proposal=short, reviewer=reviewer, assigned_by=officer, status=AssignmentStatus.ACCEPTED
        )
        RecommendationFactory(proposal=allocatable_proposal(call, state=S.RECOMMENDED))
        allocatable_proposal(call, state=S.REVIEWED)
        AllocationRun.objects.create(
            call=call,
            policy="rank",
            inputs={},
            status=RunStatus.SUCCEEDED,
            started_by=officer,
            lock_proposed_at=timezone.now(),
            lock_proposed_by=officer,
        )
        # Progress reports: one submitted (to screen), one screened by ``officer`` (to accept), one overdue.
        for state in (ReportState.SUBMITTED, ReportState.RECOMMENDED, ReportState.DUE):
            project = locked_project(call, account=f"aiss-w{next(_accounts)}", hours={("h800", "2026Q1"): 10})
            progress_report_schedule(award=project.awards.get())
            ProgressReport.objects.filter(proposal=project).update(
                state=state, screened_by=officer if state == ReportState.RECOMMENDED else None
            )


def kinds(response) -> dict[str, list]:
    return {kind.key: kind for kind in response.context["kinds"]}


def test_secretariat_sees_screening_clarifications_reviewers_and_late_reviews(client, call):
    officer = UserFactory(role=Role.SECRETARIAT)
    reviewer = UserFactory(role=Role.REVIEWER, full_name="Dr Lam Ka Yan")
    make_work(call, 1, reviewer=reviewer, officer=officer)
    client.force_login(officer)
    response = client.get(reverse("decisions:work"))
    found = kinds(response)
    assert list(found) == [
        "screening",
        "clarifications",
        "reviewers",
        "late_reviews",
        "locks_to_propose",
        "changes_to_recommend",
        "changes_to_approve",
        "reports_to_screen",
        "reports_overdue",
    ]
    screening = found["screening"].items[0]
    assert screening.url.endswith("/screen/")
    clarification = found["clarifications"].items[0]
    assert clarification.overdue is True
    assert found["reviewers"].items[0].detail == "1 of 3 reviewers assigned"
    assert found["reviewers"].items[0].url == reverse("reviews:call_assignments", args=[call.pk])
    assert found["late_reviews"].items[0].detail == "Dr Lam Ka Yan"
    assert found["locks_to_propose"].total == 0  # the only run's lock is already proposed
    to_screen = ProgressReport.objects.get(state=ReportState.SUBMITTED)
    assert found["reports_to_screen"].items[0].url == reverse("projects:report", args=[to_screen.pk])
    overdue = found["reports_overdue"].items[0]
    assert (overdue.overdue, overdue.detail) == (True, "Progress report 1, due 2026-04-30")
    html = response.content.decode()
    assert screening.url in html
    assert "Late reviews" in html
    assert "Progress reports overdue (further tranches held)" in html


def test_chair_sees_recommendations_decisions_and_locks_to_approve(client, call):
    officer = UserFactory(role=Role.SECRETARIAT)
    make_work(call, 1, reviewer=UserFactory(role=Role.REVIEWER), officer=officer)
    client.force_login(UserFactory(role=Role.COMMITTEE_CHAIR))
    found = kinds(client.get(reverse("decisions:work")))
    assert list(found) == ["recommendations", "decisions", "locks", "changes_to_approve", "reports_to_accept"]
    recommended = ProgressReport.objects.get(state=ReportState.RECOMMENDED)
    assert found["reports_to_accept"].items[0].url == reverse("projects:report", args=[recommended.pk])
    assert found["decisions"].items[0].url.endswith("/decide/")
    assert found["locks"].items[0].url == reverse(
        "allocations:run_lock", args=[AllocationRun.objects.get(locked_at__isnull=True).pk]
    )
    assert found["recommendations"].total == 1


def test_reviewer_sees_reviews_to_write_with_the_deadline(client, call):
    officer = UserFactory(role=Role.SECRETARIAT)
    reviewer = UserFactory(role=Role.REVIEWER)
    make_work(call, 1, reviewer=reviewer, officer=officer)
    client.force_login(reviewer)
    found = kinds(client.get(reverse("decisions:work")))
    item = found["reviews"].items[0]
    assert item.due == call.review_settings.review_deadline
    assert item.overdue is True


def test_applicants_have_no_work_page(client):
    client.force_login(UserFactory(role=Role.APPLICANT))
    assert client.get(reverse("decisions:work")).status_code == 403


@pytest.mark.parametrize("role", [Role.SECRETARIAT, Role.COMMITTEE_CHAIR])
@pytest.mark.parametrize("n", [1, 6])
def test_work_page_query_count_is_fixed(client, call, django_assert_max_num_queries, role, n):
    officer = UserFactory(role=Role.SECRETARIAT)
    make_work(call, n, reviewer=UserFactory(role=Role.REVIEWER), officer=officer)
    client.force_login(UserFactory(role=role))
    # + change requests to recommend and to approve, progress reports to screen, overdue and to accept (issue 11)
    with django_assert_max_num_queries(13):
        response = client.get(reverse("decisions:work"))
    assert sum(k.total for k in response.context["kinds"]) >= 3 * n
