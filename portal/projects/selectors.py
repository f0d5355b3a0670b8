"""Reads for a project's life after the award: what its statements are worked from."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Count, Min, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from portal.allocations.models import Award, UsageQuarter
from portal.allocations.selectors import locked_awards
from portal.calls.models import ResourcePool
from portal.proposals.models import Proposal
from portal.proposals.selectors import proposals_visible_to

from .billing import ZERO, Line, LineInput, hours_from_seconds
from .enums import REPORT_TO_SCREEN, ReportState
from .models import BillingStatement, ProgressReport, ReportEvent, ReportOutput


class NoAward(Exception):
    """The project has no locked award to bill against."""


@dataclass
class BillingBasis:
    """Everything a project's statements are worked from: per (pool code, quarter) the hours awarded (locked
    awards, after claw-back and changes) and used (Slurm jobs of the project's account in the partition named like
    the pool; jobs in partitions that are no pool are not billed), the list price per pool (the one its award was solved with), the approved rate and subsidy."""

    proposal: Proposal
    pools: dict[str, ResourcePool]
    awarded: dict[tuple[str, str], Decimal]
    used_seconds: dict[tuple[str, str], int]
    prices: dict[str, Decimal]
    rate: Decimal
    approved_subsidy: Decimal

    def inputs(self, *, upto: str) -> list[LineInput]:
        """Line inputs for every pool-quarter up to and including quarter ``upto`` with an award or usage."""
        keys = {k for k in (*self.awarded, *self.used_seconds) if k[1] <= upto}
        return [
            LineInput(
                pool=pool,
                quarter=quarter,
                used_hours=hours_from_seconds(self.used_seconds.get((pool, quarter), 0)),
                awarded_hours=self.awarded.get((pool, quarter), ZERO),
                list_price=self.prices[pool],
                rate=self.rate,
            )
            for pool, quarter in sorted(keys, key=lambda k: (k[1], k[0]))
        ]


def _prices(award: Award) -> dict[str, Decimal]:
    return {code: Decimal(str(entry["price"])) for code, entry in (award.run.inputs.get("pools") or {}).items()}


def billing_basis(*, proposal: Proposal) -> BillingBasis:
    """Three or four queries. ``NoAward`` when the project has no locked, funded award."""
    awards = list(locked_awards(proposal=proposal))
    if not awards:
        raise NoAward(proposal.reference)
    awarded: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    pools: dict[str, ResourcePool] = {}
    prices: dict[str, Decimal] = {}
    for award in reversed(awards):  # the first award's prices win
        prices.update(_prices(award))
    for award in awards:
        for cell in award.hours.all():
            awarded[(cell.pool.code, cell.quarter.code)] += cell.gpu_hours
            pools[cell.pool.code] = cell.pool
    rows = (
        UsageQuarter.objects.filter(job__proposal=proposal, gpu_seconds__gt=0)
        .values("job__partition", "quarter")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by()
    )
    by_partition = {(row["job__partition"], row["quarter"]): row["seconds"] for row in rows}
    unawarded = {partition for partition, _quarter in by_partition} - set(pools)
    if unawarded:  # used in a pool the project holds no award in: all overage
        pools.update({pool.code: pool for pool in ResourcePool.objects.filter(code__in=unawarded)})
    used_seconds = {key: seconds for key, seconds in by_partition.items() if key[0] in pools}
    for code, pool in pools.items():
        prices.setdefault(code, pool.list_price)
    return BillingBasis(
        proposal=proposal,
        pools=pools,
        awarded=dict(awarded),
        used_seconds=used_seconds,
        prices={code: prices[code] for code in pools},
        rate=awards[0].subsidy_rate,
        approved_subsidy=sum((a.subsidy for a in awards), ZERO),
    )


def statements_for(*, proposal: Proposal) -> QuerySet[BillingStatement]:
    """Every version of every statement of the project, newest quarter and version first."""
    return (
        BillingStatement.objects.filter(proposal=proposal).select_related("issued_by").order_by("-quarter", "-version")
    )


def statement_lines(statement: BillingStatement):
    return statement.lines.select_related("pool").order_by("pool__code")


def stored_lines(statement: BillingStatement) -> list[Line]:
    """A stored statement's lines in the calculation's shape (for its CSV)."""
    return [
        Line(
            account=statement.account,
            pool=line.pool.code,
            quarter=statement.quarter,
            used_hours=line.used_hours,
            awarded_hours=line.awarded_hours,
            subsidised_hours=line.subsidised_hours,
            overage_hours=line.overage_hours,
            list_price=line.list_price,
            rate=line.rate,
            cost=line.cost,
            subsidy=line.subsidy,
            applicant_share=line.applicant_share,
            overage_charge=line.overage_charge,
            total_payable=line.total_payable,
        )
        for line in statement_lines(statement)
    ]


# ---- Change requests --------------------------------------------------------------------------------------------


def change_requests_for(*, proposal: Proposal) -> QuerySet:
    """A project's change requests, newest first, with what their rows show. One query."""
    from .models import ChangeRequest

    return (
        ChangeRequest.objects.filter(proposal=proposal)
        .select_related("pool", "quarter", "to_quarter", "version")
        .order_by("-submitted_at", "-pk")
    )


def change_requests_visible_to(*, user, state: str | None = None) -> QuerySet:
    """Every change request of a project ``user`` may see (officials: not those they are conflicted on), newest
    first, with the project and what the rows show. One query."""
    from portal.proposals.selectors import proposals_visible_to

    from .models import ChangeRequest

    qs = (
        ChangeRequest.objects.filter(proposal__in=proposals_visible_to(user).values("pk"))
        .select_related("proposal", "pool", "quarter", "to_quarter", "recommended_by", "version")
        .order_by("-submitted_at", "-pk")
    )
    if state:
        qs = qs.filter(state=state)
    return qs


# ---- Statements of a project --------------------------------------------------------------------------------------


def latest_statements(*, proposal: Proposal) -> list[BillingStatement]:
    """The newest version of each quarter's statement, newest quarter first, each with ``versions`` (how many were
    issued). One query."""
    latest: dict[str, BillingStatement] = {}
    counts: dict[str, int] = defaultdict(int)
    for statement in statements_for(proposal=proposal):
        counts[statement.quarter] += 1
        latest.setdefault(statement.quarter, statement)
    for quarter, statement in latest.items():
        statement.versions = counts[quarter]
    return list(latest.values())


# ---- Finance: subsidy approved, billed and remaining per call and quarter -------------------------------------------


@dataclass
class FinanceRow:
    call: object
    quarter: str
    approved: Decimal = Decimal("0.00")
    billed: Decimal = Decimal("0.00")
    payable: Decimal = Decimal("0.00")
    statements: int = 0
    final: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.approved - self.billed


def finance_rows() -> list[FinanceRow]:
    """Per call and quarter: the subsidy approved (the locked, funded awards' hours in the quarter x the list price
    they were solved with x the project's rate, rounded down to the cent per award and quarter, as awards are), the
    subsidy billed (the newest version of each project's statement for the quarter), the remainder, what the
    applicants owe on those statements, and how many statements there are (and are final). Five queries, whatever
    the number of calls, awards and statements."""
    from django.db.models import Count, Exists, OuterRef, Q

    from portal.allocations.models import AllocationRun, AwardHours
    from portal.calls.models import Call

    from .billing import CENT

    cells = (
        AwardHours.objects.filter(award__run__locked_at__isnull=False, award__share__gt=0, gpu_hours__gt=0)
        .values(
            "award_id", "award__run_id", "award__run__call_id", "award__subsidy_rate", "pool__code", "quarter__code"
        )
        .annotate(hours=Sum("gpu_hours"))
        .order_by()
    )
    cells = list(cells)
    run_ids = {row["award__run_id"] for row in cells}
    prices = {
        run.pk: {code: Decimal(str(entry["price"])) for code, entry in (run.inputs.get("pools") or {}).items()}
        for run in AllocationRun.objects.filter(pk__in=run_ids).only("pk", "inputs")
    }
    list_prices = dict(ResourcePool.objects.values_list("code", "list_price"))
    approved: dict[tuple[int, str, int], Decimal] = defaultdict(Decimal)  # (call, quarter, award) -> unrounded
    for row in cells:
        price = prices.get(row["award__run_id"], {}).get(row["pool__code"], list_prices.get(row["pool__code"], ZERO))
        approved[(row["award__run__call_id"], row["quarter__code"], row["award_id"])] += (
            row["hours"] * price * row["award__subsidy_rate"]
        )
    newer = BillingStatement.objects.filter(
        proposal=OuterRef("proposal"), quarter=OuterRef("quarter"), version__gt=OuterRef("version")
    )
    billed = (
        BillingStatement.objects.exclude(Exists(newer))
        .values("proposal__call_id", "quarter")
        .annotate(
            subsidy=Sum("subsidy"), payable=Sum("total_payable"), n=Count("pk"), final=Count("pk", filter=Q(final=True))
        )
        .order_by()
    )
    rows: dict[tuple[int, str], FinanceRow] = {}

    def row_of(call_id: int, quarter: str) -> FinanceRow:
        return rows.setdefault((call_id, quarter), FinanceRow(call=call_id, quarter=quarter))

    for (call_id, quarter, _award), amount in approved.items():
        row_of(call_id, quarter).approved += amount.quantize(CENT, rounding=ROUND_FLOOR)
    for entry in billed:
        row = row_of(entry["proposal__call_id"], entry["quarter"])
        row.billed, row.payable, row.statements, row.final = (
            Decimal(entry["subsidy"]).quantize(CENT),
            Decimal(entry["payable"]).quantize(CENT),
            entry["n"],
            entry["final"],
        )
    calls = Call.objects.in_bulk({call_id for call_id, _q in rows})
    for row in rows.values():
        row.call = calls[row.call]
    return sorted(rows.values(), key=lambda r: (r.call.reference or "", r.call.pk, r.quarter))


# ---- The project page's section on what changed after the award ------------------------------------------------


@dataclass
class ChangeSection:
    """What the project page's section on award versions and change requests shows (``projects/_change_requests.html``)."""

    proposal: object
    versions: list
    requests: list
    can_request: bool
    statements: list


def change_section(*, proposal, user) -> ChangeSection:
    """The section's content: three queries (versions, change requests, statements), plus the permission's own."""
    from .versions import award_versions

    return ChangeSection(
        proposal=proposal,
        versions=list(award_versions(proposal=proposal)),
        requests=list(change_requests_for(proposal=proposal)),
        can_request=user.has_perm("portal.projects.request_change", proposal),
        statements=latest_statements(proposal=proposal),
    )


# ---- The project page and progress reports ------------------------------------------------------------------------


@dataclass
class PoolQuarterUsage:
    pool: str
    pool_name: str
    quarter: str
    awarded: Decimal
    used: Decimal

    @property
    def balance(self) -> Decimal:
        return self.awarded - self.used


def pool_usage_rows(*, proposal: Proposal) -> list[PoolQuarterUsage]:
    """GPU-hours awarded (locked awards, after claw-back and changes) and used (imported Slurm usage, to 0.01) per
    pool and quarter, oldest quarter first. ``NoAward`` when the project has no locked award."""
    basis = billing_basis(proposal=proposal)
    keys = sorted({*basis.awarded, *basis.used_seconds}, key=lambda k: (k[1], k[0]))
    return [
        PoolQuarterUsage(
            pool=pool,
            pool_name=basis.pools[pool].name,
            quarter=quarter,
            awarded=basis.awarded.get((pool, quarter), ZERO),
            used=hours_from_seconds(basis.used_seconds.get((pool, quarter), 0)),
        )
        for pool, quarter in keys
    ]


def reports_of(*, proposal: Proposal) -> QuerySet[ProgressReport]:
    return ProgressReport.objects.filter(proposal=proposal).select_related("submitted_by").order_by("number")


def report_detail(*, user, pk: int) -> ProgressReport:
    """A report of a project ``user`` may see (else ``Http404``), with its outputs and timeline loaded."""
    visible = proposals_visible_to(user).values("pk")
    return get_object_or_404(
        ProgressReport.objects.filter(proposal__in=visible)
        .select_related("proposal__organisation", "proposal__call", "proposal__current_version", "award")
        .select_related("submitted_by", "screened_by", "decided_by")
        .prefetch_related(
            Prefetch("outputs", queryset=ReportOutput.objects.order_by("position", "pk")),
            Prefetch("events", queryset=ReportEvent.objects.select_related("actor").order_by("created_at", "pk")),
        ),
        pk=pk,
    )


def project_list(*, user, today: date) -> QuerySet[Proposal]:
    """Projects with a locked award that ``user`` may see, each with its next report due and whether one is
    overdue (``next_due``, ``overdue``, ``to_screen``, ``to_decide``): one query."""
    open_states = [ReportState.DUE, ReportState.CHANGES_REQUIRED]
    return (
        proposals_visible_to(user)
        # led by the projects (the proposals with reports: hundreds), not by every proposal of every call
        .filter(pk__in=ProgressReport.objects.values("proposal_id"))
        .annotate(
            next_due=Min("progress_reports__due_on", filter=Q(progress_reports__state__in=open_states)),
            overdue=Count(
                "progress_reports",
                filter=Q(progress_reports__state=ReportState.DUE, progress_reports__due_on__lt=today),
                distinct=True,
            ),
            to_screen=Count("progress_reports", filter=Q(progress_reports__state__in=REPORT_TO_SCREEN), distinct=True),
            to_decide=Count(
                "progress_reports", filter=Q(progress_reports__state=ReportState.RECOMMENDED), distinct=True
            ),
            accepted=Count("progress_reports", filter=Q(progress_reports__state=ReportState.ACCEPTED), distinct=True),
            reports=Count("progress_reports", distinct=True),
        )
        .select_related("organisation", "call")
        .order_by("-overdue", "next_due", "reference")
    )
