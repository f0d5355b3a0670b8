"""Exact bookkeeping shared by the policies: the constraints 1-3 as rows, the shares, and what each row has used.

Shares are Decimals on a grid of 1e-6 (or exactly a project's ``min_share``, or 0 or 1). All sums are exact; a
division that decides how much more a project may take is rounded *down*, so a share taken from
:meth:`Ledger.headroom` always fits exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext

from .problem import ONE, ZERO, Problem

SHARE_QUANTUM = Decimal("0.000001")
EXACT = Context(prec=100, rounding=ROUND_FLOOR)

FULL = "full"
MIN_SHARE = "min_share"
BELOW_LAST_TIER = "below last tier"
# Tiers: held to the tier's common share by a row the project is not in (followed by that row's label).
TIER_SHARE = "tier_share"


@dataclass(frozen=True)
class Constraint:
    label: str  # also the reason when it binds: "capacity h800 2026Q1", "budget", "org_cap org-hku h800"
    rhs: Decimal
    members: dict[int, Decimal]  # project index -> coefficient (> 0)


def build_constraints(problem: Problem) -> list[Constraint]:
    """Rows in reason order: capacity per pool and quarter, then the budget, then org caps per pool and org."""
    projects = problem.projects
    rows = [
        Constraint(
            label=f"capacity {pool} {quarter}",
            rhs=problem.pools[pool].capacity[quarter],
            members={
                index: project.request[pool][quarter]
                for index, project in enumerate(projects)
                if project.request.get(pool, {}).get(quarter, ZERO) > 0
            },
        )
        for pool, quarter in problem.pool_quarters()
    ]
    costs = {index: problem.cost(project) for index, project in enumerate(projects)}
    rows.append(Constraint(label="budget", rhs=problem.budget, members={i: c for i, c in costs.items() if c > 0}))
    for pool in problem.pools.values():
        limit = problem.org_cap * sum(pool.capacity.values(), ZERO)
        by_org: dict[str, dict[int, Decimal]] = {}
        for index, project in enumerate(projects):
            hours = project.pool_hours(pool.name)
            if hours > 0:
                by_org.setdefault(project.org, {})[index] = hours
        rows.extend(
            Constraint(label=f"org_cap {org} {pool.name}", rhs=limit, members=members)
            for org, members in by_org.items()
        )
    return rows


def rank_order(problem: Problem) -> list[int]:
    """Project indices by score, highest first; ties by id."""
    return sorted(range(len(problem.projects)), key=lambda i: (-problem.projects[i].score, problem.projects[i].id))


def floor_share(value: Decimal) -> Decimal:
    return value.quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR)


class Ledger:
    """Shares of every project and the exact amount each constraint row has used."""

    def __init__(self, problem: Problem, constraints: list[Constraint] | None = None) -> None:
        self.problem = problem
        self.constraints = build_constraints(problem) if constraints is None else constraints
        self.memberships: list[list[tuple[int, Decimal]]] = [[] for _ in problem.projects]
        for row, constraint in enumerate(self.constraints):
            for index, coefficient in constraint.members.items():
                self.memberships[index].append((row, coefficient))
        self.used = [ZERO] * len(self.constraints)
        self.shares = [ZERO] * len(problem.projects)

    def slack(self, row: int) -> Decimal:
        return self.constraints[row].rhs - self.used[row]

    def set_share(self, index: int, share: Decimal) -> None:
        with localcontext(EXACT):
            delta = share - self.shares[index]
            for row, coefficient in self.memberships[index]:
                self.used[row] += delta * coefficient
        self.shares[index] = share

    def headroom(self, index: int) -> tuple[Decimal, int]:
        """How much more share project ``index`` could take alone, and the row that stops it first.

        Ties go to the first row in reason order. Every project requests some hours, so it is in some row.
        """
        best: Decimal | None = None
        best_row = -1
        with localcontext(EXACT):  # rounds down: the headroom never overstates what fits
            for row, coefficient in self.memberships[index]:
                room = self.slack(row) / coefficient
                if best is None or room < best:
                    best, best_row = room, row
        assert best is not None
        return best, best_row

    def largest_fit(self, index: int, limit: Decimal) -> Decimal | None:
        """The largest valid share ≤ ``limit`` (and ≤ 1) for project ``index``, or None if below its min_share."""
        if limit >= ONE:
            return ONE
        min_share = self.problem.projects[index].min_share
        share = floor_share(limit)
        if share >= min_share:
            return share
        return min_share if limit >= min_share else None

    def objective(self) -> Decimal:
        with localcontext(EXACT):
            return sum((p.score * s for p, s in zip(self.problem.projects, self.shares, strict=True)), ZERO)

    def reason(self, index: int) -> str:
        """Why project ``index`` has its share: full, min_share (unfunded) or the row with the least headroom."""
        share = self.shares[index]
        if share == ONE:
            return FULL
        if share == 0:
            return MIN_SHARE
        return self.constraints[self.headroom(index)[1]].label

    def repair(self, order: list[int]) -> None:
        """Make every row hold exactly, taking share from the lowest-ranked members first (solver tolerance).

        First shares are cut towards their min_share; if that is not enough, members are dropped to 0. Cutting
        only lowers the other rows, so one pass in row order suffices.
        """
        position = {index: rank for rank, index in enumerate(order)}
        for row, constraint in enumerate(self.constraints):
            if self.slack(row) >= 0:
                continue
            members = sorted(constraint.members, key=lambda i: -position[i])
            for index in members:
                if self.slack(row) >= 0:
                    break
                share, min_share = self.shares[index], self.problem.projects[index].min_share
                if share <= min_share:
                    continue
                with localcontext(EXACT) as context:
                    context.rounding = ROUND_CEILING
                    need = (-self.slack(row) / constraint.members[index]).quantize(SHARE_QUANTUM)
                self.set_share(index, max(min_share, share - need))
            for index in members:
                if self.slack(row) >= 0:
                    break
                self.set_share(index, ZERO)

    def polish(self, order: list[int]) -> None:
        """Give what is left: raise partial shares (then unfunded projects) in rank order as far as they fit."""
        for funded in (True, False):
            for index in order:
                share = self.shares[index]
                if share == ONE or (share > 0) != funded:
                    continue
                room, _ = self.headroom(index)
                new = self.largest_fit(index, share + room)
                if new is not None and new > share:
                    self.set_share(index, new)
