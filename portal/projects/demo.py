"""Demo data for a project's life after the award (called from ``portal/core/demo.py``): the progress reports of
last year's locked awards, usage imported from two sacct exports through the real import, and for one project
(aiss-0012) its first report written, screened and accepted (which releases its held tranche) and its first
quarter's statement issued; the other (aiss-0007) has its usage imported and its reports still due."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta

from portal.accounts.selectors import applicants_of
from portal.allocations.models import Award
from portal.allocations.usage import usage_import
from portal.calls.models import Call
from portal.core.formatting import HONG_KONG
from portal.proposals.models import Proposal

from .changes import change_request_submit
from .enums import ChangeRequestKind
from .progress import (
    OutputInput,
    ReportContent,
    progress_report_save,
    progress_report_schedule,
    progress_report_transition,
)
from .services import billing_statement_issue

HEADER = "JobID|JobName|Account|User|Partition|AllocTRES|ElapsedRaw|Start|End|State"
# (job id, account, user, GPUs, hours, start in Hong Kong time, as sacct prints it): large training jobs in the
# H800 partition (the pool's code).
FIRST_EXPORT = [
    (7101, "aiss-0012", "hvlee", 128, 400, datetime(2026, 1, 10, 9, tzinfo=HONG_KONG)),
    (7102, "aiss-0012", "hvlee", 128, 400, datetime(2026, 2, 10, 9, tzinfo=HONG_KONG)),
    (7103, "aiss-0007", "kwong", 64, 300, datetime(2026, 2, 2, 9, tzinfo=HONG_KONG)),
]
SECOND_EXPORT = [
    (7201, "aiss-0007", "kwong", 64, 500, datetime(2026, 4, 8, 9, tzinfo=HONG_KONG)),
    (7202, "aiss-0012", "hvlee", 128, 300, datetime(2026, 4, 20, 9, tzinfo=HONG_KONG)),
    (7203, "aiss-0007", "kwong", 128, 400, datetime(2026, 7, 6, 9, tzinfo=HONG_KONG)),
    (7204, "aiss-0012", "hvlee", 128, 350, datetime(2026, 8, 3, 9, tzinfo=HONG_KONG)),
]


def sacct_export(jobs) -> str:
    """``sacct --parsable2`` lines for ``jobs`` (one allocation line each; Slurm's own step lines are not needed)."""
    lines = [HEADER]
    for job_id, account, user, gpus, hours, start in jobs:
        end = start + timedelta(hours=hours)
        tres = f"billing={gpus * 8},cpu={gpus * 8},gres/gpu={gpus},mem={gpus * 60}G,node={gpus // 8}"
        lines.append(
            f"{job_id}|pretrain|{account}|{user}|h800|{tres}|{hours * 3600}|"
            f"{start:%Y-%m-%dT%H:%M:%S}|{end:%Y-%m-%dT%H:%M:%S}|COMPLETED"
        )
    return "\n".join(lines) + "\n"


def _hkt(day, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=HONG_KONG)


def demo_project_life(*, call: Call, secretariat, chair) -> None:
    """Schedule the reports of ``call``'s locked awards and play out the first report of aiss-0012 (submitted by
    its applicant five days before it was due, screened by ``secretariat``, accepted by ``chair``)."""
    awards = Award.objects.filter(run__call=call, run__locked_at__isnull=False, share__gt=0).select_related("run__call")
    for award in awards.order_by("pk"):
        progress_report_schedule(award=award, actor=secretariat)
    usage_import(stream=io.StringIO(sacct_export(FIRST_EXPORT)), filename="aisc-sacct-2026q1.txt", actor=secretariat)

    project = Proposal.objects.filter(account_code="aiss-0012").first()
    if project is not None:
        report = project.progress_reports.get(number=1)
        applicant = applicants_of(organisation_id=project.organisation_id).order_by("pk").first()
        written = _hkt(report.due_on - timedelta(days=5), 10)
        content = ReportContent(
            kpis=(
                "F1 on the HKEX filings benchmark: 0.87 against a target of 0.85.\n"
                "Throughput: 1,200 pages a minute against a target of 1,000."
            ),
            deliverables="Document-understanding model v1 trained and evaluated; the data pipeline is in production.",
            problems="Queue waits in February delayed the second training run by a week.",
            next_plan="Fine-tune on Chinese-language annual reports; release an evaluation report.",
            outputs=[
                OutputInput(
                    kind="paper", title="Layout-aware models for bilingual filings", doi="10.48550/arXiv.2603.01234"
                ),
                OutputInput(kind="model", title="harbour-docs-7b v1"),
                OutputInput(kind="people", title="Machine-learning engineers trained", count=4),
            ],
        )
        progress_report_save(report=report, actor=applicant, content=content, now=written)
        progress_report_transition(report=report, action="submit", actor=applicant, now=written)
        progress_report_transition(
            report=report,
            action="recommend_accept",
            actor=secretariat,
            reason="Complete; the KPIs are met.",
            now=written + timedelta(days=2),
        )
        progress_report_transition(report=report, action="accept", actor=chair, now=written + timedelta(days=3))
    usage_import(stream=io.StringIO(sacct_export(SECOND_EXPORT)), filename="aisc-sacct-2026q3.txt", actor=secretariat)
    if project is not None:
        billing_statement_issue(proposal=project, quarter="2026Q1", actor=secretariat)
    _demo_change_request()


def _demo_change_request() -> None:
    """aiss-0007 asks to give back hours of its last quarter: a change request waiting for the secretariat. (The
    centre is fully booked in that quarter, so more hours or an extension into it would be refused.)"""
    project = Proposal.objects.filter(account_code="aiss-0007").first()
    if project is None or project.change_requests.exists():
        return
    quarter = project.call.quarters.filter(code="2026Q4").first()
    pool = project.call.pools.filter(code="h800").first()
    applicant = applicants_of(organisation_id=project.organisation_id).order_by("pk").first()
    if quarter is None or pool is None or applicant is None:
        return
    change_request_submit(
        proposal=project,
        kind=ChangeRequestKind.REDUCTION,
        pool=pool,
        quarter=quarter,
        gpu_hours=20_000,
        reason="The second training run moves to a 13B model: 20,000 GPU-hours of 2026Q4 are not needed.",
        actor=applicant,
    )
