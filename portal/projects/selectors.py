"""Reads for a project's life after the award: what its statements are worked from."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from portal.allocations.models import Award, UsageQuarter
from portal.allocations.selectors import locked_awards
from portal.calls.models import ResourcePool
from portal.proposals.models import Proposal

from .billing import ZERO, Line, LineInput, hours_from_seconds
from .models import BillingStatement


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
