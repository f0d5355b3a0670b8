"""Billing figures, worked out without the database (domain brief §10, issue 11 point 4).

For one project, pool and quarter: used GPU-hours up to the hours awarded there are *subsidised*
(cost = hours x list price, subsidy = cost x the project's approved rate, the applicant's share = cost - subsidy);
hours beyond the award are *overage*, charged at the full list price with no subsidy. Money is rounded half-up to
HK$0.01 on each line, and totals are sums of the rounded lines. Hours are taken to 0.01 GPU-hour (half-up) first,
so every figure on a line can be worked again by hand from the figures printed beside it.

A project's subsidy never exceeds its approved subsidy: :func:`billing_lines` carries what is left of it from line to
line (oldest quarter first), and a line that would go past it is given only what is left; the rest of its cost
falls to the applicant's share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HOUR_QUANTUM = Decimal("0.01")
RATE_QUANTUM = Decimal("0.001")
ZERO = Decimal("0")
SECONDS_PER_HOUR = 3600
# A statement is final this many days after its quarter ends (usage for the quarter can change until then).
FINAL_AFTER_DAYS = 30
QUARTER_CODE = re.compile(r"^(\d{4})Q([1-4])$")

CSV_COLUMNS = (
    "account",
    "pool",
    "quarter",
    "used_hours",
    "awarded_hours",
    "subsidised_hours",
    "overage_hours",
    "list_price",
    "rate",
    "cost",
    "subsidy",
    "applicant_share",
    "overage_charge",
    "total_payable",
)
MONEY_FIELDS = ("cost", "subsidy", "applicant_share", "overage_charge", "total_payable")


def money(value: Decimal) -> Decimal:
    """HK$ rounded half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def hours_from_seconds(gpu_seconds: int) -> Decimal:
    """GPU-seconds as GPU-hours to 0.01, rounded half-up."""
    return (Decimal(gpu_seconds) / SECONDS_PER_HOUR).quantize(HOUR_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class QuarterSpan:
    code: str
    starts_on: date
    ends_on: date

    @property
    def final_on(self) -> date:
        """The first day on which the quarter's statement is final."""
        return self.ends_on + timedelta(days=FINAL_AFTER_DAYS)


def parse_quarter(code: str) -> QuarterSpan:
    """``2026Q1`` → its first and last day (calendar quarters); ``ValueError`` for anything else."""
    match = QUARTER_CODE.match(code or "")
    if not match:
        raise ValueError(f"not a quarter: {code!r} (expected YYYYQn, e.g. 2026Q1)")
    year, number = int(match[1]), int(match[2])
    starts_on = date(year, 3 * number - 2, 1)
    ends_on = (
        date(year + 1, 1, 1) - timedelta(days=1) if number == 4 else date(year, 3 * number + 1, 1) - timedelta(days=1)
    )
    return QuarterSpan(code=code, starts_on=starts_on, ends_on=ends_on)


@dataclass(frozen=True)
class LineInput:
    """What one line is worked from: hours used and awarded in a pool and quarter, the price and the rate."""

    pool: str
    quarter: str
    used_hours: Decimal
    awarded_hours: Decimal
    list_price: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Line:
    account: str
    pool: str
    quarter: str
    used_hours: Decimal
    awarded_hours: Decimal
    subsidised_hours: Decimal
    overage_hours: Decimal
    list_price: Decimal
    rate: Decimal
    cost: Decimal
    subsidy: Decimal
    applicant_share: Decimal
    overage_charge: Decimal
    total_payable: Decimal
    # True when the approved subsidy ran out on this line (its subsidy is less than cost x rate).
    capped: bool = False

    def csv_row(self) -> list[str]:
        return [
            self.account,
            self.pool,
            self.quarter,
            f"{self.used_hours:.2f}",
            f"{self.awarded_hours:.2f}",
            f"{self.subsidised_hours:.2f}",
            f"{self.overage_hours:.2f}",
            f"{self.list_price:.2f}",
            f"{self.rate:.3f}",
            *(f"{getattr(self, name):.2f}" for name in MONEY_FIELDS),
        ]


def billing_line(*, account: str, line: LineInput, subsidy_left: Decimal | None = None) -> Line:
    """One line. ``subsidy_left``: what remains of the project's approved subsidy (None: no limit)."""
    used = line.used_hours.quantize(HOUR_QUANTUM, rounding=ROUND_HALF_UP)
    awarded = line.awarded_hours.quantize(HOUR_QUANTUM, rounding=ROUND_HALF_UP)
    if used < 0 or awarded < 0 or line.list_price < 0 or not (ZERO <= line.rate <= 1):
        raise ValueError(f"impossible billing input: {line}")
    subsidised = min(used, awarded)
    overage = used - subsidised
    cost = money(subsidised * line.list_price)
    subsidy = money(cost * line.rate)
    capped = False
    if subsidy_left is not None and subsidy > max(subsidy_left, ZERO):
        subsidy, capped = max(subsidy_left, ZERO), True
    applicant_share = cost - subsidy
    overage_charge = money(overage * line.list_price)
    return Line(
        account=account,
        pool=line.pool,
        quarter=line.quarter,
        used_hours=used,
        awarded_hours=awarded,
        subsidised_hours=subsidised,
        overage_hours=overage,
        list_price=line.list_price,
        rate=line.rate.quantize(RATE_QUANTUM),
        cost=cost,
        subsidy=subsidy,
        applicant_share=applicant_share,
        overage_charge=overage_charge,
        total_payable=applicant_share + overage_charge,
        capped=capped,
    )


def billing_lines(*, account: str, inputs: Iterable[LineInput], approved_subsidy: Decimal | None = None) -> list[Line]:
    """Lines for ``inputs`` in order of quarter then pool, the approved subsidy carried from line to line."""
    left = approved_subsidy
    lines = []
    for item in sorted(inputs, key=lambda i: (i.quarter, i.pool)):
        line = billing_line(account=account, line=item, subsidy_left=left)
        if left is not None:
            left -= line.subsidy
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Totals:
    cost: Decimal
    subsidy: Decimal
    applicant_share: Decimal
    overage_charge: Decimal
    total_payable: Decimal


def totals(lines: Iterable[Line]) -> Totals:
    """Sums of the rounded lines."""
    lines = list(lines)
    return Totals(**{name: sum((getattr(line, name) for line in lines), ZERO) for name in MONEY_FIELDS})
