"""Writes on allocation: start and execute runs, adjust awards, lock, release tranches, claw back.

Every capacity-changing write re-checks capacity inside a transaction holding row locks on the pool capacity
rows concerned (``select_for_update``, in primary-key order), so two officials acting at the same time can never
award more hours than a pool has (PostgreSQL; SQLite serialises writers anyway)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.audit.services import audit_record, config_change
from portal.calls.models import Call, PoolCapacity, Quarter, ResourcePool
from portal.core.formatting import format_hkd, hk_localtime
from portal.notifications.messages import Bilingual, Message
from portal.notifications.services import email_queue, notify
from portal.projects.enums import AwardVersionKind
from portal.projects.versions import award_version_record
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.proposals.services import proposal_transition

from .clawback import clawback_hours, split_reclaim
from .models import (
    AllocationPolicy,
    AllocationRun,
    Award,
    AwardHours,
    CheckpointStatus,
    Clawback,
    ClawbackCheckpoint,
    RunKind,
    RunStatus,
    Tranche,
    TrancheCondition,
)
from .optimiser import ProblemError, allocate
from .selectors import (
    allocation_problem,
    awardable,
    call_pools_quarters,
    call_settings,
    locked_hours,
    locked_run,
    reallocation_problem,
    used_hours_by_proposal,
)

ZERO = Decimal(0)
# The audit records that hold an award's values once it is locked (``award_audit_values``); ``verify_audit`` checks
# that each locked award still equals the last of them.
AWARD_LOCKED = "allocation.award_locked"
AWARD_RECLAIMED = "allocation.award_reclaimed"
# Any other change to a locked award (an approved change request, completion): written by award_version_record.
AWARD_CHANGED = "allocation.award_changed"
AWARD_VALUE_ACTIONS = (AWARD_LOCKED, AWARD_RECLAIMED, AWARD_CHANGED)
CENT = Decimal("0.01")
SHARE_QUANTUM = Decimal("0.000001")
FAILED_STATUSES = {
    "no_solution": "The solver stopped before finding any allocation (time limit %(limit)s s).",
    "solver_error": "The solver failed.",
    "infeasible": "The result failed the independent feasibility check and was withheld.",
}
DEFAULT_CHECKPOINTS = ((Decimal("0.100"), Decimal("0.250")), (Decimal("0.250"), Decimal("0.500")))


def _require(actor, permission: str, obj=None) -> None:
    if not actor.has_perm(permission, obj):
        raise PermissionDenied


# ---- Runs -------------------------------------------------------------------------------------------------------


@transaction.atomic
def allocation_run_start(
    *, call: Call, policy: str, actor, time_limit: float | None = None, now: datetime | None = None
) -> AllocationRun:
    """Store the call's problem as it stands and queue the optimiser on it (a Celery task, after commit)."""
    _require(actor, "portal.allocations.run_allocation")
    if policy not in AllocationPolicy.values:
        raise ValidationError({"policy": _("Choose a policy.")})
    if locked_run(call=call) is not None:
        raise ValidationError(
            _("The allocation of this call is locked; reclaimed hours are reallocated from a checkpoint.")
        )
    build = allocation_problem(call=call)
    if policy == AllocationPolicy.TIERS and not build.problem["tiers"]:
        raise ValidationError({"policy": _("The tiers policy needs tier thresholds in the call's settings.")})
    if not build.problem["projects"]:
        raise ValidationError(_("No recommended or approved proposal with GPU-hours to allocate."))
    return _run_create(
        call=call,
        kind=RunKind.ALLOCATION,
        policy=policy,
        inputs=build.problem,
        actor=actor,
        time_limit=time_limit or call_settings(call=call).solver_time_limit,
        now=now,
    )


@transaction.atomic
def allocation_runs_start_all(*, call: Call, actor, now: datetime | None = None) -> list[AllocationRun]:
    """One run per policy (rank, tiers when the call has tier thresholds, optimal) on the same problem, to be
    compared side by side."""
    _require(actor, "portal.allocations.run_allocation")
    tiers = bool(call_settings(call=call).tiers)
    policies = [p for p in AllocationPolicy.values if p != AllocationPolicy.TIERS or tiers]
    return [allocation_run_start(call=call, policy=policy, actor=actor, now=now) for policy in policies]


def _run_create(*, call, kind, policy, inputs, actor, time_limit, now=None, repeat_of=None, checkpoint=None):
    run = AllocationRun(
        call=call,
        kind=kind,
        policy=policy,
        inputs=inputs,
        time_limit=time_limit,
        started_by=actor,
        created_at=now or timezone.now(),
        repeat_of=repeat_of,
        checkpoint=checkpoint,
        stage="queued",
    )
    run.full_clean()
    run.save()
    audit_record(
        actor=actor,
        action="allocation.run_start",
        obj=run,
        after={
            "policy": policy,
            "kind": kind,
            "projects": len(inputs.get("projects", [])),
            "repeat_of": repeat_of and repeat_of.pk,
        },
    )
    from .tasks import allocation_run_task  # tasks sit above services

    transaction.on_commit(lambda: allocation_run_task.delay(run.pk))
    return run


@transaction.atomic
def allocation_run_repeat(*, run: AllocationRun, actor, policy: str | None = None) -> AllocationRun:
    """Run the optimiser again on exactly the stored inputs of ``run`` (optionally under another policy)."""
    _require(actor, "portal.allocations.run_allocation")
    policy = policy or run.policy
    if policy not in AllocationPolicy.values:
        raise ValidationError({"policy": _("Choose a policy.")})
    return _run_create(
        call=run.call,
        kind=run.kind,
        policy=policy,
        inputs=run.inputs,
        actor=actor,
        time_limit=run.time_limit,
        repeat_of=run,
        checkpoint=run.checkpoint,
    )


def _progress(run_id: int, progress: int, stage: str, **fields) -> None:
    AllocationRun.objects.filter(pk=run_id).update(progress=progress, stage=stage, **fields)


def allocation_run_execute(*, run_id: int) -> AllocationRun:
    """Solve a queued run and store its result and awards. Safe to run twice: a finished run is left alone.

    Progress is written in its own small transactions so the page can show it. A failed solve (no solution in
    the time limit, a solver error, a withheld result) marks the run failed; the call's last good run stays."""
    run = AllocationRun.objects.get(pk=run_id)
    if run.is_finished:
        return run
    now = timezone.now()
    _progress(run.pk, 10, "solving", status=RunStatus.RUNNING, started_at=now)
    try:
        result = allocate(run.inputs, run.policy, time_limit=run.time_limit)
    except (ProblemError, ValueError) as exc:
        return _run_fail(run, f"The problem was refused: {exc}")
    if result["status"] in FAILED_STATUSES:
        return _run_fail(run, FAILED_STATUSES[result["status"]] % {"limit": f"{run.time_limit:g}"}, result)
    _progress(run.pk, 80, "saving")
    _awards_create(run, result)
    run.refresh_from_db()
    return run


def _run_fail(run: AllocationRun, message: str, result: dict | None = None) -> AllocationRun:
    AllocationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        progress=100,
        stage="failed",
        error=message,
        result=result,
        solver_status=(result or {}).get("status", ""),
        finished_at=timezone.now(),
    )
    audit_record(actor=None, action="allocation.run_failed", obj=run, reason=message)
    run.refresh_from_db()
    return run


WHOLE_HOUR = Decimal(1)


def whole_hours(value) -> Decimal:
    """GPU-hours rounded down to a whole hour: an award never holds more than the optimiser found."""
    return Decimal(str(value)).quantize(WHOLE_HOUR, rounding=ROUND_FLOOR)


def _run_prices(run: AllocationRun) -> dict[str, Decimal]:
    """The list price per pool the run was solved with (pool code -> HK$ per GPU-hour)."""
    return {code: Decimal(entry["price"]) for code, entry in (run.inputs.get("pools") or {}).items()}


def _cells_subsidy(cells, rate: Decimal, prices: dict[str, Decimal]) -> Decimal:
    """Σ hours x price x rate, rounded down to the cent (so whole hours never cost more than the optimiser's)."""
    return sum((c.gpu_hours * prices.get(c.pool.code, c.pool.list_price) * rate for c in cells), ZERO).quantize(
        CENT, rounding=ROUND_FLOOR
    )


def award_audit_values(award: Award, cells=None) -> dict:
    """An award's share, subsidy and hours per pool and quarter (``pool id:quarter id``), in a fixed notation."""
    cells = award.hours.all() if cells is None else cells
    return {
        "proposal": award.proposal_id,
        "run": award.run_id,
        "share": str(Decimal(award.share).quantize(SHARE_QUANTUM)),
        "subsidy": str(Decimal(award.subsidy).quantize(Decimal("0.01"))),
        "hours": {
            f"{c.pool_id}:{c.quarter_id}": str(Decimal(c.gpu_hours).quantize(SHARE_QUANTUM))
            for c in sorted(cells, key=lambda c: (c.pool_id, c.quarter_id))
        },
    }


@transaction.atomic
def _awards_create(run: AllocationRun, result: dict) -> None:
    """Store the optimiser's result as awards in whole GPU-hours: each pool-quarter rounded down, the subsidy
    worked out again from the rounded hours (so it never exceeds the optimiser's either)."""
    run = AllocationRun.objects.select_for_update().get(pk=run.pk)
    if run.is_finished:
        return
    projects = run.inputs["projects"]
    proposals = dict(
        Proposal.objects.filter(call=run.call, reference__in=[p["id"] for p in projects]).values_list("reference", "pk")
    )
    pools = {p.code: p for p in ResourcePool.objects.filter(code__in=run.inputs["pools"])}
    quarter_codes = {q for entry in run.inputs["pools"].values() for q in entry["capacity"]}
    quarters = {q.code: q for q in Quarter.objects.filter(code__in=quarter_codes)}
    prices = _run_prices(run)
    call_rate = Decimal(run.inputs["subsidy_rate"])
    awards = []
    cells_by_award: list[list[AwardHours]] = []
    for project in projects:
        outcome = result["awards"][project["id"]]
        rate = Decimal(project.get("subsidy_rate", call_rate))
        award = Award(
            run=run,
            proposal_id=proposals[project["id"]],
            score=Decimal(str(project["score"])),
            min_share=Decimal(str(project["min_share"])),
            share=Decimal(repr(outcome["share"])).quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR),
            subsidy_rate=rate,
            reason=outcome["reason"],
        )
        cells = [
            AwardHours(
                award=award,
                pool=pools[pool_code],
                quarter=quarters[quarter_code],
                requested=Decimal(str(requested)),
                gpu_hours=whole_hours(outcome["hours"][pool_code][quarter_code]),
            )
            for pool_code, quarter_hours in project["request"].items()
            for quarter_code, requested in quarter_hours.items()
        ]
        award.subsidy = _cells_subsidy(cells, rate, prices)
        awards.append(award)
        cells_by_award.append(cells)
    Award.objects.bulk_create(awards)
    for award, cells in zip(awards, cells_by_award, strict=True):
        for cell in cells:
            cell.award = award
    AwardHours.objects.bulk_create([c for cells in cells_by_award for c in cells], batch_size=2000)
    run.result = result
    run.status = RunStatus.SUCCEEDED
    run.solver_status = result["status"]
    run.progress = 100
    run.stage = "finished"
    run.finished_at = timezone.now()
    run.save(update_fields=["result", "status", "solver_status", "progress", "stage", "finished_at"])
    audit_record(
        actor=None,
        action="allocation.run_finished",
        obj=run,
        after={
            "status": result["status"],
            "objective": result["objective"],
            "gap": result["gap"],
            "subsidy": str(sum((a.subsidy for a in awards), ZERO)),
            "hours": str(sum((c.gpu_hours for cells in cells_by_award for c in cells), ZERO)),
        },
    )


# ---- Hand adjustment -----------------------------------------------------------------------------------------------

SOFT_LIMIT_MIN_SHARE = "min_share"


def _org_code(run: AllocationRun, reference: str) -> str:
    return next((p["org"] for p in run.inputs.get("projects", []) if p["id"] == reference), "")


def _pool_names(run: AllocationRun) -> dict[str, str]:
    return dict(ResourcePool.objects.filter(code__in=run.inputs.get("pools") or {}).values_list("code", "name"))


@transaction.atomic
def award_adjust(
    *,
    award: Award,
    hours: dict[int, Decimal],
    reason: str,
    actor,
    limit_reason: str = "",
    now: datetime | None = None,
) -> Award:
    """Set the hours of an unlocked award by hand, cell by cell (``hours``: AwardHours id -> whole GPU-hours).

    The reason is required and audited. Hard limits refuse the adjustment: each cell between 0 and the request, in
    whole GPU-hours; the run's capacity in each pool and quarter; the subsidy budget the run was solved with. Soft
    limits may be passed with a reason (``limit_reason``), which the approving official approves with the lock:
    the organisation cap (per organisation and pool) and the project's minimum viable share. Only a change that
    raises a figure is held against a limit, so hours can always be taken away. Share and subsidy are worked out
    again. Capacity and the budget are checked again, against every locked allocation, when the run is locked."""
    _require(actor, "portal.allocations.adjust_award", award)
    reason = reason.strip()
    limit_reason = limit_reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the adjustment.")})
    run = AllocationRun.objects.select_for_update().get(pk=award.run_id)
    if run.is_locked or run.status != RunStatus.SUCCEEDED:
        raise ValidationError(_("Only the awards of a finished, unlocked run can be adjusted."))
    if run.lock_proposed_at is not None:
        raise ValidationError(
            _("The lock of this run has been proposed: withdraw the proposal before adjusting an award.")
        )
    award = Award.objects.select_for_update().select_related("proposal__organisation").get(pk=award.pk)
    cells = list(award.hours.select_related("pool", "quarter"))
    before_cells = {c.pk: c.gpu_hours for c in cells}
    before = {f"{c.pool.code} {c.quarter.code}": str(c.gpu_hours) for c in cells} | {
        "share": str(award.share),
        "subsidy": str(award.subsidy),
    }
    errors: dict[str, list[str]] = defaultdict(list)
    for cell in cells:
        value = Decimal(hours.get(cell.pk, cell.gpu_hours))
        field = f"cell_{cell.pk}"
        if value != value.to_integral_value():
            errors[field].append(_("Awards are in whole GPU-hours."))
        elif value < 0 or value > cell.requested:
            errors[field].append(
                _("Between 0 and the %(requested)s GPU-hours requested.") % {"requested": f"{cell.requested:,.0f}"}
            )
        cell.gpu_hours = value
    if errors:
        raise ValidationError(dict(errors))
    pool_names = _pool_names(run)
    # Hard: the run's capacity in each pool and quarter (what was free when it was solved).
    others = defaultdict(Decimal)
    for row in (
        AwardHours.objects.filter(award__run=run)
        .exclude(award=award)
        .values("pool__code", "quarter__code")
        .annotate(total=Sum("gpu_hours"))
        .order_by()
    ):
        others[(row["pool__code"], row["quarter__code"])] = row["total"]
    for cell in cells:
        if cell.gpu_hours <= before_cells[cell.pk]:
            continue
        capacity = Decimal(
            str(run.inputs["pools"].get(cell.pool.code, {}).get("capacity", {}).get(cell.quarter.code, 0))
        )
        total = others[(cell.pool.code, cell.quarter.code)] + cell.gpu_hours
        if total > capacity:
            errors[f"cell_{cell.pk}"].append(
                _(
                    "Capacity: the run would award %(total)s GPU-hours of %(pool)s in %(quarter)s, above the %(limit)s available to it."
                )
                % {
                    "total": f"{total:,.0f}",
                    "pool": pool_names.get(cell.pool.code, cell.pool.code),
                    "quarter": cell.quarter.code,
                    "limit": f"{capacity:,.0f}",
                }
            )
    if errors:
        raise ValidationError(dict(errors))
    # Hard: the subsidy budget the run was solved with.
    subsidy = _cells_subsidy(cells, award.subsidy_rate, _run_prices(run))
    budget = Decimal(run.inputs["budget"])
    other_subsidy = run.awards.exclude(pk=award.pk).aggregate(total=Sum("subsidy"))["total"] or ZERO
    if subsidy > award.subsidy and other_subsidy + subsidy > budget:
        raise ValidationError(
            _(
                "Budget: the run's subsidy would be %(total)s, above the budget of %(budget)s it was solved with; this award may add at most %(room)s."
            )
            % {
                "total": f"HK${other_subsidy + subsidy:,.2f}",
                "budget": f"HK${budget:,.2f}",
                "room": f"HK${max(budget - other_subsidy - award.subsidy, ZERO):,.2f}",
            }
        )
    # Soft: the organisation cap per pool, and the minimum viable share.
    soft: list[str] = []
    messages: list[str] = []
    org = _org_code(run, award.proposal.reference)
    org_cap = Decimal(run.inputs["org_cap"])
    same_org = [
        p["id"] for p in run.inputs.get("projects", []) if p["org"] == org and p["id"] != award.proposal.reference
    ]
    org_others = defaultdict(Decimal)
    for row in (
        AwardHours.objects.filter(award__run=run, award__proposal__reference__in=same_org)
        .values("pool__code")
        .annotate(total=Sum("gpu_hours"))
        .order_by()
    ):
        org_others[row["pool__code"]] = row["total"]
    pool_totals = defaultdict(Decimal)
    pool_before = defaultdict(Decimal)
    for cell in cells:
        pool_totals[cell.pool.code] += cell.gpu_hours
        pool_before[cell.pool.code] += before_cells[cell.pk]
    for pool_code in sorted(pool_totals):
        if pool_totals[pool_code] <= pool_before[pool_code]:
            continue
        capacity = sum((Decimal(str(v)) for v in run.inputs["pools"][pool_code]["capacity"].values()), ZERO)
        limit = (org_cap * capacity).quantize(WHOLE_HOUR, rounding=ROUND_FLOOR)
        total = org_others[pool_code] + pool_totals[pool_code]
        if total > limit:
            soft.append(f"org_cap {org} {pool_code}")
            messages.append(
                _(
                    "Organisation cap: %(org)s would hold %(total)s GPU-hours of %(pool)s in this run, above its cap of %(cap)s (%(limit)s GPU-hours)."
                )
                % {
                    "org": award.proposal.organisation.name,
                    "total": f"{total:,.0f}",
                    "pool": pool_names.get(pool_code, pool_code),
                    "cap": f"{org_cap * 100:.1f}%",
                    "limit": f"{limit:,.0f}",
                }
            )
    requested = sum((c.requested for c in cells), ZERO)
    total = sum((c.gpu_hours for c in cells), ZERO)
    minimum = minimum_hours(cells, award.min_share)
    if 0 < total < minimum:
        soft.append(SOFT_LIMIT_MIN_SHARE)
        messages.append(
            _(
                "Minimum share: %(hours)s GPU-hours is %(share)s of the request, below the project's minimum viable share of %(minimum)s (%(min_hours)s GPU-hours)."
            )
            % {
                "hours": f"{total:,.0f}",
                "share": f"{total / requested * 100:.1f}%",
                "minimum": f"{award.min_share * 100:.1f}%",
                "min_hours": f"{minimum:,.0f}",
            }
        )
    if soft and not limit_reason:
        raise ValidationError(
            {
                "limit_reason": [
                    *messages,
                    _("To go past a soft limit, give the reason; the chair approves it when approving the lock."),
                ]
            }
        )
    for cell in cells:
        cell.full_clean()
    AwardHours.objects.bulk_update(cells, ["gpu_hours"])
    share = (total / requested).quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR) if requested else ZERO
    award.share = share
    award.subsidy = subsidy
    award.adjusted_by = actor
    award.adjusted_at = now or timezone.now()
    award.adjust_reason = reason
    award.soft_limits = soft
    award.soft_limit_reason = limit_reason if soft else ""
    award.full_clean()
    award.save(
        update_fields=[
            "share",
            "subsidy",
            "adjusted_by",
            "adjusted_at",
            "adjust_reason",
            "soft_limits",
            "soft_limit_reason",
        ]
    )
    audit_record(
        actor=actor,
        action="allocation.award_adjust",
        obj=award,
        before=before,
        after={f"{c.pool.code} {c.quarter.code}": str(c.gpu_hours) for c in cells}
        | {"share": str(share), "subsidy": str(subsidy), "soft_limits": soft, "limit_reason": award.soft_limit_reason},
        reason=award.adjust_reason,
    )
    return award


def minimum_hours(cells, min_share: Decimal) -> Decimal:
    """The fewest GPU-hours an award may have and still meet its minimum viable share: the minimum share of each
    pool-quarter's request, rounded down to whole hours as awards are."""
    return sum((whole_hours(min_share * c.requested) for c in cells), ZERO)


def _subsidy(cells, rate: Decimal) -> Decimal:
    return sum((c.gpu_hours * c.pool.list_price * rate for c in cells), ZERO).quantize(CENT, rounding=ROUND_FLOOR)


# ---- Lock ------------------------------------------------------------------------------------------------------------


class CapacityExceeded(ValidationError):
    """Locking would award more hours than a pool has in a quarter (or more than the call's budget)."""


def _lock_capacity_rows(keys: set[tuple[int, int]]) -> dict[tuple[int, int], PoolCapacity]:
    """Row-lock the capacity rows of ``keys`` ((pool id, quarter id)), always in primary-key order."""
    if not keys:
        return {}
    pool_ids = {k[0] for k in keys}
    quarter_ids = {k[1] for k in keys}
    rows = (
        PoolCapacity.objects.select_for_update(of=("self",))
        .filter(pool_id__in=pool_ids, quarter_id__in=quarter_ids)
        .select_related("pool", "quarter")
        .order_by("pk")
    )
    return {(row.pool_id, row.quarter_id): row for row in rows}


def _check_capacity(cells: dict[tuple[int, int], Decimal]) -> None:
    """Raise CapacityExceeded unless ``cells`` (extra hours per pool and quarter) fit beside every locked award.
    The caller holds the transaction; this locks the capacity rows first."""
    rows = _lock_capacity_rows({key for key, hours in cells.items() if hours > 0})
    taken = locked_hours(pool_ids={k[0] for k in cells}, quarter_ids={k[1] for k in cells})
    problems = []
    for key, hours in sorted(cells.items()):
        if hours <= 0:
            continue
        row = rows.get(key)
        limit = awardable(row) if row is not None else ZERO
        already = taken.get(key, ZERO)
        if already + hours > limit:
            pool = row.pool.name if row else str(key[0])
            quarter = row.quarter.code if row else str(key[1])
            problems.append(
                _(
                    "%(pool)s in %(quarter)s: %(hours)s GPU-hours more would make %(total)s, above the %(limit)s that may be awarded."
                )
                % {
                    "pool": pool,
                    "quarter": quarter,
                    "hours": f"{hours:,.0f}",
                    "total": f"{already + hours:,.0f}",
                    "limit": f"{limit:,.0f}",
                }
            )
    if problems:
        raise CapacityExceeded(problems)


def lock_totals(run: AllocationRun) -> dict:
    """The figures an officer confirms when proposing a lock and the approver when approving it: projects funded,
    GPU-hours per pool and quarter and in all, the subsidy, and the awards past a soft limit. Two queries."""
    funded = 0
    projects = 0
    subsidy = ZERO
    soft = []
    for award_id, share, amount, limits in run.awards.order_by("pk").values_list(
        "pk", "share", "subsidy", "soft_limits"
    ):
        projects += 1
        funded += share > 0
        subsidy += amount
        if limits:
            soft.append(award_id)
    cells = {}
    total = ZERO
    for row in (
        AwardHours.objects.filter(award__run=run)
        .values("pool__code", "quarter__code")
        .annotate(hours=Sum("gpu_hours"))
        .order_by("pool__code", "quarter__code")
    ):
        cells[f"{row['pool__code']} {row['quarter__code']}"] = str(whole_hours(row["hours"]))
        total += row["hours"]
    return {
        "run": run.pk,
        "projects": projects,
        "funded": funded,
        "hours": cells,
        "total_hours": str(whole_hours(total)),
        "subsidy": f"{subsidy:.2f}",
        "soft_limits": soft,
    }


def lock_fingerprint(totals: dict) -> str:
    """A short digest of ``lock_totals``: what the confirmation form carries, so that figures that changed after
    they were shown are never confirmed."""
    return hashlib.sha256(json.dumps(totals, sort_keys=True).encode()).hexdigest()[:16]


def _check_confirmed(run: AllocationRun, confirmed: str) -> dict:
    totals = lock_totals(run)
    if confirmed != lock_fingerprint(totals):
        raise ValidationError(
            _("The awards changed after the totals were shown to you; check the new totals and confirm again.")
        )
    return totals


@transaction.atomic
def allocation_lock_propose(*, run: AllocationRun, actor, confirmed: str, now: datetime | None = None) -> AllocationRun:
    """The first pair of eyes: an allocation officer proposes to lock ``run`` with the totals they confirmed
    (``confirmed`` is the ``lock_fingerprint`` of the totals they were shown). Awards cannot be adjusted while the
    proposal stands; an approving official approves it (``allocation_lock``) or sends it back."""
    _require(actor, "portal.allocations.propose_lock", run)
    run = AllocationRun.objects.select_for_update().select_related("call").get(pk=run.pk)
    if run.status != RunStatus.SUCCEEDED:
        raise ValidationError(_("Only a finished run can be locked."))
    if run.is_locked:
        raise ValidationError(_("This run is already locked."))
    if run.lock_proposed_at is not None:
        raise ValidationError(_("The lock of this run has already been proposed."))
    if run.kind == RunKind.ALLOCATION and locked_run(call=run.call) is not None:
        raise ValidationError(_("Another run of this call is already locked."))
    totals = _check_confirmed(run, confirmed)
    run.lock_proposed_at = now or timezone.now()
    run.lock_proposed_by = actor
    run.lock_totals = totals
    run.full_clean()
    run.save(update_fields=["lock_proposed_at", "lock_proposed_by", "lock_totals"])
    audit_record(actor=actor, action="allocation.lock_propose", obj=run, after=totals)
    transaction.on_commit(lambda: _notify_lock_proposed(run.pk))
    return run


@transaction.atomic
def allocation_lock_cancel(*, run: AllocationRun, actor, reason: str, now: datetime | None = None) -> AllocationRun:
    """Withdraw a proposed lock (its proposer) or send it back (an approving official), with the reason. The
    awards can then be adjusted again."""
    run = (
        AllocationRun.objects.select_for_update(of=("self",)).select_related("call", "lock_proposed_by").get(pk=run.pk)
    )
    if not run.is_lock_proposed:
        raise ValidationError(_("No lock of this run waits for approval."))
    if actor.pk != run.lock_proposed_by_id and not actor.has_perm("portal.allocations.lock_allocation", run):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    proposer = run.lock_proposed_by
    before = {"proposed_by": proposer.pk, "proposed_at": run.lock_proposed_at, "totals": run.lock_totals}
    run.lock_proposed_at = None
    run.lock_proposed_by = None
    run.lock_totals = {}
    run.save(update_fields=["lock_proposed_at", "lock_proposed_by", "lock_totals"])
    returned = actor.pk != proposer.pk
    audit_record(
        actor=actor,
        action="allocation.lock_return" if returned else "allocation.lock_withdraw",
        obj=run,
        before=before,
        reason=reason.strip(),
    )
    if returned:
        url = reverse("allocations:run", args=[run.pk])
        message = Message(
            gettext_noop("The lock of run #%(n)s was sent back by %(who)s: %(reason)s"),
            {"n": run.pk, "who": actor.full_name, "reason": reason.strip()},
        )
        notify(user=proposer, message=message, url=url)
    return run


def _notify_lock_proposed(run_id: int) -> None:
    from portal.accounts.enums import Role
    from portal.accounts.models import User

    run = AllocationRun.objects.select_related("call", "lock_proposed_by").get(pk=run_id)
    totals = run.lock_totals
    url = reverse("allocations:run_lock", args=[run.pk])
    approvers = User.objects.filter(role__in=(Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER), is_active=True)
    for user in approvers.exclude(pk=run.lock_proposed_by_id).order_by("pk"):
        message = Message(
            gettext_noop(
                "%(who)s proposes to lock run #%(n)s of %(call)s: %(funded)s projects, %(hours)s GPU-hours, subsidy %(subsidy)s. It waits for your approval."
            ),
            {
                "who": run.lock_proposed_by.full_name,
                "n": run.pk,
                "call": Bilingual.of(run.call, "title"),
                "funded": totals.get("funded"),
                "hours": f"{Decimal(totals.get('total_hours', 0)):,.0f}",
                "subsidy": f"HK${Decimal(totals.get('subsidy', 0)):,.2f}",
            },
        )
        notify(user=user, message=message, url=url, key=f"lock-proposed:{run.pk}:{run.lock_proposed_at.isoformat()}")


@transaction.atomic
def allocation_lock(
    *, call: Call, run: AllocationRun, actor, confirmed: str, now: datetime | None = None
) -> AllocationRun:
    """Lock ``run`` as the call's allocation (or, for a reallocation run, as a top-up): the one place where awards
    become locked. It is the second pair of eyes: the lock must have been proposed (``allocation_lock_propose``)
    by someone else, ``actor`` is an approving official who adjusted none of the awards past a soft limit, and
    ``confirmed`` is the fingerprint of the totals they were shown, which must still be the proposed ones.

    Inside one transaction: the run row and the capacity rows it touches are locked, capacity and the call's
    budget are checked against every locked award, the funded proposals move APPROVED → ALLOCATED → ACTIVE, the
    tranches are created (the first released at once), and each project is told after commit."""
    now = now or timezone.now()
    _require(actor, "portal.allocations.lock_allocation", run)
    run = AllocationRun.objects.select_for_update().select_related("call").get(pk=run.pk)
    if run.call_id != call.pk:
        raise ValidationError(_("This run belongs to another call."))
    if run.status != RunStatus.SUCCEEDED:
        raise ValidationError(_("Only a finished run can be locked."))
    if run.is_locked:
        raise ValidationError(_("This run is already locked."))
    if run.lock_proposed_at is None:
        raise ValidationError(_("The lock must first be proposed by an allocation officer."))
    if run.lock_proposed_by_id == actor.pk:
        raise ValidationError(_("You proposed this lock: another approving official must approve it (four-eyes rule)."))
    totals = _check_confirmed(run, confirmed)
    if totals != run.lock_totals:
        raise ValidationError(_("The awards changed after the lock was proposed; it must be proposed again."))
    if run.awards.filter(adjusted_by=actor).exclude(soft_limits=[]).exists():
        raise ValidationError(
            _("You took an award of this run past a soft limit: another approving official must approve the lock.")
        )
    awards = list(
        run.awards.filter(share__gt=0).select_related("proposal__organisation").prefetch_related("hours__pool")
    )
    cells: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for award in awards:
        for cell in award.hours.all():
            cells[(cell.pool_id, cell.quarter_id)] += cell.gpu_hours
    _check_capacity(cells)  # takes the row locks that serialise concurrent locks
    if run.kind == RunKind.ALLOCATION and locked_run(call=call) is not None:
        raise ValidationError(_("Another run of this call has been locked meanwhile."))
    committed = (
        Award.objects.filter(run__call=call, run__locked_at__isnull=False).aggregate(total=Sum("subsidy"))["total"]
        or ZERO
    )
    subsidy = sum((a.subsidy for a in awards), ZERO)
    if committed + subsidy > call.budget:
        raise CapacityExceeded(
            _("The subsidy committed would be %(total)s, above the call's budget of %(budget)s.")
            % {"total": format_hkd(committed + subsidy), "budget": format_hkd(call.budget)}
        )
    allowed = {ProposalState.APPROVED}
    if run.kind == RunKind.REALLOCATION:
        allowed |= {ProposalState.ALLOCATED, ProposalState.ACTIVE}
    not_approved = sorted(a.proposal.reference for a in awards if a.proposal.state not in allowed)
    if not_approved:
        raise ValidationError(
            _("Only approved proposals can be allocated; not yet approved (or no longer): %(list)s.")
            % {"list": ", ".join(not_approved)}
        )
    run.locked_at = now
    run.locked_by = actor
    run.full_clean()
    run.save(update_fields=["locked_at", "locked_by"])
    first_share = call_settings(call=call).first_tranche_share
    for award in awards:
        proposal = award.proposal
        if proposal.state == ProposalState.APPROVED:
            proposal_transition(proposal=proposal, action="allocate", actor=actor, now=now, notify_after=False)
        if not proposal.account_code:
            proposal.account_code = "aiss-" + proposal.reference.lower().removeprefix("aiss-")
            Proposal.objects.filter(pk=proposal.pk).update(account_code=proposal.account_code)
        Tranche.objects.create(
            award=award,
            number=1,
            share=first_share,
            condition=TrancheCondition.START,
            released_at=now,
            released_by=actor,
        )
        if first_share < 1:
            Tranche.objects.create(
                award=award, number=2, share=1 - first_share, condition=TrancheCondition.PROGRESS_REPORT
            )
        if proposal.state == ProposalState.ALLOCATED:
            proposal_transition(proposal=proposal, action="activate", actor=actor, now=now, notify_after=False)
        # The project's progress reports, from the call's settings (once per project: a top-up adds none).
        from portal.projects.progress import progress_report_schedule  # the projects app sits above this one

        progress_report_schedule(award=award, actor=actor)
    # Each award as locked (funded or not): ``verify_audit`` compares the stored awards with these values.
    for award in run.awards.prefetch_related("hours").order_by("pk"):
        audit_record(actor=actor, action=AWARD_LOCKED, obj=award, after=award_audit_values(award))
    # Version 1 of each funded award (domain brief §10: the lock, then every change, is a version).
    for award in awards:
        award_version_record(
            award=award,
            kind=AwardVersionKind.LOCK,
            reason=f"Run #{run.pk} locked (proposed by user #{run.lock_proposed_by_id})",
            actor=actor,
            now=now,
        )
    audit_record(
        actor=actor,
        action="allocation.lock",
        obj=run,
        after={
            "kind": run.kind,
            "proposed_by": run.lock_proposed_by_id,
            "funded": [a.proposal.reference for a in awards],
            "hours": {f"{k[0]}:{k[1]}": str(v) for k, v in sorted(cells.items())},
            "subsidy": str(subsidy),
            "soft_limits_approved": {str(a.pk): a.soft_limits for a in awards if a.soft_limits},
        },
    )
    award_ids = [a.pk for a in awards]
    transaction.on_commit(lambda: _notify_awards(award_ids))
    return run


def _members(proposal: Proposal):
    return [m.user for m in proposal.organisation.memberships.select_related("user")]


def _notify_awards(award_ids: list[int]) -> None:
    for award in Award.objects.filter(pk__in=award_ids).select_related("proposal__organisation", "run"):
        proposal = award.proposal
        hours = award.hours.aggregate(total=Sum("gpu_hours"))["total"] or ZERO
        url = reverse("projects:project", args=[proposal.pk])
        for user in _members(proposal):
            message = Message(
                gettext_noop("%(reference)s is awarded %(hours)s GPU-hours."),
                {"reference": proposal.reference, "hours": f"{hours:,.0f}"},
            )
            notify(user=user, message=message, url=url, key=f"allocation-award:{award.pk}")
            email_queue(
                key=f"allocation-award:{award.pk}:{user.pk}",
                to=user.email,
                template="emails/allocations_awarded",
                context={
                    "name": user.full_name,
                    "reference": proposal.reference,
                    "title": proposal.title,
                    "hours": f"{hours:,.0f}",
                    "share": f"{award.share * 100:.1f}%",
                    "subsidy": format_hkd(award.subsidy),
                    "topup": award.run.kind == RunKind.REALLOCATION,
                    "url": url,
                },
                language=user.preferred_language,
            )


# ---- Tranches --------------------------------------------------------------------------------------------------------


@transaction.atomic
def tranche_release(
    *, tranche: Tranche, actor, now: datetime | None = None, reason: str = "First progress report accepted"
) -> Tranche:
    """Release a tranche held until the first progress report is accepted (by hand: the secretariat)."""
    _require(actor, "portal.allocations.release_tranche")
    return _tranche_release(tranche=tranche, actor=actor, now=now, reason=reason)


def overdue_reports(*, proposal_id: int, today) -> list:
    """The project's progress reports past their due date and not submitted, oldest first. Read through the
    reverse relation (``progress_reports``, in portal.projects, above this app); the state ``due`` is
    ``portal.projects.enums.ReportState.DUE``."""
    return list(
        Proposal.objects.get(pk=proposal_id)
        .progress_reports.filter(state="due", due_on__lt=today)
        .order_by("due_on", "number")
    )


@transaction.atomic
def _tranche_release(*, tranche: Tranche, actor, now: datetime | None = None, reason: str) -> Tranche:
    """:func:`tranche_release` without the permission check, for the service that accepts a progress report
    (which checks its own). Refused, with the reason, while a progress report of the project is overdue: an overdue
    report holds every further tranche (domain brief §10)."""
    now = now or timezone.now()
    tranche = Tranche.objects.select_for_update().select_related("award__proposal").get(pk=tranche.pk)
    if tranche.released_at is not None:
        raise ValidationError(_("This tranche has already been released."))
    overdue = overdue_reports(proposal_id=tranche.award.proposal_id, today=hk_localtime(now).date())
    if overdue:
        raise ValidationError(
            _("Progress report %(n)s was due on %(date)s and is overdue: further tranches are held until it is in.")
            % {"n": overdue[0].number, "date": overdue[0].due_on.isoformat()},
            code="report_overdue",
        )
    tranche.released_at = now
    tranche.released_by = actor
    tranche.full_clean()
    tranche.save(update_fields=["released_at", "released_by"])
    audit_record(
        actor=actor,
        action="allocation.tranche_release",
        obj=tranche.award,
        after={"tranche": tranche.number, "share": str(tranche.share)},
        reason=reason,
    )
    return tranche


# ---- Claw-back -------------------------------------------------------------------------------------------------------


@transaction.atomic
def clawback_schedule(*, call: Call, actor=None) -> list[ClawbackCheckpoint]:
    """The call's checkpoints, creating the default schedule when it has none (domain brief §7, after US ALCC):
    under 10% used → 25% of the unused balance reclaimed at the first; under 25% used → 50% at the second.
    Our choice of dates: the end of the middle quarter of the call, then the end of the quarter after it.
    Each checkpoint created is audited as a configuration change of ``actor`` (None: the system)."""
    existing = list(ClawbackCheckpoint.objects.filter(call=call).order_by("number"))
    if existing:
        return existing
    _pools, quarters = call_pools_quarters(call)
    if not quarters:
        return []
    first = max(0, len(quarters) // 2 - 1)
    dates = [quarters[first].ends_on, quarters[min(len(quarters) - 1, first + 1)].ends_on]
    created = []
    for number, ((threshold, share), due_on) in enumerate(zip(DEFAULT_CHECKPOINTS, dates, strict=True), start=1):
        checkpoint = ClawbackCheckpoint(
            call=call, number=number, due_on=due_on, threshold=threshold, reclaim_share=share
        )
        with config_change(actor=actor, obj=checkpoint):
            checkpoint.full_clean()
            checkpoint.save()
        created.append(checkpoint)
    return created


def clawback_preview(*, checkpoint: ClawbackCheckpoint) -> list[dict]:
    """For each locked, funded award of the call: awarded, used, used share, and the hours the checkpoint would
    reclaim now (from quarters starting after the checkpoint date)."""
    awards = list(
        Award.objects.filter(run__call=checkpoint.call, run__locked_at__isnull=False, share__gt=0)
        .select_related("proposal__organisation")
        .prefetch_related("hours__quarter", "hours__pool")
        .order_by("proposal__reference", "pk")
    )
    by_proposal: dict[int, list[Award]] = defaultdict(list)
    for award in awards:
        by_proposal[award.proposal_id].append(award)
    used = used_hours_by_proposal(proposal_ids=by_proposal)
    rows = []
    for proposal_id, proposal_awards in by_proposal.items():
        cells = [c for a in proposal_awards for c in a.hours.all()]
        awarded = sum((c.gpu_hours + c.reclaimed for c in cells), ZERO)
        used_hours = used.get(proposal_id, ZERO)
        amount = clawback_hours(
            awarded=awarded, used=used_hours, threshold=checkpoint.threshold, reclaim_share=checkpoint.reclaim_share
        )
        future = sorted(
            (c for c in cells if c.quarter.starts_on > checkpoint.due_on and c.gpu_hours > 0),
            key=lambda c: (c.quarter.starts_on, c.pool.code, c.pk),
        )
        split = split_reclaim([(c.pk, c.gpu_hours) for c in future], amount)
        rows.append(
            {
                "proposal": proposal_awards[0].proposal,
                "awards": proposal_awards,
                "cells": future,
                "awarded": awarded,
                "used": used_hours,
                "used_share": used_hours / awarded if awarded else None,
                "reclaim": sum(split.values(), ZERO),
                "split": split,
            }
        )
    return rows


@transaction.atomic
def clawback_warn(*, checkpoint: ClawbackCheckpoint, actor, now: datetime | None = None) -> int:
    """Tell each project that would lose hours at ``checkpoint`` (as usage stands now) before it happens.
    Returns how many projects were told."""
    _require(actor, "portal.allocations.manage_clawback", checkpoint)
    return _clawback_warn(checkpoint=checkpoint, actor=actor, now=now)


def _clawback_warn(*, checkpoint: ClawbackCheckpoint, actor, now: datetime | None) -> int:
    """:func:`clawback_warn` without the permission check; ``actor`` None is the scheduler."""
    checkpoint = ClawbackCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
    if checkpoint.status == CheckpointStatus.APPLIED:
        raise ValidationError(_("This checkpoint has already been applied."))
    at_risk = [row for row in clawback_preview(checkpoint=checkpoint) if row["reclaim"] > 0]
    checkpoint.status = CheckpointStatus.WARNED
    checkpoint.warned_at = now or timezone.now()
    checkpoint.save(update_fields=["status", "warned_at"])
    audit_record(
        actor=actor,
        action="allocation.clawback_warn",
        obj=checkpoint,
        after={"warned": [row["proposal"].reference for row in at_risk]},
    )
    rows = [(row["proposal"].pk, str(row["reclaim"]), str(row["used"]), str(row["awarded"])) for row in at_risk]
    transaction.on_commit(lambda: _notify_clawback(checkpoint.pk, rows, "warning"))
    return len(at_risk)


@transaction.atomic
def clawback_apply(*, checkpoint: ClawbackCheckpoint, actor, now: datetime | None = None) -> list[Clawback]:
    """Reclaim under-used hours at ``checkpoint``: the hours leave the awards (future quarters only) and return
    to the pools; each project concerned is told. Applying twice does nothing the second time."""
    _require(actor, "portal.allocations.manage_clawback", checkpoint)
    return _clawback_apply(checkpoint=checkpoint, actor=actor, now=now)


def _clawback_apply(*, checkpoint: ClawbackCheckpoint, actor, now: datetime | None) -> list[Clawback]:
    """:func:`clawback_apply` without the permission check; ``actor`` None is the scheduler."""
    now = now or timezone.now()
    checkpoint = ClawbackCheckpoint.objects.select_for_update().select_related("call").get(pk=checkpoint.pk)
    if checkpoint.status == CheckpointStatus.APPLIED:
        raise ValidationError(_("This checkpoint has already been applied."))
    if timezone.localdate(now) < checkpoint.due_on:
        raise ValidationError(
            _("This checkpoint falls on %(date)s; it cannot be applied before then.") % {"date": checkpoint.due_on}
        )
    preview = clawback_preview(checkpoint=checkpoint)
    cell_ids = [pk for row in preview for pk, hours in row["split"].items() if hours > 0]
    locked_cells = {
        c.pk: c for c in AwardHours.objects.select_for_update().filter(pk__in=cell_ids).select_related("pool")
    }
    made = []
    for row in preview:
        if row["reclaim"] <= 0:
            continue
        for pk, hours in row["split"].items():
            if hours > 0:
                cell = locked_cells[pk]
                cell.gpu_hours -= hours
                cell.reclaimed += hours
                cell.full_clean()
                cell.save(update_fields=["gpu_hours", "reclaimed"])
        for award in row["awards"]:
            cells = list(award.hours.select_related("pool"))
            requested = sum((c.requested for c in cells), ZERO)
            award.share = (sum((c.gpu_hours for c in cells), ZERO) / requested).quantize(
                SHARE_QUANTUM, rounding=ROUND_FLOOR
            )
            award.subsidy = _subsidy(cells, award.subsidy_rate)
            award.save(update_fields=["share", "subsidy"])
            audit_record(actor=actor, action=AWARD_RECLAIMED, obj=award, after=award_audit_values(award, cells))
            if not any(locked_cells[pk].award_id == award.pk for pk, hours in row["split"].items() if hours > 0):
                continue  # another award of the project gave the hours: this one is unchanged
            award_version_record(
                award=award,
                kind=AwardVersionKind.CLAWBACK,
                reason=(
                    f"Checkpoint {checkpoint.number} of {checkpoint.due_on.isoformat()}: {row['used']:.1f} of "
                    f"{row['awarded']:,.0f} GPU-hours used, {row['reclaim']:,.0f} unused GPU-hours reclaimed"
                ),
                actor=actor,
                now=now,
            )
        made.append(
            Clawback.objects.create(
                checkpoint=checkpoint,
                award=row["awards"][0],
                awarded=row["awarded"],
                used=row["used"],
                reclaimed=row["reclaim"],
                created_at=now,
            )
        )
    checkpoint.status = CheckpointStatus.APPLIED
    checkpoint.applied_at = now
    checkpoint.applied_by = actor
    checkpoint.save(update_fields=["status", "applied_at", "applied_by"])
    audit_record(
        actor=actor,
        action="allocation.clawback_apply",
        obj=checkpoint,
        after={c.award.proposal.reference: str(c.reclaimed) for c in made},
    )
    rows = [(c.award.proposal_id, str(c.reclaimed), str(c.used), str(c.awarded)) for c in made]
    transaction.on_commit(lambda: _notify_clawback(checkpoint.pk, rows, "applied"))
    return made


def clawback_checkpoints_run(*, now: datetime | None = None) -> dict[str, list[int]]:
    """The scheduler's side of claw-back (daily, from Celery beat): warn the projects of every checkpoint due within
    ``settings.CLAWBACK_WARNING_DAYS`` that has not warned them yet, and apply every checkpoint whose date has come
    and which has not been applied. Each checkpoint in its own transaction, recorded in the audit log with no actor
    (the system). Safe to run twice, or alongside an official doing the same by hand: the checkpoint row is locked
    and its status read again first, so it is warned once and applied once.
    Returns the ids of the checkpoints warned and applied."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    warn_from = today + timedelta(days=settings.CLAWBACK_WARNING_DAYS)
    done: dict[str, list[int]] = {"warned": [], "applied": []}
    pending = ClawbackCheckpoint.objects.exclude(status=CheckpointStatus.APPLIED).filter(due_on__lte=warn_from)
    for checkpoint in pending.order_by("due_on", "pk"):
        with transaction.atomic():
            locked = ClawbackCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
            if locked.status == CheckpointStatus.APPLIED:
                continue
            if locked.due_on <= today:
                _clawback_apply(checkpoint=locked, actor=None, now=now)
                done["applied"].append(locked.pk)
            elif locked.status == CheckpointStatus.SCHEDULED:
                _clawback_warn(checkpoint=locked, actor=None, now=now)
                done["warned"].append(locked.pk)
    return done


def _notify_clawback(checkpoint_id: int, rows: list[tuple[int, str, str, str]], stage: str) -> None:
    checkpoint = ClawbackCheckpoint.objects.get(pk=checkpoint_id)
    proposals = Proposal.objects.in_bulk([row[0] for row in rows])
    for proposal_id, reclaim, used, awarded in rows:
        proposal = proposals[proposal_id]
        url = reverse("projects:project", args=[proposal.pk])
        context = {
            "reference": proposal.reference,
            "title": proposal.title,
            "date": checkpoint.due_on.isoformat(),
            "threshold": f"{checkpoint.threshold * 100:.0f}%",
            "share": f"{checkpoint.reclaim_share * 100:.0f}%",
            "reclaim": f"{Decimal(reclaim):,.0f}",
            "used": f"{Decimal(used):,.1f}",
            "awarded": f"{Decimal(awarded):,.0f}",
            "url": url,
        }
        for user in _members(proposal):
            if stage == "warning":
                msgid = gettext_noop(
                    "%(reference)s: unless usage rises, %(reclaim)s unused GPU-hours will be reclaimed on %(date)s."
                )
            else:
                msgid = gettext_noop(
                    "%(reference)s: %(reclaim)s unused GPU-hours were reclaimed at the checkpoint of %(date)s."
                )
            notify(user=user, message=Message(msgid, context), url=url)
            email_queue(
                key=f"clawback-{stage}:{checkpoint.pk}:{proposal.pk}:{user.pk}",
                to=user.email,
                template=f"emails/allocations_clawback_{stage}",
                context={"name": user.full_name, **context},
                language=user.preferred_language,
            )


@transaction.atomic
def reallocation_start(
    *, checkpoint: ClawbackCheckpoint, actor, policy: str = AllocationPolicy.OPTIMAL
) -> AllocationRun:
    """Offer the free hours after ``checkpoint`` (reclaimed ones included) to waitlisted and partly funded
    proposals by the same optimiser; lock the run like any other to award them."""
    _require(actor, "portal.allocations.manage_clawback")
    checkpoint = ClawbackCheckpoint.objects.select_related("call").get(pk=checkpoint.pk)
    if checkpoint.status != CheckpointStatus.APPLIED:
        raise ValidationError(_("Apply the checkpoint before reallocating its hours."))
    build = reallocation_problem(checkpoint=checkpoint)
    if not build.problem["projects"] or not build.problem["pools"]:
        raise ValidationError(_("There is no waitlisted or partly funded proposal to offer the hours to."))
    return _run_create(
        call=checkpoint.call,
        kind=RunKind.REALLOCATION,
        policy=policy,
        inputs=build.problem,
        actor=actor,
        time_limit=call_settings(call=checkpoint.call).solver_time_limit,
        checkpoint=checkpoint,
    )
