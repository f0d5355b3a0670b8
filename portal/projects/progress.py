"""Writes on progress reports (domain brief §10): the schedule, the applicant's draft, the one transition service,
the reminders, and what accepting a report sets off (the held tranche; for the final report, the project's
completion). Every state change is on the report's timeline and in the audit log, with who, what, when and why."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.accounts.selectors import applicants_of
from portal.allocations.models import Award, AwardHours, Tranche, TrancheCondition
from portal.allocations.selectors import call_settings
from portal.allocations.services import _tranche_release
from portal.audit.services import audit_record
from portal.core.formatting import hk_localtime
from portal.notifications.messages import Bilingual
from portal.notifications.services import users_notify
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.proposals.services import proposal_transition

from .billing import ZERO, parse_quarter
from .enums import REPORT_EDITABLE, AwardVersionKind, ReminderKind, ReportState, ScreeningAdvice
from .models import BillingStatement, ProgressReport, ReportEvent, ReportOutput, ReportReminder
from .report_workflow import REPORT_TRANSITIONS
from .selectors import NoAward, pool_usage_rows
from .services import billing_statement_issue
from .versions import award_version_record

REMINDER_DAYS_BEFORE = 14


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, on the same day of the month or the month's last day."""
    years, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_dates(*, start: date, end: date, first_after: int, every: int, final_within: int) -> list[tuple]:
    """(period start, period end, due on, final) of each report of a project running from ``start`` to ``end``:
    the first ``first_after`` months after the start, then every ``every`` months while before the end, and the
    final one ``final_within`` days after the end, covering the rest."""
    rows, period_start = [], start
    due = add_months(start, first_after)
    while period_start < due <= end:
        rows.append((period_start, due - timedelta(days=1), due, False))
        period_start = due
        due = add_months(due, max(every, 1))
    rows.append((period_start, end, end + timedelta(days=final_within), True))
    return rows


@transaction.atomic
def progress_report_schedule(*, award: Award, actor=None) -> list[ProgressReport]:
    """The progress reports of ``award``'s project, scheduled from its call's settings over the quarters the
    award gives hours in. Once per project: when it has reports already (an earlier award, a second call) they are
    returned unchanged, so this is safe to run again. An award with no hours schedules nothing. Audited."""
    Proposal.objects.select_for_update().filter(pk=award.proposal_id).first()
    existing = list(ProgressReport.objects.filter(proposal_id=award.proposal_id).order_by("number"))
    if existing or not award.is_funded:
        return existing
    cells = list(AwardHours.objects.filter(award=award, gpu_hours__gt=0).select_related("quarter"))
    if not cells:
        return []
    settings = call_settings(call=award.run.call)
    rows = schedule_dates(
        start=min(c.quarter.starts_on for c in cells),
        end=max(c.quarter.ends_on for c in cells),
        first_after=settings.first_report_after_months,
        every=settings.report_every_months,
        final_within=settings.final_report_within_days,
    )
    reports = []
    for number, (period_start, period_end, due_on, final) in enumerate(rows, start=1):
        report = ProgressReport(
            proposal_id=award.proposal_id,
            award=award,
            number=number,
            final=final,
            period_start=period_start,
            period_end=period_end,
            due_on=due_on,
        )
        report.full_clean()
        report.save()
        reports.append(report)
    audit_record(
        actor=actor,
        action="progress_report.schedule",
        obj=award,
        after={"reports": [{"number": r.number, "due_on": r.due_on, "final": r.final} for r in reports]},
        reason="Award locked",
    )
    return reports


def progress_report_schedule_missing(*, actor=None) -> int:
    """Schedule the reports of every active project with a locked award and none yet (awards locked before
    reports were scheduled). Returns how many projects were scheduled."""
    awards = (
        Award.objects.filter(
            run__locked_at__isnull=False,
            share__gt=0,
            proposal__state__in=(ProposalState.ALLOCATED, ProposalState.ACTIVE),
            proposal__progress_reports__isnull=True,
        )
        .select_related("run__call")
        .order_by("run__locked_at", "pk")
    )
    done = set()
    for award in awards:
        if award.proposal_id not in done and progress_report_schedule(award=award, actor=actor):
            done.add(award.proposal_id)
    return len(done)


# ---- The applicant's report ---------------------------------------------------------------------------------------


@dataclass
class OutputInput:
    kind: str
    title: str
    doi: str = ""
    count: int = 1


@dataclass
class ReportContent:
    kpis: str = ""
    deliverables: str = ""
    problems: str = ""
    next_plan: str = ""
    outputs: list[OutputInput] = field(default_factory=list)


def usage_snapshot(*, proposal: Proposal, now: datetime) -> dict:
    """The usage so far as imported, per pool and quarter, with totals: what a report shows as its usage. Taken
    from the imported Slurm usage only, never typed."""
    try:
        rows = pool_usage_rows(proposal=proposal)
    except NoAward:
        rows = []
    awarded = sum((r.awarded for r in rows), ZERO)
    used = sum((r.used for r in rows), ZERO)
    return {
        "taken_at": now.isoformat(),
        "awarded": f"{awarded:.2f}",
        "used": f"{used:.2f}",
        "rows": [
            {"pool": r.pool, "quarter": r.quarter, "awarded": f"{r.awarded:.2f}", "used": f"{r.used:.2f}"} for r in rows
        ],
    }


@transaction.atomic
def progress_report_save(
    *, report: ProgressReport, actor, content: ReportContent, now: datetime | None = None
) -> ProgressReport:
    """Keep what the applicant wrote (the report stays due, or with changes required, until submitted). The
    outputs replace those saved before."""
    now = now or timezone.now()
    report = ProgressReport.objects.select_for_update().select_related("proposal__organisation").get(pk=report.pk)
    if not actor.has_perm("portal.projects.submit_progress_report", report):
        raise PermissionDenied
    if report.state not in REPORT_EDITABLE:
        raise ValidationError(_("This report has been submitted and can no longer be changed."), code="conflict")
    report.kpis, report.deliverables = content.kpis.strip(), content.deliverables.strip()
    report.problems, report.next_plan = content.problems.strip(), content.next_plan.strip()
    report.saved_at = now
    report.full_clean()
    report.save(update_fields=["kpis", "deliverables", "problems", "next_plan", "saved_at"])
    report.outputs.all().delete()
    outputs = []
    for position, item in enumerate(content.outputs, start=1):
        output = ReportOutput(
            report=report, position=position, kind=item.kind, title=item.title.strip(), doi=item.doi, count=item.count
        )
        output.full_clean()
        outputs.append(output)
    ReportOutput.objects.bulk_create(outputs)
    return report


def _missing(report: ProgressReport) -> list[str]:
    needed = [("kpis", _("progress against the key performance indicators"))]
    needed.append(("deliverables", _("progress against the deliverables")))
    if not report.final:
        needed.append(("next_plan", _("the plan for the next period")))
    return [str(label) for name, label in needed if not getattr(report, name).strip()]


# ---- The one transition service ---------------------------------------------------------------------------------


def progress_report_transition(
    *, report: ProgressReport, action: str, actor, reason: str = "", now: datetime | None = None
) -> ProgressReport:
    """Move a report along one row of ``REPORT_TRANSITIONS``: check the guard (permission, state, reason), change
    the state only if it is still the state the caller saw, record the step on the report's timeline and in the
    audit log, and tell whom it concerns after commit. The one place that writes a report's state.

    Submitting takes the usage so far from the imported usage. Accepting releases the tranches held for a
    progress report (the first acceptance does; refused with the reason while another report is overdue) and,
    for the final report, completes the project."""
    transition = REPORT_TRANSITIONS[action]
    now = now or timezone.now()
    if not actor.has_perm(transition.permission, report):
        raise PermissionDenied
    from_state = report.state
    if from_state not in transition.sources:
        raise ValidationError(_("The report has moved on; reload the page."), code="conflict")
    reason = reason.strip()
    if transition.reason_required and not reason:
        raise ValidationError({"reason": _("Give a reason.")})
    target = transition.target
    with transaction.atomic():
        fields: dict = {"state": target}
        after: dict = {"state": target}
        if action in ("submit", "resubmit"):
            report.refresh_from_db(fields=["kpis", "deliverables", "problems", "next_plan"])
            missing = _missing(report)
            if missing:
                raise ValidationError(
                    _("Complete the report before submitting it: %(fields)s.") % {"fields": "; ".join(missing)},
                    code="incomplete",
                )
            usage = usage_snapshot(proposal=report.proposal, now=now)
            fields.update(
                submitted_at=now,
                submitted_by=actor,
                usage=usage,
                advice="",
                screened_by=None,
                screened_at=None,
                decided_by=None,
                decided_at=None,
            )
            after.update(used=usage["used"], outputs=report.outputs.count())
        elif action in ("recommend_accept", "recommend_changes"):
            advice = ScreeningAdvice.ACCEPT if action == "recommend_accept" else ScreeningAdvice.CHANGES
            fields.update(advice=advice, screened_by=actor, screened_at=now)
            after["advice"] = advice
        elif action in ("accept", "require_changes"):
            fields.update(decided_by=actor, decided_at=now)
            after["screened_by"] = report.screened_by_id
        updated = ProgressReport.objects.filter(pk=report.pk, state=from_state).update(**fields)
        if not updated:
            raise ValidationError(_("The report has moved on; reload the page."), code="conflict")
        for name, value in fields.items():
            setattr(report, name, value)
        event = ReportEvent.objects.create(
            report=report,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=target,
            reason=reason,
            visible_to_applicant=transition.visible_to_applicant,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action=f"progress_report.{action}",
            obj=report,
            before={"state": from_state},
            after=after,
            reason=reason,
        )
        if action == "accept":
            _release_held_tranches(report=report, actor=actor, now=now)
            if report.final:
                project_complete(report=report, actor=actor, now=now)
        transaction.on_commit(lambda: _notify(report.pk, event.pk))
    return report


def _release_held_tranches(*, report: ProgressReport, actor, now: datetime) -> list[Tranche]:
    """Release the tranches of the project held until a progress report is accepted (so the first acceptance
    releases them). An overdue report holds them: the refusal is audited with its reason, and the next acceptance
    (or the secretariat, by hand) releases them."""
    released = []
    held = Tranche.objects.filter(
        award__proposal_id=report.proposal_id,
        award__run__locked_at__isnull=False,
        condition=TrancheCondition.PROGRESS_REPORT,
        released_at__isnull=True,
    ).order_by("award__run__locked_at", "number", "pk")
    for tranche in held:
        try:
            released.append(
                _tranche_release(
                    tranche=tranche,
                    actor=actor,
                    now=now,
                    reason=f"Progress report {report.number} ({report.reference}) accepted",
                )
            )
        except ValidationError as exc:
            audit_record(
                actor=actor,
                action="progress_report.tranche_held",
                obj=report,
                after={"tranche": tranche.number, "award": tranche.award_id},
                reason=" ".join(exc.messages),
            )
    return released


# ---- Completion -----------------------------------------------------------------------------------------------------


def _quarter_code(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


@transaction.atomic
def project_complete(*, report: ProgressReport, actor, now: datetime | None = None) -> dict:
    """The final report is accepted: the project is completed (its proposal's state), the hours of its quarters
    still to come are cut to what was used there, so that they return to the pool (for the waitlist and the
    claw-back reallocation), and a closing statement is issued for each quarter up to now. Audited."""
    now = now or timezone.now()
    proposal = Proposal.objects.get(pk=report.proposal_id)
    if proposal.state != ProposalState.ACTIVE:
        raise ValidationError(_("Only an active project can be completed."), code="conflict")
    proposal_transition(
        proposal=proposal,
        action="complete_after_final_report",
        actor=actor,
        reason=f"Final progress report {report.reference} accepted",
        now=now,
    )
    returned = _return_unused_hours(proposal=proposal, actor=actor, now=now)
    statements = closing_statements(proposal=proposal, actor=actor, now=now)
    audit_record(
        actor=actor,
        action="project.complete",
        obj=proposal,
        before={"state": ProposalState.ACTIVE},
        after={
            "state": ProposalState.COMPLETED,
            "report": report.reference,
            "returned_hours": returned,
            "statements": [f"{s.quarter} v{s.version}" for s in statements],
        },
        reason=f"Final progress report {report.reference} accepted",
    )
    return {"returned": returned, "statements": statements}


def _return_unused_hours(*, proposal: Proposal, actor, now: datetime) -> dict[str, str]:
    """Cut the award's hours in quarters starting after today to what was used in them (whole hours, rounded
    up): ``{"POOL QUARTER": "hours returned"}``. Each award changed gets a new version (kind: completion), which
    audits it and tells the secretariat to export the centre's limits."""
    today = hk_localtime(now).date()
    used = {(r.pool, r.quarter): r.used for r in _rows_or_empty(proposal)}
    returned: dict[str, str] = {}
    cells = (
        AwardHours.objects.select_for_update()
        .filter(award__proposal=proposal, award__run__locked_at__isnull=False, quarter__starts_on__gt=today)
        .select_related("pool", "quarter", "award")
        .order_by("quarter__starts_on", "pool__code", "pk")
    )
    by_award: dict[int, list] = {}
    for cell in cells:
        keep = used.get((cell.pool.code, cell.quarter.code), ZERO).to_integral_value(rounding=ROUND_CEILING)
        keep = min(keep, cell.gpu_hours)
        if keep < cell.gpu_hours:
            by_award.setdefault(cell.award_id, []).append((cell, keep))
    for changes in by_award.values():
        for cell, keep in changes:
            returned[f"{cell.pool.code} {cell.quarter.code}"] = str(cell.gpu_hours - keep)
            cell.gpu_hours = keep
            cell.full_clean()
            cell.save(update_fields=["gpu_hours"])
        award_version_record(
            award=changes[0][0].award,
            kind=AwardVersionKind.COMPLETION,
            reason="Project completed: unused hours of the quarters to come return to the pool",
            actor=actor,
            now=now,
        )
    return returned


def _rows_or_empty(proposal: Proposal):
    try:
        return pool_usage_rows(proposal=proposal)
    except NoAward:
        return []


def closing_statements(*, proposal: Proposal, actor, now: datetime) -> list[BillingStatement]:
    """The project's statements for every quarter up to the present one that had hours awarded or used, issued
    now (a new version only where the figures changed)."""
    current = _quarter_code(hk_localtime(now).date())
    quarters = sorted({r.quarter for r in _rows_or_empty(proposal) if r.quarter <= current})
    statements = []
    for quarter in quarters:
        parse_quarter(quarter)
        statements.append(billing_statement_issue(proposal=proposal, quarter=quarter, actor=actor, now=now))
    return statements


# ---- Notifications and reminders ---------------------------------------------------------------------------------

# Who is told of a step, besides the applicants for the steps they see: action -> (roles, what waits for them).
WORK_WAITING = {
    "submit": ({Role.SECRETARIAT}, "screen"),
    "resubmit": ({Role.SECRETARIAT}, "screen"),
    "answer": ({Role.SECRETARIAT}, "screen"),
    "recommend_accept": ({Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "decide"),
    "recommend_changes": ({Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "decide"),
}


def _context(report: ProgressReport) -> dict:
    proposal = report.proposal
    return {
        "reference": proposal.reference or "",
        "title": Bilingual.of(proposal, "title"),
        "number": report.number,
        "due_on": report.due_on.isoformat(),
    }


def _notify(report_id: int, event_id: int) -> None:
    event = ReportEvent.objects.select_related("report__proposal__organisation").get(pk=event_id)
    report = event.report
    url = reverse("projects:report", args=[report.pk])
    context = {**_context(report), "state": ReportState(event.to_state), "action": event.action, "reason": event.reason}
    if event.visible_to_applicant and event.action not in ("submit", "resubmit", "answer"):
        users_notify(
            users=applicants_of(organisation_id=report.proposal.organisation_id),
            key=f"report-event:{event.pk}",
            template="emails/projects_report_state",
            context=context,
            url=url,
        )
    roles, task = WORK_WAITING.get(event.action, (set(), ""))
    if roles:
        from portal.reviews.conflicts import free_of_conflict

        officials = User.objects.filter(role__in=roles, is_active=True).exclude(pk=event.actor_id)
        if report.screened_by_id:
            officials = officials.exclude(pk=report.screened_by_id)
        users_notify(
            users=free_of_conflict(users=officials.order_by("pk"), proposal=report.proposal),
            key=f"report-waiting:{event.pk}",
            template="emails/projects_report_waiting",
            context={**context, "task": task},
            url=url,
        )


def _reminder_due(report: ProgressReport, today: date) -> tuple[str, int] | None:
    """Which reminder is due for ``report`` today: 14 days before (once, in those days), on the due date (once,
    on it or the first run after it), and each week after it (week 1, 2, ...)."""
    days = (today - report.due_on).days
    if -REMINDER_DAYS_BEFORE <= days < 0:
        return ReminderKind.BEFORE, 0
    if 0 <= days < 7:
        return ReminderKind.DUE, 0
    if days >= 7:
        return ReminderKind.AFTER, days // 7
    return None


def progress_report_reminders_send(*, now: datetime | None = None) -> int:
    """Remind each active project of its report due: 14 days before, on the due date, then weekly. Each reminder
    is recorded (``ReportReminder``, unique per report, kind and week) before it is queued, so running this twice
    a day, or a task delivered twice, sends nothing new. Returns how many reminders were sent."""
    now = now or timezone.now()
    today = hk_localtime(now).date()
    sent = 0
    due = (
        ProgressReport.objects.filter(
            state=ReportState.DUE,
            due_on__lte=today + timedelta(days=REMINDER_DAYS_BEFORE),
            proposal__state=ProposalState.ACTIVE,
        )
        .select_related("proposal__organisation")
        .order_by("due_on", "pk")
    )
    for report in due:
        which = _reminder_due(report, today)
        if which is None:
            continue
        kind, week = which
        with transaction.atomic():
            _reminder, created = ReportReminder.objects.get_or_create(
                report=report, kind=kind, week=week, defaults={"sent_at": now}
            )
            if not created:
                continue
            users_notify(
                users=applicants_of(organisation_id=report.proposal.organisation_id),
                key=f"report-reminder:{report.pk}:{kind}:{week}",
                template="emails/projects_report_reminder",
                context={**_context(report), "kind": str(kind.value), "overdue": report.is_overdue(today)},
                url=reverse("projects:report_edit", args=[report.pk]),
            )
        sent += 1
    return sent
