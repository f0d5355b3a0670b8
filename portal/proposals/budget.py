"""The budget of a compute request, in Decimal: cost at list price, subsidy at the call's rate, the applicant's share."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Budget:
    total_hours: Decimal
    cost: Decimal
    subsidy_rate: Decimal
    subsidy: Decimal
    applicant_share: Decimal
    other_funding: Decimal
    own_funds: Decimal

    def as_strings(self) -> dict[str, str]:
        return {name: str(value) for name, value in self.__dict__.items()}


def budget_compute(
    *,
    hours: dict[tuple[str, str], Decimal | int],
    prices: dict[str, Decimal],
    subsidy_rate: Decimal,
    other_funding: Decimal = Decimal(0),
) -> Budget:
    """``hours`` maps (pool code, quarter code) to GPU-hours; ``prices`` maps pool code to HK$ per GPU-hour.

    The subsidy is rounded half-up to the cent once, on the total; the applicant's share is the rest, so
    subsidy + share always equals the cost exactly."""
    total_hours = sum((Decimal(h) for h in hours.values()), Decimal(0))
    cost = sum((Decimal(h) * prices[pool] for (pool, _quarter), h in hours.items()), Decimal(0)).quantize(
        CENT, ROUND_HALF_UP
    )
    subsidy = (cost * subsidy_rate).quantize(CENT, ROUND_HALF_UP)
    share = cost - subsidy
    other = other_funding.quantize(CENT, ROUND_HALF_UP)
    return Budget(
        total_hours=total_hours,
        cost=cost,
        subsidy_rate=subsidy_rate,
        subsidy=subsidy,
        applicant_share=share,
        other_funding=other,
        own_funds=max(share - other, Decimal("0.00")),
    )
