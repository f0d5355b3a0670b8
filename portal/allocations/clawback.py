"""Claw-back arithmetic (domain brief §7), pure: no Django, no database.

At a checkpoint an award of which less than ``threshold`` has been used loses ``reclaim_share`` of its unused
balance, in whole GPU-hours rounded down. The hours can only come from quarters that have not started yet; they
are taken from those quarters in proportion to what each holds (rounded down), the rounding remainder from the
latest quarter backwards, never more than a quarter holds.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from decimal import ROUND_FLOOR, Decimal

ZERO = Decimal(0)
ONE_HOUR = Decimal(1)


def clawback_hours(*, awarded: Decimal, used: Decimal, threshold: Decimal, reclaim_share: Decimal) -> Decimal:
    """GPU-hours to reclaim: ``reclaim_share`` x (awarded - used), rounded down to whole hours, when
    used / awarded < threshold; otherwise 0."""
    if awarded <= 0 or used >= awarded * threshold:
        return ZERO
    unused = awarded - max(used, ZERO)
    return (unused * reclaim_share).quantize(ONE_HOUR, rounding=ROUND_FLOOR)


def split_reclaim(cells: Sequence[tuple[Hashable, Decimal]], amount: Decimal) -> dict[Hashable, Decimal]:
    """Share ``amount`` between ``cells`` ((key, hours still awarded), oldest first) in proportion to their hours.

    Returns key -> hours to take (whole hours, each at most the cell's whole hours); the total is ``amount``, or
    everything the cells hold in whole hours when that is less."""
    whole = [(key, hours.quantize(ONE_HOUR, rounding=ROUND_FLOOR)) for key, hours in cells]
    available = sum((hours for _key, hours in whole), ZERO)
    amount = min(amount.quantize(ONE_HOUR, rounding=ROUND_FLOOR), available)
    if amount <= 0:
        return {key: ZERO for key, _hours in whole}
    taken = {key: (amount * hours / available).quantize(ONE_HOUR, rounding=ROUND_FLOOR) for key, hours in whole}
    remainder = amount - sum(taken.values(), ZERO)
    for key, hours in reversed(whole):
        if remainder <= 0:
            break
        extra = min(remainder, hours - taken[key])
        taken[key] += extra
        remainder -= extra
    return taken
