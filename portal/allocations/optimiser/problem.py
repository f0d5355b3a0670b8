"""The allocation problem as plain, validated data (``docs/allocation.md``, "Input").

Every number is kept as an exact :class:`~decimal.Decimal`: money always, and hours, scores and shares too, so
that feasibility can be decided exactly. A malformed input raises :class:`ProblemError` naming the field path,
e.g. ``projects[3].request.h800.2026Q1: negative hours``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ONE = Decimal(1)
ZERO = Decimal(0)


class ProblemError(ValueError):
    """A malformed allocation problem; ``str()`` is ``"<field path>: <problem>"``."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Pool:
    name: str
    price: Decimal
    capacity: dict[str, Decimal]  # quarter -> GPU-hours that may be awarded


@dataclass(frozen=True)
class Project:
    id: str
    org: str
    score: Decimal
    min_share: Decimal
    request: dict[str, dict[str, Decimal]]  # pool -> quarter -> GPU-hours (only pools and quarters it names)
    subsidy_rate: Decimal  # its own rate, or the call's

    def pool_hours(self, pool: str) -> Decimal:
        return sum(self.request.get(pool, {}).values(), ZERO)


@dataclass(frozen=True)
class Problem:
    pools: dict[str, Pool]
    subsidy_rate: Decimal
    budget: Decimal
    org_cap: Decimal
    tiers: tuple[Decimal, ...]
    projects: tuple[Project, ...]

    def cost(self, project: Project) -> Decimal:
        """The subsidy for the whole request: Σ hours * price * the project's subsidy rate (exact)."""
        return sum(
            (
                hours * self.pools[pool].price * project.subsidy_rate
                for pool, quarters in project.request.items()
                for hours in quarters.values()
            ),
            ZERO,
        )

    def pool_quarters(self) -> list[tuple[str, str]]:
        """Every (pool, quarter) with a capacity, in input order."""
        return [(pool.name, quarter) for pool in self.pools.values() for quarter in pool.capacity]


def parse_problem(data: Any) -> Problem:
    """Validate a problem given as plain data (e.g. loaded from JSON) and return it as a :class:`Problem`.

    Accepted number types: hours, scores, shares and ``org_cap`` may be int, float, Decimal or a numeric string;
    money (``price``, ``budget``, ``subsidy_rate``) must be exact: a decimal string, an int or a Decimal.
    Unknown keys are ignored.
    """
    if isinstance(data, Problem):
        return data
    top = _mapping(data, "problem")
    pools = _parse_pools(_required(top, "pools", ""))
    subsidy_rate = _rate(_required(top, "subsidy_rate", ""), "subsidy_rate")
    budget = _money(_required(top, "budget", ""), "budget")
    if budget < 0:
        raise ProblemError("budget", "must not be negative")
    org_cap = _number(_required(top, "org_cap", ""), "org_cap")
    if not ZERO < org_cap <= ONE:
        raise ProblemError("org_cap", "must be in (0, 1]")
    tiers = _parse_tiers(top.get("tiers"))
    raw_projects = _required(top, "projects", "")
    if not isinstance(raw_projects, Sequence) or isinstance(raw_projects, str | bytes):
        raise ProblemError("projects", "must be a list")
    projects: list[Project] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_projects):
        project = _parse_project(raw, f"projects[{index}]", pools, subsidy_rate)
        if project.id in seen:
            raise ProblemError(f"projects[{index}].id", f"duplicate id {project.id}")
        seen.add(project.id)
        projects.append(project)
    return Problem(
        pools=pools,
        subsidy_rate=subsidy_rate,
        budget=budget,
        org_cap=org_cap,
        tiers=tiers,
        projects=tuple(projects),
    )


def _parse_pools(value: Any) -> dict[str, Pool]:
    raw_pools = _mapping(value, "pools")
    if not raw_pools:
        raise ProblemError("pools", "must name at least one pool")
    pools: dict[str, Pool] = {}
    for name, raw in raw_pools.items():
        path = f"pools.{name}"
        entry = _mapping(raw, path)
        price = _money(_required(entry, "price", path), f"{path}.price")
        if price < 0:
            raise ProblemError(f"{path}.price", "negative price")
        raw_capacity = _mapping(_required(entry, "capacity", path), f"{path}.capacity")
        if not raw_capacity:
            raise ProblemError(f"{path}.capacity", "must name at least one quarter")
        capacity: dict[str, Decimal] = {}
        for quarter, hours in raw_capacity.items():
            capacity[str(quarter)] = _hours(hours, f"{path}.capacity.{quarter}", "negative capacity")
        pools[str(name)] = Pool(name=str(name), price=price, capacity=capacity)
    return pools


def _parse_tiers(value: Any) -> tuple[Decimal, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise ProblemError("tiers", "must be a list")
    tiers = tuple(_number(item, f"tiers[{index}]") for index, item in enumerate(value))
    for index in range(1, len(tiers)):
        if tiers[index] >= tiers[index - 1]:
            raise ProblemError(f"tiers[{index}]", "must be lower than the tier before (highest first)")
    return tiers


def _parse_project(raw: Any, path: str, pools: dict[str, Pool], call_rate: Decimal) -> Project:
    entry = _mapping(raw, path)
    project_id = _text(_required(entry, "id", path), f"{path}.id")
    org = _text(_required(entry, "org", path), f"{path}.org")
    score = _number(_required(entry, "score", path), f"{path}.score")
    if score < 0:
        raise ProblemError(f"{path}.score", "must not be negative")
    min_share = _number(_required(entry, "min_share", path), f"{path}.min_share")
    if not ZERO < min_share <= ONE:
        raise ProblemError(f"{path}.min_share", "must be in (0, 1]")
    own_rate = entry.get("subsidy_rate")
    rate = call_rate if own_rate is None else _rate(own_rate, f"{path}.subsidy_rate")
    raw_request = _mapping(_required(entry, "request", path), f"{path}.request")
    request: dict[str, dict[str, Decimal]] = {}
    total = ZERO
    for pool_name, raw_quarters in raw_request.items():
        pool_path = f"{path}.request.{pool_name}"
        pool = pools.get(str(pool_name))
        if pool is None:
            raise ProblemError(pool_path, "unknown pool")
        quarters: dict[str, Decimal] = {}
        for quarter, hours in _mapping(raw_quarters, pool_path).items():
            if str(quarter) not in pool.capacity:
                raise ProblemError(f"{pool_path}.{quarter}", "unknown quarter")
            quarters[str(quarter)] = _hours(hours, f"{pool_path}.{quarter}", "negative hours")
            total += quarters[str(quarter)]
        request[pool.name] = quarters
    if total == 0:
        raise ProblemError(f"{path}.request", "no hours requested")
    return Project(id=project_id, org=org, score=score, min_share=min_share, request=request, subsidy_rate=rate)


def _required(entry: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in entry or entry[key] is None:
        raise ProblemError(f"{path}.{key}" if path else key, "missing")
    return entry[key]


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProblemError(path, "must be an object")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(path, "must be a non-empty string")
    return value


def _number(value: Any, path: str) -> Decimal:
    """A finite number: int, float, Decimal or numeric string, as an exact Decimal (floats as written)."""
    if isinstance(value, bool):
        raise ProblemError(path, "must be a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ProblemError(path, f"not a number: {value!r}") from None
    else:
        raise ProblemError(path, "must be a number")
    if not number.is_finite():
        raise ProblemError(path, "must be a finite number")
    return number


def _money(value: Any, path: str) -> Decimal:
    """Money is exact: a decimal string such as ``"25.00"``, an int or a Decimal, never a float."""
    if isinstance(value, float):
        raise ProblemError(path, 'must be a decimal string such as "25.00" (money is exact)')
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ProblemError(path, f"not a decimal amount: {value!r}") from None
        if not amount.is_finite():
            raise ProblemError(path, f"not a decimal amount: {value!r}")
        return amount
    return _number(value, path)


def _rate(value: Any, path: str) -> Decimal:
    rate = _money(value, path)
    if not ZERO <= rate <= ONE:
        raise ProblemError(path, "must be between 0 and 1")
    return rate


def _hours(value: Any, path: str, negative: str) -> Decimal:
    hours = _number(value, path)
    if hours < 0:
        raise ProblemError(path, negative)
    return hours
