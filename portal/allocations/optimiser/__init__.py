"""The allocation optimiser: a pure function over plain data (no Django, no database).

``allocate(problem, policy)`` takes a problem in the input format of ``docs/allocation.md`` (a dict, e.g.
loaded from JSON, or a parsed :class:`Problem`) and returns the result dict of its "Output" section::

    {"policy": ..., "status": ..., "objective": ..., "gap": ..., "awards": {...}, "totals": {...}}

Statuses: ``ok`` (rank and tiers: they always finish; ``gap`` is null), and for optimal the solver's verdict:
``optimal`` (proved within ``mip_rel_gap``), ``time_limit`` (stopped with a feasible solution; ``gap`` says how
far from the bound), ``no_solution`` (stopped before any feasible solution) and ``solver_error``; the last two
come with no awards and a null objective and gap. ``infeasible`` means the final check found a violation (a
bug): the result is withheld, with no awards, and the violations are logged.

Numbers: shares are exact decimals on a 1e-6 grid (or exactly a project's ``min_share``, 0 or 1); hours are
share * request rounded down to 1e-6 hours; a subsidy is share * cost rounded *down* to the cent, so that the
reported subsidies never add up to more than the budget. Every result passes :func:`check_feasible` before it
is returned.

Reasons: ``full`` (share 1), ``min_share`` (share 0: what it could get was below its minimum, or it was dropped),
``below last tier`` (tiers), or the binding row: ``capacity POOL QUARTER``, ``budget``, ``org_cap ORG POOL``.
For rank it is the row that stopped the project at its turn; for tiers the row that bound the tier's common
share (``tier_share ROW`` when the project is not in that row); for optimal, the row in which the project has the least headroom (how much more share it could take
alone, the others fixed), ties going to capacity, then budget, then org cap. After the optimal policy's final
"polish" step every partial share has less than 1e-6 of headroom left, so one of its rows is always tight and
no catch-all reason is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

from .feasibility import check_feasible
from .heuristics import rank, tiers
from .ledger import EXACT, Ledger, floor_share, rank_order
from .milp import solve
from .problem import ONE, ZERO, Pool, Problem, ProblemError, Project, parse_problem

__all__ = [
    "DEFAULT_MIP_REL_GAP",
    "DEFAULT_TIME_LIMIT",
    "POLICIES",
    "Pool",
    "Problem",
    "ProblemError",
    "Project",
    "allocate",
    "check_feasible",
    "parse_problem",
]

logger = logging.getLogger(__name__)

POLICIES = ("rank", "tiers", "optimal")
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_MIP_REL_GAP = 1e-4
HOURS_QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")
OBJECTIVE_QUANTUM = Decimal("0.000000001")


def allocate(
    problem: Problem | Mapping[str, Any],
    policy: str,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
) -> dict[str, Any]:
    """Allocate shares to the projects of ``problem`` under ``policy`` (``rank``, ``tiers`` or ``optimal``).

    Raises :class:`ProblemError` for a malformed problem (or the tiers policy without ``tiers``) and
    :class:`ValueError` for an unknown policy. ``time_limit`` (seconds) and ``mip_rel_gap`` apply to optimal.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: expected one of {', '.join(POLICIES)}")
    problem = parse_problem(problem)
    gap: float | None = None
    if policy == "rank":
        ledger, reasons = rank(problem)
        status = "ok"
    elif policy == "tiers":
        if not problem.tiers:
            raise ProblemError("tiers", "missing (the tiers policy needs at least one threshold)")
        ledger, reasons = tiers(problem)
        status = "ok"
    else:
        ledger, reasons, status, gap = _optimal(problem, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    result = _result(problem, policy, status, gap, ledger, reasons)
    violations = check_feasible(problem, result)
    if violations:
        logger.error("allocate(%s) withheld an infeasible result: %s", policy, "; ".join(violations))
        return _result(problem, policy, "infeasible", None, None, [])
    return result


def _optimal(
    problem: Problem, *, time_limit: float, mip_rel_gap: float
) -> tuple[Ledger | None, list[str], str, float | None]:
    """Solve the MILP, make its shares exact, and keep the best of it, rank and tiers (all polished).

    The solver's shares are rounded down to the grid (not below min_share), any row the solver's tolerance left
    over by a hair is repaired, and what is left is handed out in rank order ("polish"). Rank's and tiers'
    results are candidates too, so optimal is never worse than either even when the solver stops early.
    """
    if not problem.projects:
        return Ledger(problem), [], "optimal", 0.0
    order = rank_order(problem)
    ledger = Ledger(problem)
    outcome = solve(ledger, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if outcome.shares is None:
        logger.warning("optimal allocation found no solution: %s", outcome.message)
        return None, [], outcome.status, None
    for index, value in enumerate(outcome.shares):
        if value > 0:
            project = problem.projects[index]
            share = floor_share(min(ONE, Decimal(repr(value))))
            ledger.set_share(index, max(project.min_share, share))
    ledger.repair(order)
    candidates = [ledger, rank(problem)[0]]
    if problem.tiers:
        candidates.append(tiers(problem)[0])
    for candidate in candidates:
        candidate.polish(order)
    best = max(candidates, key=lambda candidate: candidate.objective())  # the first (the MILP's) wins ties
    reasons = [best.reason(index) for index in range(len(problem.projects))]
    return best, reasons, outcome.status, _gap(float(best.objective()), outcome.dual_bound)


def _gap(objective: float, bound: float | None) -> float | None:
    """(bound - objective) / objective, never negative; None when unknown."""
    if bound is None:
        return None
    if objective <= 0:
        return 0.0 if bound <= 1e-9 else None
    return round(max(0.0, (bound - objective) / objective), 9)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _result(
    problem: Problem, policy: str, status: str, gap: float | None, ledger: Ledger | None, reasons: list[str]
) -> dict[str, Any]:
    totals = {pool.name: dict.fromkeys(pool.capacity, ZERO) for pool in problem.pools.values()}
    total_subsidy = ZERO
    awards: dict[str, Any] = {}
    with localcontext(EXACT):
        for index, project in enumerate(problem.projects if ledger is not None else ()):
            share = ledger.shares[index]
            hours: dict[str, dict[str, int | float]] = {}
            for pool, quarters in project.request.items():
                hours[pool] = {}
                for quarter, requested in quarters.items():
                    awarded = (share * requested).quantize(HOURS_QUANTUM, rounding=ROUND_FLOOR)
                    totals[pool][quarter] += awarded
                    hours[pool][quarter] = _number(awarded)
            subsidy = (share * problem.cost(project)).quantize(CENT, rounding=ROUND_FLOOR)
            total_subsidy += subsidy
            awards[project.id] = {
                "share": float(share),
                "hours": hours,
                "subsidy": f"{subsidy:.2f}",
                "reason": reasons[index],
            }
        objective = None if ledger is None else float(ledger.objective().quantize(OBJECTIVE_QUANTUM))
    return {
        "policy": policy,
        "status": status,
        "objective": objective,
        "gap": gap,
        "awards": awards,
        "totals": {
            "hours": {pool: {q: _number(h) for q, h in quarters.items()} for pool, quarters in totals.items()},
            "subsidy": f"{total_subsidy:.2f}",
        },
    }
