"""An independent check that a result satisfies constraints 1-4 of ``docs/allocation.md``.

Written apart from the policies on purpose: it recomputes everything from the problem and the result as
reported (shares, hours, subsidies, totals), in exact decimal arithmetic, and shares no code with the solvers
beyond the parsed problem. Every policy runs it before returning; a result that fails is never reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation, localcontext
from typing import Any

from .problem import ONE, ZERO, Problem, parse_problem

# Reported hours are share * request rounded down to 6 decimals; a subsidy is share * cost rounded down to the cent.
HOURS_TOLERANCE = Decimal("0.000001")
OBJECTIVE_TOLERANCE = Decimal("0.000001")
CENT = Decimal("0.01")


def check_feasible(problem: Problem | Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
    """Return the violations of ``result`` (an output dict) against ``problem``; an empty list means feasible.

    Awards may leave projects out (they count as share 0). Malformed results are reported as violations, never
    raised.
    """
    problem = parse_problem(problem)
    with localcontext(Context(prec=100)):
        return _Checker(problem, result).run()


def _show(value: Decimal) -> str:
    """A decimal without trailing zeros, for messages."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal(value: Any) -> Decimal | None:
    """A reported number as the decimal it is written as (floats by their shortest repr, as JSON writes them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


class _Checker:
    def __init__(self, problem: Problem, result: Mapping[str, Any]) -> None:
        self.problem = problem
        self.result = result
        self.violations: list[str] = []

    def run(self) -> list[str]:
        awards = self.result.get("awards")
        if not isinstance(awards, Mapping):
            return ["awards: missing or not an object"]
        by_id = {project.id: project for project in self.problem.projects}
        exact_hours = dict.fromkeys(self.problem.pool_quarters(), ZERO)
        reported_hours = dict.fromkeys(self.problem.pool_quarters(), ZERO)
        org_hours: dict[tuple[str, str], Decimal] = {}
        exact_subsidy = ZERO
        reported_subsidy = ZERO
        objective = ZERO
        for project_id, award in awards.items():
            project = by_id.get(project_id)
            if project is None:
                self.violations.append(f"awards.{project_id}: unknown project")
                continue
            share = _decimal(award.get("share")) if isinstance(award, Mapping) else None
            if share is None:
                self.violations.append(f"awards.{project_id}.share: not a number")
                continue
            if share != 0 and not project.min_share <= share <= ONE:
                self.violations.append(
                    f"awards.{project_id}.share: {share} is neither 0 nor between min_share {_show(project.min_share)} and 1"
                )
            objective += project.score * share
            hours = award.get("hours")
            if not isinstance(hours, Mapping):
                self.violations.append(f"awards.{project_id}.hours: missing or not an object")
                hours = {}
            for pool, quarters in project.request.items():
                for quarter, requested in quarters.items():
                    exact = share * requested
                    exact_hours[pool, quarter] += exact
                    org_key = (project.org, pool)
                    org_hours[org_key] = org_hours.get(org_key, ZERO) + exact
                    pool_hours = hours.get(pool)
                    reported = _decimal(pool_hours.get(quarter)) if isinstance(pool_hours, Mapping) else None
                    if reported is None:
                        self.violations.append(f"awards.{project_id}.hours.{pool}.{quarter}: missing")
                        continue
                    if abs(reported - exact) > HOURS_TOLERANCE:
                        self.violations.append(
                            f"awards.{project_id}.hours.{pool}.{quarter}: {reported} is not share * request ({_show(exact)})"
                        )
                    reported_hours[pool, quarter] += reported
            for pool, quarters in hours.items():
                for quarter, value in quarters.items() if isinstance(quarters, Mapping) else ():
                    if quarter not in project.request.get(pool, {}) and _decimal(value) != 0:
                        self.violations.append(f"awards.{project_id}.hours.{pool}.{quarter}: not requested")
            exact = share * self.problem.cost(project)
            exact_subsidy += exact
            subsidy = self._money(award.get("subsidy"), f"awards.{project_id}.subsidy")
            if subsidy is not None:
                if subsidy != exact.quantize(CENT, rounding=ROUND_FLOOR):
                    self.violations.append(
                        f"awards.{project_id}.subsidy: {subsidy} is not share * cost rounded down to the cent ({_show(exact)})"
                    )
                reported_subsidy += subsidy
        self._check_capacity(exact_hours, reported_hours)
        self._check_budget(exact_subsidy, reported_subsidy)
        self._check_org_cap(org_hours)
        self._check_totals(reported_hours, reported_subsidy)
        reported_objective = self.result.get("objective")
        if reported_objective is not None:
            value = _decimal(reported_objective)
            if value is None or abs(value - objective) > OBJECTIVE_TOLERANCE:
                self.violations.append(
                    f"objective: {reported_objective} is not the sum of score * share ({_show(objective)})"
                )
        return self.violations

    def _money(self, value: Any, path: str) -> Decimal | None:
        amount = _decimal(value) if isinstance(value, str) else None
        if amount is None or amount.as_tuple().exponent != -2:
            self.violations.append(f"{path}: {value!r} is not an amount with two decimals")
            return None
        return amount

    def _check_capacity(self, exact: dict[tuple[str, str], Decimal], reported: dict[tuple[str, str], Decimal]) -> None:
        for (pool, quarter), awarded in exact.items():
            capacity = self.problem.pools[pool].capacity[quarter]
            if max(awarded, reported[pool, quarter]) > capacity:
                self.violations.append(
                    f"capacity {pool} {quarter}: {_show(max(awarded, reported[pool, quarter]))} hours awarded > {_show(capacity)}"
                )

    def _check_budget(self, exact: Decimal, reported: Decimal) -> None:
        if max(exact, reported) > self.problem.budget:
            self.violations.append(f"budget: {_show(max(exact, reported))} awarded > {self.problem.budget}")

    def _check_org_cap(self, org_hours: dict[tuple[str, str], Decimal]) -> None:
        for (org, pool), awarded in org_hours.items():
            limit = self.problem.org_cap * sum(self.problem.pools[pool].capacity.values(), ZERO)
            if awarded > limit:
                self.violations.append(f"org_cap {org} {pool}: {_show(awarded)} hours awarded > {_show(limit)}")

    def _check_totals(self, reported_hours: dict[tuple[str, str], Decimal], reported_subsidy: Decimal) -> None:
        totals = self.result.get("totals")
        if not isinstance(totals, Mapping):
            self.violations.append("totals: missing or not an object")
            return
        subsidy = self._money(totals.get("subsidy"), "totals.subsidy")
        if subsidy is not None and subsidy != reported_subsidy:
            self.violations.append(f"totals.subsidy: {subsidy} is not the sum of the awards ({reported_subsidy})")
        hours = totals.get("hours")
        for (pool, quarter), awarded in reported_hours.items():
            quarters = hours.get(pool) if isinstance(hours, Mapping) else None
            total = _decimal(quarters.get(quarter)) if isinstance(quarters, Mapping) else None
            if total is None or abs(total - awarded) > HOURS_TOLERANCE:
                self.violations.append(
                    f"totals.hours.{pool}.{quarter}: {total} is not the sum of the awards ({_show(awarded)})"
                )
