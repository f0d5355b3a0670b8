"""Progress reports (issue 11 point 2, domain brief §10): the schedule, the one transition service and its table,
four-eyes acceptance, the held tranche, overdue reports holding tranches, reminders, and completion."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from portal.accounts.enums import Role
from portal.allocations import services as allocation_services
from portal.allocations.models import AwardHours, CallAllocationSettings, Tranche
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification, OutboundEmail
from portal.projects.enums import ReportState as R
from portal.projects.models import AwardVersion, BillingStatement, ProgressReport, ReportEvent, ReportReminder
from portal.projects.progress import (
    OutputInput,
    ReportContent,
    add_months,
    progress_report_reminders_send,
    progress_report_save,
    progress_report_schedule,
    progress_report_schedule_missing,
    progress_report_transition,
    schedule_dates,
)
from portal.projects.report_workflow import REPORT_TRANSITIONS
from portal.projects.validators import normalise_doi
from portal.proposals.enums import ProposalState
from tests.factories import MembershipFactory, UserFactory
from tests.factories.allocations import allocatable_proposal, lock, usage

from .conftest import locked_project

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# A day inside the first report's period of a project awarded hours in 2026Q1-Q2 (report 1 due 2026-04-01).
MARCH = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def project(call):
    proposal = locked_project(call, account="aiss-7001", hours={("h800", "2026Q1"): 1000, ("h800", "2026Q2"): 1000})
    award = proposal.awards.get()
    progress_report_schedule(award=award)
    return proposal


@pytest.fixture
def people(project):
    applicant = MembershipFactory(organisation=project.organisation, user__role=Role.APPLICANT).user
    return {
        "applicant": applicant,
        "other_applicant": MembershipFactory(user__role=Role.APPLICANT).user,
        "secretariat": UserFactory(role=Role.SECRETARIAT),
        "secretariat2": UserFactory(role=Role.SECRETARIAT),
        "member": UserFactory(role=Role.COMMITTEE_MEMBER),
        "chair": UserFactory(role=Role.COMMITTEE_CHAIR),
        "approver": UserFactory(role=Role.APPROVING_OFFICER),
        "auditor": UserFactory(role=Role.AUDITOR),
        "reviewer": UserFactory(role=Role.REVIEWER),
    }


CONTENT = ReportContent(
    kpis="Word error rate 8.1% against a target of 9%.",
    deliverables="Model v1 released.",
    problems="Queue waits in March.",
    next_plan="Fine-tune on court recordings.",
    outputs=[
        OutputInput(kind="paper", title="Cantonese ASR at scale", doi="10.1234/abc.5678"),
        OutputInput(kind="people", title="Research assistants", count=3),
    ],
)


def _submitted(report, people, now=MARCH):
    progress_report_save(report=report, actor=people["applicant"], content=CONTENT, now=now)
    return progress_report_transition(report=report, action="submit", actor=people["applicant"], now=now)


def _recommended(report, people, now=MARCH):
    _submitted(report, people, now)
    return progress_report_transition(
        report=report, action="recommend_accept", actor=people["secretariat"], reason="Complete.", now=now
    )


# ---- The schedule -------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


@pytest.mark.unit
def test_schedule_dates_first_after_a_quarter_then_every_six_months_and_a_final_within_30_days():
    rows = schedule_dates(start=date(2026, 1, 1), end=date(2026, 12, 31), first_after=3, every=6, final_within=30)
    assert rows == [
        (date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1), False),
        (date(2026, 4, 1), date(2026, 9, 30), date(2026, 10, 1), False),
        (date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 30), True),
    ]


@pytest.mark.unit
def test_schedule_dates_with_zero_months_never_loops():
    rows = schedule_dates(start=date(2026, 1, 1), end=date(2026, 3, 31), first_after=0, every=0, final_within=0)
    assert rows == [(date(2026, 1, 1), date(2026, 3, 31), date(2026, 3, 31), True)]


def test_schedule_follows_the_calls_settings_and_is_idempotent(call):
    CallAllocationSettings.objects.create(
        call=call, first_report_after_months=2, report_every_months=4, final_report_within_days=20
    )
    proposal = locked_project(call, account="aiss-7002", hours={("h800", "2026Q1"): 10, ("h800", "2026Q4"): 10})
    award = proposal.awards.get()
    reports = progress_report_schedule(award=award)
    assert [(r.number, r.due_on, r.final) for r in reports] == [
        (1, date(2026, 3, 1), False),
        (2, date(2026, 7, 1), False),
        (3, date(2026, 11, 1), False),
        (4, date(2027, 1, 20), True),
    ]
    assert progress_report_schedule(award=award) == reports
    assert ProgressReport.objects.filter(proposal=proposal).count() == 4
    assert AuditEvent.objects.filter(action="progress_report.schedule").count() == 1


def test_schedule_missing_covers_awards_locked_before_and_runs_once(call):
    proposal = locked_project(call, account="aiss-7003", hours={("h800", "2026Q1"): 10})
    assert progress_report_schedule_missing() == 1
    assert progress_report_schedule_missing() == 0
    assert [r.final for r in proposal.progress_reports.all()] == [True]


def test_locking_an_allocation_schedules_the_reports(call, django_capture_on_commit_callbacks):
    secretariat = UserFactory(role=Role.SECRETARIAT)
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    proposal = allocatable_proposal(call)  # 100,000 GPU-hours in 2026Q1 and 2026Q2
    with django_capture_on_commit_callbacks(execute=True):
        run = allocation_services.allocation_run_start(call=call, policy="rank", actor=secretariat)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        lock(call, run, proposer=secretariat, approver=chair)
    assert [(r.number, r.due_on, r.final) for r in proposal.progress_reports.order_by("number")] == [
        (1, date(2026, 4, 1), False),
        (2, date(2026, 7, 30), True),
    ]


# ---- The table: who may take each step, from where ---------------------------------------------------------------

ALLOWED = {
    "submit": {"applicant"},
    "resubmit": {"applicant"},
    "answer": {"applicant"},
    "request_clarification": {"secretariat", "secretariat2"},
    "recommend_accept": {"secretariat", "secretariat2"},
    "recommend_changes": {"secretariat", "secretariat2"},
    # Four-eyes: the approving officials, never the secretariat officer who screened it (who could not anyway).
    "accept": {"chair", "approver"},
    "require_changes": {"chair", "approver"},
}


def test_every_row_of_the_table_is_tested():
    assert set(ALLOWED) == set(REPORT_TRANSITIONS)
    assert {t.target for t in REPORT_TRANSITIONS.values()} == set(R) - {R.DUE}


@pytest.mark.parametrize("action", sorted(REPORT_TRANSITIONS))
def test_transition_allowed_only_for_its_roles(action, project, people):
    transition = REPORT_TRANSITIONS[action]
    source = sorted(transition.sources)[0]
    report = project.progress_reports.get(number=1)
    ProgressReport.objects.filter(pk=report.pk).update(
        state=source, screened_by=people["secretariat"], kpis="k", deliverables="d", next_plan="n"
    )
    allowed = set()
    for role, user in people.items():
        report.refresh_from_db()
        events = ReportEvent.objects.count()
        try:
            progress_report_transition(report=report, action=action, actor=user, reason="Because.", now=MARCH)
        except PermissionDenied:
            report.refresh_from_db()
            assert report.state == source
            assert ReportEvent.objects.count() == events
            continue
        allowed.add(role)
        report.refresh_from_db()
        assert report.state == transition.target
        event = ReportEvent.objects.latest("pk")
        assert (event.action, event.from_state, event.to_state, event.actor, event.reason) == (
            action,
            source,
            transition.target,
            user,
            "Because.",
        )
        audit = AuditEvent.objects.filter(action=f"progress_report.{action}").latest("seq")
        assert (audit.actor, audit.before, audit.after["state"], audit.reason) == (
            user,
            {"state": source},
            transition.target,
            "Because.",
        )
        ProgressReport.objects.filter(pk=report.pk).update(state=source, screened_by=people["secretariat"])
    expected = ALLOWED[action] - ({"secretariat"} if action in ("accept", "require_changes") else set())
    assert allowed == expected


@pytest.mark.parametrize("action", sorted(REPORT_TRANSITIONS))
def test_transition_refused_from_every_other_state(action, project, people):
    transition = REPORT_TRANSITIONS[action]
    actor = people[sorted(ALLOWED[action])[-1]]
    report = project.progress_reports.get(number=1)
    for state in sorted(set(R) - transition.sources):
        ProgressReport.objects.filter(pk=report.pk).update(state=state, decided_by=people["chair"])
        report.refresh_from_db()
        with pytest.raises((PermissionDenied, ValidationError)):
            progress_report_transition(report=report, action=action, actor=actor, reason="Because.", now=MARCH)
        report.refresh_from_db()
        assert report.state == state


def test_a_step_on_a_stale_copy_is_refused(project, people):
    report = project.progress_reports.get(number=1)
    _submitted(report, people)
    stale = ProgressReport.objects.get(pk=report.pk)
    progress_report_transition(report=report, action="recommend_accept", actor=people["secretariat"], now=MARCH)
    stale.state = R.SUBMITTED
    with pytest.raises(ValidationError) as caught:
        progress_report_transition(
            report=stale, action="request_clarification", actor=people["secretariat2"], reason="?", now=MARCH
        )
    assert caught.value.code == "conflict"


def test_a_reason_is_required_where_the_table_says(project, people):
    report = project.progress_reports.get(number=1)
    _submitted(report, people)
    with pytest.raises(ValidationError) as caught:
        progress_report_transition(
            report=report, action="request_clarification", actor=people["secretariat"], reason="  ", now=MARCH
        )
    assert caught.value.message_dict == {"reason": ["Give a reason."]}


# ---- Submission -------------------------------------------------------------------------------------------------


def test_submission_takes_the_usage_from_the_imported_usage(project, people):
    usage(project, quarter="2026Q1", hours=250)
    report = _submitted(project.progress_reports.get(number=1), people)
    report.refresh_from_db()
    assert report.state == R.SUBMITTED
    assert (report.usage["awarded"], report.usage["used"]) == ("2000.00", "250.00")
    assert report.usage["rows"] == [
        {"pool": "h800", "quarter": "2026Q1", "awarded": "1000.00", "used": "250.00"},
        {"pool": "h800", "quarter": "2026Q2", "awarded": "1000.00", "used": "0.00"},
    ]
    assert (report.submitted_by, report.submitted_at) == (people["applicant"], MARCH)
    assert [(o.kind, o.doi, o.count) for o in report.outputs.all()] == [
        ("paper", "10.1234/abc.5678", 1),
        ("people", "", 3),
    ]


def test_an_incomplete_report_is_not_submitted(project, people):
    report = project.progress_reports.get(number=1)
    progress_report_save(report=report, actor=people["applicant"], content=ReportContent(kpis="k"), now=MARCH)
    with pytest.raises(ValidationError) as caught:
        progress_report_transition(report=report, action="submit", actor=people["applicant"], now=MARCH)
    assert caught.value.code == "incomplete"
    report.refresh_from_db()
    assert (report.state, report.kpis) == (R.DUE, "k")


def test_a_paper_needs_a_well_formed_doi(project, people):
    report = project.progress_reports.get(number=1)
    bad = ReportContent(kpis="k", outputs=[OutputInput(kind="paper", title="A paper", doi="doi 10/12")])
    with pytest.raises(ValidationError) as caught:
        progress_report_save(report=report, actor=people["applicant"], content=bad, now=MARCH)
    assert "doi" in caught.value.message_dict
    assert normalise_doi("https://doi.org/10.1000/xyz") == "10.1000/xyz"


def test_another_organisation_cannot_save_the_report(project, people):
    report = project.progress_reports.get(number=1)
    with pytest.raises(PermissionDenied):
        progress_report_save(report=report, actor=people["other_applicant"], content=CONTENT, now=MARCH)


def test_clarification_and_answer_go_back_to_screening(project, people, django_capture_on_commit_callbacks):
    report = _submitted(project.progress_reports.get(number=1), people)
    with django_capture_on_commit_callbacks(execute=True):
        progress_report_transition(
            report=report,
            action="request_clarification",
            actor=people["secretariat"],
            reason="Which test set gives 8.1%?",
            now=MARCH,
        )
    progress_report_transition(
        report=report, action="answer", actor=people["applicant"], reason="Common Voice zh-HK.", now=MARCH
    )
    assert report.state == R.ANSWERED
    assert [e.action for e in report.events.all()] == ["submit", "request_clarification", "answer"]
    assert Notification.objects.filter(user=people["applicant"], template="emails/projects_report_state").count() == 1


# ---- Four-eyes acceptance and the held tranche ---------------------------------------------------------------------


def test_the_screener_cannot_accept_even_as_an_approving_official(project, people):
    report = project.progress_reports.get(number=1)
    _submitted(report, people)
    ProgressReport.objects.filter(pk=report.pk).update(state=R.RECOMMENDED, screened_by=people["chair"])
    report.refresh_from_db()
    with pytest.raises(PermissionDenied):
        progress_report_transition(report=report, action="accept", actor=people["chair"], now=MARCH)
    progress_report_transition(report=report, action="accept", actor=people["approver"], now=MARCH)
    assert report.state == R.ACCEPTED


def test_accepting_the_first_report_releases_the_held_tranche(project, people, django_capture_on_commit_callbacks):
    report = _recommended(project.progress_reports.get(number=1), people, now=APRIL)
    held = Tranche.objects.get(award__proposal=project, number=2)
    assert held.released_at is None
    with django_capture_on_commit_callbacks(execute=True):
        progress_report_transition(report=report, action="accept", actor=people["chair"], now=APRIL)
    held.refresh_from_db()
    assert (held.released_at, held.released_by) == (APRIL, people["chair"])
    audit = AuditEvent.objects.get(action="allocation.tranche_release")
    assert (audit.actor, audit.reason) == (people["chair"], f"Progress report 1 ({report.reference}) accepted")
    assert audit.after == {"tranche": 2, "share": "0.500"}
    notes = Notification.objects.filter(user=people["applicant"], template="emails/projects_report_state")
    assert notes.count() == 1
    assert OutboundEmail.objects.filter(to=people["applicant"].email, subject__contains="is accepted").count() == 1


def test_changes_required_then_resubmitted_then_accepted(project, people):
    report = _submitted(project.progress_reports.get(number=1), people, now=APRIL)
    progress_report_transition(
        report=report, action="recommend_changes", actor=people["secretariat"], reason="No KPIs.", now=APRIL
    )
    progress_report_transition(
        report=report, action="require_changes", actor=people["chair"], reason="Give the KPIs.", now=APRIL
    )
    assert Tranche.objects.get(award__proposal=project, number=2).released_at is None
    progress_report_save(report=report, actor=people["applicant"], content=CONTENT, now=APRIL)
    progress_report_transition(report=report, action="resubmit", actor=people["applicant"], now=APRIL)
    assert (report.state, report.screened_by, report.advice) == (R.SUBMITTED, None, "")
    progress_report_transition(report=report, action="recommend_accept", actor=people["secretariat2"], now=APRIL)
    progress_report_transition(report=report, action="accept", actor=people["approver"], now=APRIL)
    assert Tranche.objects.get(award__proposal=project, number=2).released_at == APRIL


def test_an_overdue_report_holds_the_tranche_with_the_reason(project, people):
    # Accepted in August: the final report (due 2026-07-30) is overdue, so the tranche stays held.
    august = datetime(2026, 8, 10, 2, 0, tzinfo=UTC)
    report = _recommended(project.progress_reports.get(number=1), people, now=august)
    progress_report_transition(report=report, action="accept", actor=people["chair"], now=august)
    assert report.state == R.ACCEPTED
    assert Tranche.objects.get(award__proposal=project, number=2).released_at is None
    held = AuditEvent.objects.get(action="progress_report.tranche_held")
    assert held.reason == (
        "Progress report 2 was due on 2026-07-30 and is overdue: further tranches are held until it is in."
    )
    tranche = Tranche.objects.get(award__proposal=project, number=2)
    with pytest.raises(ValidationError) as caught:
        allocation_services.tranche_release(tranche=tranche, actor=people["secretariat"], now=august)
    assert caught.value.code == "report_overdue"


# ---- Completion ---------------------------------------------------------------------------------------------------


def test_accepting_the_final_report_completes_the_project_returns_hours_and_issues_a_statement(call, people):
    proposal = locked_project(
        call, account="aiss-7010", hours={("h800", "2026Q1"): 1000, ("h800", "2026Q2"): 800, ("h800", "2026Q3"): 600}
    )
    progress_report_schedule(award=proposal.awards.get())
    people["applicant"] = MembershipFactory(organisation=proposal.organisation, user__role=Role.APPLICANT).user
    usage(proposal, quarter="2026Q1", hours=400)
    usage(proposal, quarter="2026Q2", hours=10)
    ProgressReport.objects.filter(proposal=proposal, final=False).update(state=R.ACCEPTED, decided_by=people["chair"])
    final = proposal.progress_reports.get(final=True)
    _recommended(final, people, now=APRIL)
    progress_report_transition(report=final, action="accept", actor=people["approver"], now=APRIL)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.COMPLETED
    hours = {c.quarter.code: c.gpu_hours for c in AwardHours.objects.filter(award__proposal=proposal)}
    # April: 2026Q2 has begun (kept); 2026Q3 is to come and had no use, so its 600 hours return to the pool.
    assert hours == {"2026Q1": Decimal("1000"), "2026Q2": Decimal("800"), "2026Q3": Decimal("0")}
    statements = BillingStatement.objects.filter(proposal=proposal).order_by("quarter")
    assert [(s.quarter, s.version) for s in statements] == [("2026Q1", 1), ("2026Q2", 1)]
    complete = AuditEvent.objects.get(action="project.complete")
    assert complete.after["returned_hours"] == {"h800 2026Q3": "600.000000"}
    assert complete.actor == people["approver"]
    assert AuditEvent.objects.filter(action="proposal.complete_after_final_report").count() == 1
    version = AwardVersion.objects.filter(award__proposal=proposal).latest("number")
    assert (version.kind, version.actor, version.gpu_hours) == ("completion", people["approver"], Decimal("1800.00"))


# ---- Reminders ----------------------------------------------------------------------------------------------------


def test_reminders_before_on_and_weekly_after_the_due_date_each_once(project, people):
    report = project.progress_reports.get(number=1)  # due 2026-04-01
    at = lambda day: datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)  # noqa: E731
    assert progress_report_reminders_send(now=at(date(2026, 3, 10))) == 0
    assert progress_report_reminders_send(now=at(date(2026, 3, 18))) == 1
    assert progress_report_reminders_send(now=at(date(2026, 3, 19))) == 0
    assert progress_report_reminders_send(now=at(date(2026, 4, 1))) == 1
    assert progress_report_reminders_send(now=at(date(2026, 4, 1))) == 0
    assert progress_report_reminders_send(now=at(date(2026, 4, 8))) == 1
    assert progress_report_reminders_send(now=at(date(2026, 4, 10))) == 0
    assert progress_report_reminders_send(now=at(date(2026, 4, 15))) == 1
    assert list(ReportReminder.objects.filter(report=report).values_list("kind", "week")) == [
        ("before", 0),
        ("due", 0),
        ("after", 1),
        ("after", 2),
    ]
    emails = OutboundEmail.objects.filter(to=people["applicant"].email).order_by("pk")
    subjects = list(emails.values_list("subject", flat=True))
    assert len(subjects) == 4
    assert subjects[0] == f"Reminder: progress report 1 of {project.reference} is due on 2026-04-01"
    assert subjects[-1] == f"Overdue: progress report 1 of {project.reference} was due on 2026-04-01"


def test_a_submitted_report_gets_no_reminder(project, people):
    _submitted(project.progress_reports.get(number=1), people)
    assert progress_report_reminders_send(now=datetime(2026, 4, 1, 2, tzinfo=UTC)) == 0


def test_beat_schedule_has_the_daily_report_reminders():
    entry = settings.CELERY_BEAT_SCHEDULE["projects-progress-report-reminders"]
    assert entry["task"] == "portal.projects.tasks.send_progress_report_reminders"


def test_the_task_schedules_and_reminds_and_is_safe_twice(call):
    from portal.projects.tasks import send_progress_report_reminders

    proposal = locked_project(call, account="aiss-7020", hours={("h800", "2026Q4"): 10})
    MembershipFactory(organisation=proposal.organisation, user__role=Role.APPLICANT)
    send_progress_report_reminders()
    # Today (the task's own clock) the final report of a 2026Q4 project is either ahead or overdue: at most one.
    sent = ReportReminder.objects.count()
    assert proposal.progress_reports.count() == 1
    assert send_progress_report_reminders() == 0
    assert ReportReminder.objects.count() == sent
