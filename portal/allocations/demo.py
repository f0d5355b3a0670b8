"""Demo data for allocations (called from ``portal/core/demo.py``): a locked allocation for projects that the
demo puts straight into the active state, so that their usage pages have an award to compare against."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.projects.enums import AwardVersionKind
from portal.projects.versions import award_version_record

from .models import AllocationRun, RunKind, Tranche, TrancheCondition
from .optimiser import allocate
from .selectors import allocatable_proposals, allocation_problem
from .services import AWARD_LOCKED, _awards_create, award_audit_values


@transaction.atomic
def demo_allocation_lock(*, call: Call, proposals, actor, approver=None, score: str = "4.00") -> AllocationRun | None:
    """Award ``proposals`` (already active) their full request in a locked rank-order run of ``call``, proposed by
    ``actor`` and approved by ``approver`` (four-eyes; ``actor`` when none is given), with the first tranche
    released. Does nothing if the call already has a locked run."""
    if AllocationRun.objects.filter(call=call, locked_at__isnull=False).exists():
        return None
    build = allocation_problem(call=call)
    wanted = {p.reference for p in proposals}
    allocatable = set(allocatable_proposals(call=call).values_list("reference", flat=True))
    problem = {**build.problem, "projects": [p for p in build.problem["projects"] if p["id"] in wanted]}
    if len(problem["projects"]) < len(wanted):  # active proposals are not allocatable: add them by hand
        from portal.proposals.models import ComputeRequest

        for proposal in proposals:
            if proposal.reference in allocatable:
                continue
            request: dict[str, dict[str, int]] = {}
            for row in ComputeRequest.objects.filter(version_id=proposal.current_version_id).select_related(
                "pool", "quarter"
            ):
                request.setdefault(row.pool.code, {})[row.quarter.code] = row.gpu_hours
            problem["projects"].append(
                {
                    "id": proposal.reference,
                    "org": f"org-{proposal.organisation_id}",
                    "score": score,
                    "min_share": str(proposal.current_version.min_share.normalize()),
                    "request": request,
                }
            )
    now = timezone.now()
    run = AllocationRun.objects.create(
        call=call, kind=RunKind.ALLOCATION, policy="rank", inputs=problem, started_by=actor, created_at=now
    )
    _awards_create(run, allocate(problem, "rank"))
    AllocationRun.objects.filter(pk=run.pk).update(
        lock_proposed_at=now, lock_proposed_by=actor, locked_at=now, locked_by=approver or actor, started_at=now
    )
    for award in run.awards.filter(share__gt=0):
        Tranche.objects.create(
            award=award,
            number=1,
            share="0.5",
            condition=TrancheCondition.START,
            released_at=now,
            released_by=approver or actor,
        )
        Tranche.objects.create(award=award, number=2, share="0.5", condition=TrancheCondition.PROGRESS_REPORT)
    # As ``allocation_lock`` does: each award as locked, so that ``verify_audit`` holds for the demo too.
    for award in run.awards.prefetch_related("hours").order_by("pk"):
        audit_record(actor=approver or actor, action=AWARD_LOCKED, obj=award, after=award_audit_values(award))
        if award.share > 0:
            award_version_record(
                award=award, kind=AwardVersionKind.LOCK, reason=f"Run #{run.pk} locked", actor=approver or actor
            )
    run.refresh_from_db()
    return run
