"""The rank and tiers policies, in exact arithmetic (``docs/allocation.md``, "Policies")."""

from __future__ import annotations

from decimal import Decimal, localcontext

from .ledger import BELOW_LAST_TIER, EXACT, FULL, MIN_SHARE, TIER_SHARE, Ledger, rank_order
from .problem import ONE, ZERO, Problem


def rank(problem: Problem) -> tuple[Ledger, list[str]]:
    """In rank order, give each project the largest share that fits (≤ 1), or 0 if that is below its min_share.

    The reason of a partial share is the row that stopped it at its turn (ties: capacity, budget, org cap).
    """
    ledger = Ledger(problem)
    reasons = [MIN_SHARE] * len(problem.projects)
    for index in rank_order(problem):
        room, row = ledger.headroom(index)
        share = ledger.largest_fit(index, room)
        if share is None:
            continue
        ledger.set_share(index, share)
        reasons[index] = FULL if share == ONE else ledger.constraints[row].label
    return ledger, reasons


def tiers(problem: Problem) -> tuple[Ledger, list[str]]:
    """Fund tier by tier (a project belongs to the highest tier whose threshold its score reaches).

    A tier that fits in full is funded in full; otherwise all of it gets the largest common share that fits,
    after dropping its lowest-ranked projects (reason ``min_share``) while that share is below the min_share of
    anyone left. Projects below the last threshold get 0 with reason ``below last tier``.

    The reason of a member cut to the common share is the row that bound it when the member is in that row (its
    own pool's capacity, the budget, its own organisation's cap); a member outside that row was held to the
    common share by a limit that is not its own, so its reason is ``tier_share`` followed by that row (e.g.
    ``tier_share org_cap org-a h800`` for a project of another organisation).
    """
    ledger = Ledger(problem)
    reasons = [BELOW_LAST_TIER] * len(problem.projects)
    members: list[list[int]] = [[] for _ in problem.tiers]
    for index in rank_order(problem):
        score = problem.projects[index].score
        tier = next((t for t, threshold in enumerate(problem.tiers) if score >= threshold), None)
        if tier is not None:
            members[tier].append(index)
    for tier in members:
        _fund_tier(ledger, tier, reasons)
    return ledger, reasons


def _fund_tier(ledger: Ledger, tier: list[int], reasons: list[str]) -> None:
    """Fund one tier (indices in rank order), dropping from the end while the common share is too small."""
    projects = ledger.problem.projects
    totals: dict[int, Decimal] = {}
    with localcontext(EXACT):
        for index in tier:
            for row, coefficient in ledger.memberships[index]:
                totals[row] = totals.get(row, ZERO) + coefficient
    # The largest min_share among the first k members, so dropping from the end is O(rows) per step.
    prefix_max: list[Decimal] = []
    for index in tier:
        prefix_max.append(max(projects[index].min_share, prefix_max[-1] if prefix_max else ZERO))
    kept = len(tier)
    while kept:
        share, row = _common_share(ledger, totals)
        if share >= prefix_max[kept - 1]:
            break
        kept -= 1
        dropped = tier[kept]
        reasons[dropped] = MIN_SHARE
        with localcontext(EXACT):
            for member_row, coefficient in ledger.memberships[dropped]:
                totals[member_row] -= coefficient
    for index in tier[:kept]:
        if share >= ONE:
            ledger.set_share(index, ONE)
            reasons[index] = FULL
        else:
            fit = ledger.largest_fit(index, share)
            assert fit is not None  # share ≥ every kept min_share
            ledger.set_share(index, fit)
            binding = ledger.constraints[row]
            reasons[index] = binding.label if index in binding.members else f"{TIER_SHARE} {binding.label}"


def _common_share(ledger: Ledger, totals: dict[int, Decimal]) -> tuple[Decimal, int]:
    """The largest share s ≤ 1 with s * (the tier's total in each row) ≤ the row's slack, and the binding row."""
    best, best_row = ONE, -1
    with localcontext(EXACT):
        for row in sorted(totals):
            if totals[row] > 0:
                room = ledger.slack(row) / totals[row]
                if room < best:
                    best, best_row = room, row
    return best, best_row
