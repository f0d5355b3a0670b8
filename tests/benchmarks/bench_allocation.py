"""The optimal allocation policy on realistic random calls: solve time, objective against rank order, and the gap.

Two pools x four quarters; 2,000 and 5,000 proposals asking for 5k-200k GPU-hours per quarter (log-uniform, one
to four consecutive quarters, 30% in both pools); ~60 organisations of Zipf-like size under a 25% org cap; a few
projects with their own subsidy rate; min shares of 0.25-1; a budget of 85% (binding) or 125% (not binding) of
the subsidy value of all capacity. Capacity is ~1.17M GPU-hours per pool-quarter *per centre*: with so many proposals the
call is modelled as pooling enough centres that demand is ~2.5x capacity ("scaled"); the "fixed" scenario keeps
one centre's 1.17M per pool-quarter, i.e. far more oversubscribed. Seeded, so every run solves the same calls.
"""

import math
import random
import time
from decimal import Decimal
from typing import Any

from portal.allocations.optimiser import allocate, parse_problem
from portal.allocations.optimiser.ledger import Ledger
from portal.allocations.optimiser.milp import solve

POOLS = {"h800": "25.00", "h100": "18.00"}
QUARTERS = ("2026Q1", "2026Q2", "2026Q3", "2026Q4")
CENTRE_CAPACITY = 1_170_000
OVERSUBSCRIPTION = 2.5
ORGANISATIONS = 60
SEED = 20260101


def random_call(n: int, *, scaled: bool, budget_factor: str, seed: int = SEED) -> dict[str, Any]:
    rng = random.Random(seed + n + int(scaled))
    weights = [1 / (rank + 1) ** 1.2 for rank in range(ORGANISATIONS)]
    orgs = [f"org-{index:02d}" for index in range(ORGANISATIONS)]
    projects = []
    demand = dict.fromkeys(((pool, q) for pool in POOLS for q in QUARTERS), 0)
    for number in range(n):
        pools = list(POOLS) if rng.random() < 0.3 else [rng.choice(list(POOLS))]
        length = rng.randint(1, 4)
        start = rng.randint(0, 4 - length)
        request: dict[str, dict[str, int]] = {}
        for pool in pools:
            for quarter in QUARTERS[start : start + length]:
                hours = round(math.exp(rng.uniform(math.log(5_000), math.log(200_000))), -2)
                request.setdefault(pool, {})[quarter] = int(hours)
                demand[pool, quarter] += int(hours)
        project: dict[str, Any] = {
            "id": f"AISS-2026-{number:04d}",
            "org": rng.choices(orgs, weights)[0],
            "score": round(min(5.0, max(0.0, rng.gauss(3.2, 0.6))), 2),
            "min_share": rng.choice([0.25, 0.5, 0.5, 0.5, 0.75, 1.0]),
            "request": request,
        }
        if rng.random() < 0.2:
            project["subsidy_rate"] = rng.choice(["0.50", "1.00"])
        projects.append(project)
    if scaled:
        per_key = sum(demand.values()) / len(demand) / OVERSUBSCRIPTION
        capacity = {pool: {q: int(round(per_key, -4)) for q in QUARTERS} for pool in POOLS}
    else:
        capacity = {pool: dict.fromkeys(QUARTERS, CENTRE_CAPACITY) for pool in POOLS}
    value = sum(Decimal(POOLS[pool]) * sum(capacity[pool].values()) for pool in POOLS) * Decimal("0.70")
    return {
        "pools": {pool: {"price": price, "capacity": capacity[pool]} for pool, price in POOLS.items()},
        "subsidy_rate": "0.70",
        "budget": f"{value * Decimal(budget_factor):.2f}",
        "org_cap": 0.25,
        "tiers": [4.0, 3.5, 3.0],
        "projects": projects,
    }


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def main() -> None:
    from tests.benchmarks.results import record

    print(
        f"{'scenario':<8} {'n':>5} {'cap/pool-q':>11} {'oversub':>7} {'milp s':>7} {'total s':>7} {'status':<10} "
        f"{'gap':>9} {'optimal':>10} {'rank':>10} {'opt/rank':>8} {'tiers':>10} {'budget':>7} {'org_cap':>7}"
    )
    for scaled in (True, False):
        for n, budget_factor in ((2_000, "1.25"), (2_000, "0.85"), (5_000, "1.25"), (5_000, "0.85")):
            call = random_call(n, scaled=scaled, budget_factor=budget_factor)
            problem = parse_problem(call)
            capacity = sum(sum(p.capacity.values()) for p in problem.pools.values())
            demand = sum(h for p in problem.projects for q in p.request.values() for h in q.values())
            milp, milp_time = _timed(solve, Ledger(problem), time_limit=60.0, mip_rel_gap=1e-4)
            optimal, total_time = _timed(allocate, problem, "optimal")
            rank = allocate(problem, "rank")
            tiers = allocate(problem, "tiers")
            reasons = [award["reason"] for award in optimal["awards"].values()]
            budget_used = Decimal(optimal["totals"]["subsidy"]) / problem.budget
            gap = "-" if optimal["gap"] is None else f"{optimal['gap']:.2e}"
            print(
                f"{'scaled' if scaled else 'fixed':<8} {n:>5} {capacity / 8:>11,.0f} {float(demand / capacity):>6.1f}x "
                f"{milp_time:>7.2f} {total_time:>7.2f} {optimal['status']:<10} {gap:>9} {optimal['objective']:>10.2f} "
                f"{rank['objective']:>10.2f} {optimal['objective'] / rank['objective']:>8.4f} "
                f"{tiers['objective']:>10.2f} {float(budget_used):>6.1%} "
                f"{sum(r.startswith('org_cap') for r in reasons):>7}",
                flush=True,
            )
            assert milp.status in {"optimal", "time_limit"}
            record(
                f"optimiser / bare HiGHS solve, {n:,} projects, budget x{budget_factor}{' (scaled)' if scaled else ''}",
                f"{total_time / milp_time:.2f}x",
            )
