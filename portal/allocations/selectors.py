"""Reads for allocation: the problem of a call (the exact input of the optimiser), capacity per pool, runs,
awards, comparisons and usage against awards. Querysets come with their joins made; list pages run a constant
number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from portal.calls.models import Call, PoolCapacity, Quarter, ResourcePool
from portal.core.queries import count_of
from portal.decisions.selectors import current_recommendations
from portal.proposals.enums import ProposalState
from portal.proposals.models import ComputeRequest, Proposal
from portal.reviews.selectors import call_scores

from .explain import award_reason
from .models import (
    AllocationRun,
    Award,
    AwardHours,
    CallAllocationSettings,
    ClawbackCheckpoint,
    RunKind,
    RunStatus,
    UsageQuarter,
)

ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)
ALLOCATABLE_STATES = (ProposalState.RECOMMENDED, ProposalState.APPROVED)
HOURS = DecimalField(max_digits=24, decimal_places=6)
DEFAULT_TIERS = ["4.0", "3.0"]


def awardable(capacity: PoolCapacity) -> Decimal:
    """Capacity after the held-back share, in whole GPU-hours (rounded down)."""
    return (Decimal(capacity.gpu_hours) * (1 - capacity.pool.held_back_share)).quantize(
        Decimal(1), rounding=ROUND_FLOOR
    )


def locked_hours(
    *, pool_ids=None, quarter_ids=None, exclude_call: Call | None = None
) -> dict[tuple[int, int], Decimal]:
    """GPU-hours awarded by locked runs (every call), per (pool id, quarter id)."""
    qs = AwardHours.objects.filter(award__run__locked_at__isnull=False)
    if pool_ids is not None:
        qs = qs.filter(pool_id__in=pool_ids)
    if quarter_ids is not None:
        qs = qs.filter(quarter_id__in=quarter_ids)
    if exclude_call is not None:
        qs = qs.exclude(award__run__call=exclude_call)
    rows = qs.values("pool_id", "quarter_id").annotate(total=Sum("gpu_hours")).order_by()
    return {(row["pool_id"], row["quarter_id"]): row["total"] for row in rows}


def call_settings(*, call: Call) -> CallAllocationSettings:
    """The call's allocation settings; defaults (tiers 4.0 and 3.0, half at the start) when none are saved."""
    found = CallAllocationSettings.objects.filter(call=call).first()
    return found or CallAllocationSettings(call=call, tiers=list(DEFAULT_TIERS))


@dataclass
class ProblemBuild:
    """The problem dict for the optimiser, and what was left out of it (with why)."""

    problem: dict[str, Any]
    excluded: list[tuple[str, str]] = field(default_factory=list)


def _requests_by_proposal(proposals: list[Proposal], call: Call) -> tuple[dict[int, dict], dict[int, Decimal]]:
    """Hours per (pool code, quarter code) from the current recommendation, else the current version's compute
    request; and the recommended subsidy rate where there is a recommendation."""
    recommendations = {r.proposal_id: r for r in current_recommendations(call=call)}
    version_ids = [p.current_version_id for p in proposals]
    requested: dict[int, dict] = defaultdict(dict)
    for row in ComputeRequest.objects.filter(version_id__in=version_ids).values(
        "version_id", "pool__code", "quarter__code", "gpu_hours"
    ):
        requested[row["version_id"]][(row["pool__code"], row["quarter__code"])] = row["gpu_hours"]
    hours: dict[int, dict] = {}
    rates: dict[int, Decimal] = {}
    for proposal in proposals:
        recommendation = recommendations.get(proposal.pk)
        if recommendation is not None:
            rates[proposal.pk] = recommendation.subsidy_rate
            cells = {(h.pool.code, h.quarter.code): h.gpu_hours for h in recommendation.hours.all()}
            if cells:
                hours[proposal.pk] = cells
                continue
        hours[proposal.pk] = requested.get(proposal.current_version_id, {})
    return hours, rates


def allocatable_proposals(*, call: Call) -> QuerySet[Proposal]:
    return (
        Proposal.objects.filter(call=call, state__in=ALLOCATABLE_STATES, current_version__isnull=False)
        .select_related("organisation", "current_version")
        .order_by("reference")
    )


def call_pools_quarters(call: Call) -> tuple[list[ResourcePool], list[Quarter]]:
    return list(call.pools.order_by("code")), list(call.quarters.order_by("starts_on"))


def _problem_pools(pools: list[ResourcePool], quarters: list[Quarter], *, exclude_call: Call | None = None) -> dict:
    """The problem's pools: each one's list price and, per quarter, the hours that may be awarded (after the
    held-back share) less what locked runs (of other calls than ``exclude_call``) have awarded there."""
    capacity_rows = {
        (c.pool_id, c.quarter_id): c
        for c in PoolCapacity.objects.filter(pool__in=pools, quarter__in=quarters).select_related("pool")
    }
    taken = locked_hours(
        pool_ids=[p.pk for p in pools], quarter_ids=[q.pk for q in quarters], exclude_call=exclude_call
    )
    problem_pools = {}
    for pool in pools:
        capacity = {}
        for quarter in quarters:
            row = capacity_rows.get((pool.pk, quarter.pk))
            free = awardable(row) - taken.get((pool.pk, quarter.pk), ZERO) if row else ZERO
            capacity[quarter.code] = _plain(max(free, ZERO))
        problem_pools[pool.code] = {"price": f"{pool.list_price:.2f}", "capacity": capacity}
    return problem_pools


def _project(proposal: Proposal, request: dict, *, scores: dict, rates: dict, min_share: str | None = None) -> dict:
    """One project of the problem: ``min_share`` None is the proposal's own minimum share."""
    project = {
        "id": proposal.reference,
        "org": f"org-{proposal.organisation_id}",
        "score": str(scores.get(proposal.pk) or ZERO),
        "min_share": min_share or str(proposal.current_version.min_share.normalize()),
        "request": request,
    }
    if proposal.pk in rates:
        project["subsidy_rate"] = str(rates[proposal.pk])
    return project


def _problem(*, call: Call, pools: dict, budget: Decimal, tiers, projects: list[dict]) -> dict:
    """The problem (``docs/allocation.md``) as the optimiser reads it."""
    return {
        "pools": pools,
        "subsidy_rate": str(call.subsidy_rate),
        "budget": f"{budget:.2f}",
        "org_cap": str(call.org_cap),
        "tiers": [str(t) for t in tiers],
        "projects": projects,
    }


def allocation_problem(*, call: Call) -> ProblemBuild:
    """The problem (``docs/allocation.md``) for the recommended and approved proposals of ``call``.

    Capacity per pool and quarter is what may be awarded (after the held-back share) less what locked runs of
    other calls have awarded there. Scores come from the committee (``call_scores``); a proposal with no score
    yet counts as 0."""
    pools, quarters = call_pools_quarters(call)
    settings = call_settings(call=call)
    problem_pools = _problem_pools(pools, quarters, exclude_call=call)
    proposals = list(allocatable_proposals(call=call))
    hours, rates = _requests_by_proposal(proposals, call)
    scores = call_scores(call=call)
    projects = []
    excluded = []
    for proposal in proposals:
        request: dict[str, dict[str, int]] = {}
        for (pool_code, quarter_code), value in sorted(hours[proposal.pk].items()):
            if value and pool_code in problem_pools and quarter_code in problem_pools[pool_code]["capacity"]:
                request.setdefault(pool_code, {})[quarter_code] = int(value)
        if not request:
            excluded.append((proposal.reference, "no GPU-hours requested in the call's pools and quarters"))
            continue
        projects.append(_project(proposal, request, scores=scores, rates=rates))
    problem = _problem(call=call, pools=problem_pools, budget=call.budget, tiers=settings.tiers, projects=projects)
    return ProblemBuild(problem=problem, excluded=excluded)


def _plain(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else str(value)


def reallocation_problem(*, checkpoint: ClawbackCheckpoint) -> ProblemBuild:
    """Reclaimed (and any other free) hours in the quarters after ``checkpoint`` offered to the call's waitlisted
    proposals (approved, not funded) and to those funded below their full request, by score.

    A waitlisted proposal asks for its original request in those quarters with its own minimum share; a partly
    funded one asks for what it still lacks there, and any top-up is viable for it."""
    call = checkpoint.call
    pools, all_quarters = call_pools_quarters(call)
    quarters = [q for q in all_quarters if q.starts_on > checkpoint.due_on]
    problem_pools = {code: pool for code, pool in _problem_pools(pools, quarters).items() if pool["capacity"]}
    committed = Award.objects.filter(run__call=call, run__locked_at__isnull=False).aggregate(
        total=Coalesce(Sum("subsidy"), Value(ZERO))
    )["total"]
    clawed = set(checkpoint.clawbacks.filter(reclaimed__gt=0).values_list("award__proposal_id", flat=True))
    proposals = [
        p
        for p in Proposal.objects.filter(
            call=call,
            state__in=(ProposalState.APPROVED, ProposalState.ALLOCATED, ProposalState.ACTIVE),
            current_version__isnull=False,
        )
        .select_related("organisation", "current_version")
        .order_by("reference")
        if p.pk not in clawed
    ]
    hours, rates = _requests_by_proposal(proposals, call)
    awarded: dict[int, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in AwardHours.objects.filter(
        award__run__call=call, award__run__locked_at__isnull=False, award__proposal__in=proposals
    ).values("award__proposal_id", "pool__code", "quarter__code", "gpu_hours", "reclaimed"):
        key = (row["pool__code"], row["quarter__code"])
        awarded[row["award__proposal_id"]][key] += row["gpu_hours"] + row["reclaimed"]
    scores = call_scores(call=call)
    projects = []
    excluded = []
    for proposal in proposals:
        funded = proposal.pk in awarded and any(awarded[proposal.pk].values())
        request: dict[str, dict[str, Any]] = {}
        for (pool_code, quarter_code), value in sorted(hours[proposal.pk].items()):
            if pool_code not in problem_pools or quarter_code not in problem_pools[pool_code]["capacity"]:
                continue
            lacking = Decimal(value) - awarded[proposal.pk][(pool_code, quarter_code)] if funded else Decimal(value)
            if lacking > 0:
                request.setdefault(pool_code, {})[quarter_code] = _plain(lacking)
        if not request:
            excluded.append((proposal.reference, "nothing left to fund in the remaining quarters"))
            continue
        projects.append(
            _project(proposal, request, scores=scores, rates=rates, min_share="0.000001" if funded else None)
        )
    problem = _problem(
        call=call,
        pools=problem_pools,
        budget=max(call.budget - committed, ZERO),
        tiers=call_settings(call=call).tiers,
        projects=projects,
    )
    return ProblemBuild(problem=problem, excluded=excluded)


# ---- Runs and awards ----------------------------------------------------------------------------------------------


# A run's problem and result are JSON of every proposal in the call (megabytes at 10,000 proposals): lists of runs
# leave them in the database (issue 14).
RUN_BULK_FIELDS = ("inputs", "result", "lock_totals", "error")


def runs_for_call(*, call: Call) -> QuerySet[AllocationRun]:
    """The call's runs, newest first, with how many projects each funds and its subsidy: one subquery per figure
    on the run's own awards (an index lookup), not a GROUP BY over every column of every run."""
    awards = Award.objects.filter(run=OuterRef("pk")).order_by().values("run")
    return (
        AllocationRun.objects.filter(call=call)
        .defer(*RUN_BULK_FIELDS)
        .select_related("started_by", "locked_by", "repeat_of")
        .annotate(
            funded=Coalesce(Subquery(awards.filter(share__gt=0).annotate(n=Count("pk")).values("n")), 0),
            subsidy_total=Subquery(awards.annotate(total=Sum("subsidy")).values("total")),
        )
        .order_by("-created_at", "-pk")
    )


def last_good_run(*, call: Call, policy: str | None = None, kind: str = RunKind.ALLOCATION) -> AllocationRun | None:
    qs = AllocationRun.objects.filter(call=call, kind=kind, status=RunStatus.SUCCEEDED).defer(*RUN_BULK_FIELDS)
    if policy:
        qs = qs.filter(policy=policy)
    return qs.order_by("-finished_at", "-pk").first()


def locked_run(*, call: Call) -> AllocationRun | None:
    return AllocationRun.objects.filter(call=call, kind=RunKind.ALLOCATION, locked_at__isnull=False).first()


def run_awards(*, run: AllocationRun) -> QuerySet[Award]:
    """The awards of a run, best score first, with their proposal, organisation and hours."""
    return (
        run.awards.select_related("proposal__organisation", "adjusted_by")
        .prefetch_related(Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter")))
        .order_by("-score", "proposal__reference")
    )


@dataclass
class RunSummary:
    run: AllocationRun
    funded: int = 0
    projects: int = 0
    hours: Decimal = ZERO
    subsidy: Decimal = ZERO
    value: Decimal = ZERO
    cells: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (pool code, quarter code) -> hours
    capacity: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def used_share(self, key) -> Decimal | None:
        capacity = self.capacity.get(key)
        if not capacity:
            return None
        return self.cells.get(key, ZERO) / capacity

    def totals(self) -> dict:
        """What the run's awards add up to, as JSON (decimals as exact text), to be kept: see
        :meth:`from_totals`."""
        return {
            "projects": self.projects,
            "funded": self.funded,
            "hours": str(self.hours),
            "subsidy": str(self.subsidy),
            "value": str(self.value),
            "cells": [[pool, quarter, str(total)] for (pool, quarter), total in self.cells.items()],
        }

    @classmethod
    def from_totals(cls, run: AllocationRun, totals: dict) -> RunSummary:
        """The summary of ``run`` from its kept :meth:`totals` (the capacity from the run's own problem)."""
        return cls(
            run=run,
            projects=totals["projects"],
            funded=totals["funded"],
            hours=Decimal(totals["hours"]),
            subsidy=Decimal(totals["subsidy"]),
            value=Decimal(totals["value"]),
            cells={(pool, quarter): Decimal(total) for pool, quarter, total in totals["cells"]},
            capacity=_run_capacity(run),
        )


def _run_capacity(run: AllocationRun) -> dict[tuple[str, str], Decimal]:
    """The hours the run's problem could award, per (pool code, quarter code)."""
    return {
        (pool, quarter): Decimal(str(hours))
        for pool, entry in (run.inputs.get("pools") or {}).items()
        for quarter, hours in entry["capacity"].items()
    }


def run_summaries(*, runs: list[AllocationRun]) -> list[RunSummary]:
    """Projects funded, hours per pool and quarter, capacity used, subsidy committed and score-weighted value
    (Σ score x share) of each run, as its awards stand now (hand adjustments and claw-backs included).
    Two queries, whatever the number of runs."""
    summaries = {run.pk: RunSummary(run=run, capacity=_run_capacity(run)) for run in runs}
    value = ExpressionWrapper(F("score") * F("share"), output_field=DecimalField(max_digits=24, decimal_places=12))
    for row in (
        Award.objects.filter(run__in=summaries)
        .values("run_id")
        .annotate(
            projects=Count("pk"),
            funded=Count("pk", filter=Q(share__gt=0)),
            subsidy=Sum("subsidy"),
            value=Sum(value),
        )
        .order_by()
    ):
        summary = summaries[row["run_id"]]
        summary.projects = row["projects"]
        summary.funded = row["funded"]
        summary.subsidy = row["subsidy"] or ZERO
        summary.value = Decimal(row["value"] or 0).quantize(Decimal("0.000001"))
    for row in (
        AwardHours.objects.filter(award__run__in=summaries)
        .values("award__run_id", "pool__code", "quarter__code")
        .annotate(total=Sum("gpu_hours"))
        .order_by()
    ):
        summary = summaries[row["award__run_id"]]
        summary.cells[(row["pool__code"], row["quarter__code"])] = row["total"]
        summary.hours += row["total"]
    return [summaries[run.pk] for run in runs]


# ---- Capacity per pool --------------------------------------------------------------------------------------------


@dataclass
class CapacityRow:
    quarter: Quarter
    capacity: int
    held_back: Decimal
    awardable: Decimal
    awarded: Decimal
    used: Decimal

    @property
    def free(self) -> Decimal:
        return self.awardable - self.awarded

    @property
    def utilisation(self) -> Decimal | None:
        return self.used / self.capacity if self.capacity else None


def pool_capacity(*, pool: ResourcePool) -> list[CapacityRow]:
    """Per quarter: capacity, held back, awardable, awarded (locked runs, after claw-back), used (Slurm jobs run in
    the partition named like the pool) and free. Three queries, whatever the number of quarters."""
    capacities = list(PoolCapacity.objects.filter(pool=pool).select_related("quarter", "pool"))
    awarded = locked_hours(pool_ids=[pool.pk])
    used = {
        row["quarter"]: Decimal(row["seconds"]) / SECONDS_PER_HOUR
        for row in UsageQuarter.objects.filter(job__partition=pool.code)
        .values("quarter")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by()
    }
    rows = []
    for capacity in sorted(capacities, key=lambda c: c.quarter.starts_on):
        can_award = awardable(capacity)
        rows.append(
            CapacityRow(
                quarter=capacity.quarter,
                capacity=capacity.gpu_hours,
                held_back=Decimal(capacity.gpu_hours) - can_award,
                awardable=can_award,
                awarded=awarded.get((pool.pk, capacity.quarter_id), ZERO),
                used=used.get(capacity.quarter.code, ZERO).quantize(Decimal("0.1")),
            )
        )
    return rows


# ---- Usage against awards -----------------------------------------------------------------------------------------


@dataclass
class ProjectQuarter:
    quarter: Quarter
    awarded: Decimal
    used: Decimal


@dataclass
class ProjectUsage:
    proposal: Proposal
    awards: list[Award]
    quarters: list[ProjectQuarter]
    released: Decimal
    today: date

    @property
    def awarded(self) -> Decimal:
        return sum((q.awarded for q in self.quarters), ZERO)

    @property
    def used(self) -> Decimal:
        return sum((q.used for q in self.quarters), ZERO)

    @property
    def balance(self) -> Decimal:
        return self.awarded - self.used

    @property
    def released_balance(self) -> Decimal:
        return self.released - self.used

    @property
    def used_share(self) -> Decimal | None:
        return self.used / self.awarded if self.awarded else None

    def _days(self, start: date, end: date) -> int:
        return max((end - start).days + 1, 0)

    @property
    def burn_rate(self) -> Decimal | None:
        """GPU-hours used per day since the first awarded quarter began (to today)."""
        if not self.quarters:
            return None
        days = self._days(self.quarters[0].quarter.starts_on, min(self.today, self.quarters[-1].quarter.ends_on))
        return (self.used / days).quantize(Decimal("0.1")) if days else None

    @property
    def needed_rate(self) -> Decimal | None:
        """GPU-hours per day needed to use the balance by the end of the last awarded quarter."""
        if not self.quarters or self.today > self.quarters[-1].quarter.ends_on:
            return None
        days = self._days(max(self.today, self.quarters[0].quarter.starts_on), self.quarters[-1].quarter.ends_on)
        return (max(self.balance, ZERO) / days).quantize(Decimal("0.1"))


def locked_awards(*, proposal: Proposal) -> QuerySet[Award]:
    return (
        Award.objects.filter(proposal=proposal, run__locked_at__isnull=False, share__gt=0)
        .select_related("run")
        .prefetch_related(
            Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter")), "tranches", "clawbacks"
        )
        .order_by("run__locked_at", "pk")
    )


def project_usage(*, proposal: Proposal, today: date) -> ProjectUsage:
    """Awarded (locked, after claw-back) against used GPU-hours per quarter for one proposal."""
    awards = list(locked_awards(proposal=proposal))
    awarded: dict[int, Decimal] = defaultdict(Decimal)
    quarters: dict[int, Quarter] = {}
    released = ZERO
    for award in awards:
        total = ZERO
        for cell in award.hours.all():
            awarded[cell.quarter_id] += cell.gpu_hours
            quarters[cell.quarter_id] = cell.quarter
            total += cell.gpu_hours
        released += sum((t.share for t in award.tranches.all() if t.released_at), ZERO) * total
    used_rows = {
        row["quarter"]: Decimal(row["seconds"]) / SECONDS_PER_HOUR
        for row in UsageQuarter.objects.filter(job__proposal=proposal)
        .values("quarter")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by()
    }
    if used_rows:
        for quarter in Quarter.objects.filter(code__in=used_rows).exclude(pk__in=quarters):
            quarters[quarter.pk] = quarter
    rows = [
        ProjectQuarter(
            quarter=quarter,
            awarded=awarded.get(quarter.pk, ZERO),
            used=used_rows.get(quarter.code, ZERO).quantize(Decimal("0.1")),
        )
        for quarter in sorted(quarters.values(), key=lambda q: q.starts_on)
    ]
    return ProjectUsage(proposal=proposal, awards=awards, quarters=rows, released=released, today=today)


def used_hours_by_proposal(*, proposal_ids) -> dict[int, Decimal]:
    """Total GPU-hours used per proposal (all quarters)."""
    return {
        row["job__proposal_id"]: Decimal(row["seconds"]) / SECONDS_PER_HOUR
        for row in UsageQuarter.objects.filter(job__proposal_id__in=list(proposal_ids))
        .values("job__proposal_id")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by()
    }


def checkpoints_for_call(*, call: Call) -> QuerySet[ClawbackCheckpoint]:
    return (
        ClawbackCheckpoint.objects.filter(call=call)
        .annotate(reclaimed_total=Coalesce(Sum("clawbacks__reclaimed"), Value(ZERO), output_field=HOURS))
        .order_by("number")
    )


def calls_with_allocations() -> QuerySet[Call]:
    """Calls that have proposals to allocate, or runs, with how many of each."""
    return (
        Call.objects.annotate(
            allocatable=count_of(Proposal.objects.filter(call=OuterRef("pk"), state__in=ALLOCATABLE_STATES)),
            runs=count_of(AllocationRun.objects.filter(call=OuterRef("pk"))),
        )
        .filter(Q(allocatable__gt=0) | Q(runs__gt=0))
        .order_by("-opens_at")
    )


# ---- Comparison of runs, project by project -----------------------------------------------------------------------


@dataclass
class ProjectOutcome:
    """One project's award in one run: share, whole GPU-hours, subsidy and the reason (in words)."""

    award: Award
    hours: Decimal
    reason: str = ""


@dataclass
class ComparisonRow:
    proposal: Proposal
    score: Decimal
    requested: Decimal
    outcomes: list[ProjectOutcome | None]

    @property
    def differs(self) -> bool:
        """The runs do not give this project the same hours."""
        return len({o.hours if o else None for o in self.outcomes}) > 1


def run_comparison(*, runs: list[AllocationRun], pool_names: dict[str, str]) -> list[ComparisonRow]:
    """Every project of ``runs``, with its outcome in each run side by side (None where a run left it out),
    highest score first. One query, whatever the number of runs and projects."""
    index = {run.pk: i for i, run in enumerate(runs)}
    awards = list(
        Award.objects.filter(run__in=runs)
        .select_related("proposal__organisation")
        .annotate(
            total_hours=Coalesce(Sum("hours__gpu_hours"), Value(ZERO), output_field=HOURS),
            requested_hours=Coalesce(Sum("hours__requested"), Value(ZERO), output_field=HOURS),
        )
        .order_by("proposal__reference", "run_id")
    )
    org_names = {f"org-{a.proposal.organisation_id}": a.proposal.organisation.name for a in awards}
    rows: dict[int, ComparisonRow] = {}
    for award in awards:
        row = rows.get(award.proposal_id)
        if row is None:
            row = rows[award.proposal_id] = ComparisonRow(
                proposal=award.proposal,
                score=award.score,
                requested=award.requested_hours,
                outcomes=[None] * len(runs),
            )
        row.score = max(row.score, award.score)
        row.outcomes[index[award.run_id]] = ProjectOutcome(
            award=award,
            hours=award.total_hours,
            reason=award_reason(award, pool_names=pool_names, org_names=org_names),
        )
    return sorted(rows.values(), key=lambda r: (-r.score, r.proposal.reference or ""))
