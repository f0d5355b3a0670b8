"""Automatic reviewer assignment for a whole call, solved as an optimisation problem.

Pure Python with numpy/scipy (HiGHS through :func:`scipy.optimize.milp`); no Django. The reviews app turns a call
into an :class:`AssignmentProblem` (ids as strings), calls :func:`assign`, checks the answer with
:func:`check_assignment` and saves the pairs.

The model: a binary ``x[p, r]`` for every allowed (proposal, reviewer) pair, i.e. a pair that is not a conflict,
whose proposal still needs reviewers and whose reviewer has capacity left (suggested reviewers of a proposal that
already has one of them assigned are not allowed either). The first ``first[p]`` of a proposal's needed slots are
its *first slots*, the ones that bring it up to the call's minimum number of reviewers (``min_reviewers``, capped
by the need; 0 when missing); ``f[p]`` in [0, first[p]] counts how many of them are filled. Constraints::

    Σ_r x[p, r] - f[p] ≤ need[p] - first[p]  every proposal (so Σ_r x[p, r] ≤ need[p])
    f[p] - Σ_r x[p, r] ≤ 0                   every proposal with first slots (so f[p] ≤ min(first[p], Σ_r x[p, r]))
    Σ_p x[p, r] ≤ capacity[r]                every reviewer
    Σ_{r ∈ suggested[p]} x[p, r] ≤ 1         every proposal with two or more allowed suggested reviewers

The objective is lexicographic, solved in three stages, each keeping the previous stages' numbers of first slots
and slots:

1. maximise the number of filled first slots Σ f (so that, when reviewers run short, the proposals are first
   brought up to their minimum rather than some filled while others get nobody), then the number of assigned slots
   Σ x (so every proposal that can be fully assigned is), with the affinity as a tie-breaker worth less than one
   slot in total (it also makes the simplex much faster than a flat objective). One linear programme: a first slot
   is worth W, a slot 1 + affinity / W, and W exceeds the value of all the slots together. Putting the first
   slots first costs no slot: an augmenting path never sends flow back along an arc out of the source, so a
   maximum flow on the first slots extends to a maximum flow on all the slots. Note that the most first
   slots is not always the most proposals at their minimum (two proposals one short of it fill as many first slots
   as one at its minimum and one two short): the latter is not a network-flow problem;
2. maximise the total expertise affinity Σ a[p, r] · x[p, r] at that number of slots (exactly, not as a
   tie-breaker);
3. make the reviewers' loads as even as possible at that affinity: minimise Σ_r load[r]² - λ · affinity, where
   load[r] counts the reviewer's current assignments too, with λ large enough that no evenness is bought with
   affinity (exact when affinities lie on a decimal grid of at most six places; otherwise checked). The square is
   modelled with a unit variable per possible extra review of each reviewer whose cost is the square's increment
   (2·load + 1); since the costs increase, the cheapest units are used first. The answer is kept only if its
   affinity is within a relative 1e-6 of stage 2's.

Last, the answer is compared with the greedy baseline's and greedy's pairs are returned if they rank higher on
(first slots, slots, affinity): the promise of :func:`assign` then holds on every instance, whatever the time limit.

All three stages are network-flow problems (source → {first, rest} → proposal → [suggested group →] reviewer →
sink: ``f[p]`` is the flow on the "first" arc into the proposal, Σ_r x[p, r] - f[p] the flow on its "rest" arc, and
the "Σ f ≥ first slots" and "Σ x ≥ slots" rows are arcs on the source side): their constraint matrices are totally
unimodular, so the linear relaxation HiGHS solves has integral basic optima and there is no branching (a MILP with
x binary is the fallback if rounding ever left a fractional value). 500 proposals x 150 reviewers take 1-2 s. Each stage gets what is left of
``time_limit``. When a stage runs out of time, the best solution found so far is kept (the greedy one if there is
none yet), the gaps are filled where a reviewer without a conflict still has capacity, and the result's status is
``"time_limit"``.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

__all__ = [
    "AssignmentProblem",
    "AssignmentResult",
    "Shortfall",
    "assign",
    "assign_greedy",
    "check_assignment",
    "shortfalls",
]

# Relative tolerance on the affinity optimum when evenness is improved (stage 3) and when results are compared.
AFFINITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AssignmentProblem:
    proposals: dict[
        str, int
    ]  # proposal id -> reviewers needed (the call's reviewers_per_proposal minus those already assigned)
    reviewers: dict[
        str, int
    ]  # reviewer id -> remaining capacity (max per call minus current load); unavailable reviewers are left out
    conflicts: frozenset[
        tuple[str, str]
    ]  # (proposal, reviewer) pairs that must never be assigned (includes already-assigned pairs)
    suggested: dict[
        str, frozenset[str]
    ]  # proposal -> reviewers the applicant suggested; at most ONE of them may be assigned (counting already-assigned ones: suggested_already)
    affinity: dict[tuple[str, str], float]  # expertise match in [0, 1] (missing = 0)
    suggested_already: dict[str, int] = field(default_factory=dict)  # proposal -> suggested reviewers already assigned
    load_already: dict[str, int] = field(default_factory=dict)  # reviewer -> current load, for evenness
    min_reviewers: dict[str, int] = field(
        default_factory=dict
    )  # proposal -> how many of its needed slots are first slots (the call's min_reviewers minus those already assigned)


@dataclass(frozen=True)
class AssignmentResult:
    pairs: frozenset[tuple[str, str]]  # new (proposal, reviewer) assignments
    unassigned: dict[str, tuple[int, str]]  # proposal -> (reviewers still missing, human-readable reason in English)
    objective: float  # total affinity of the new pairs
    status: str  # "optimal", "time_limit", "greedy"


# ---------------------------------------------------------------------------------------------------------------
# Shared reading of the problem
# ---------------------------------------------------------------------------------------------------------------


def _need(problem: AssignmentProblem, proposal: str) -> int:
    return max(0, int(problem.proposals[proposal]))


def _first(problem: AssignmentProblem, proposal: str) -> int:
    """How many of ``proposal``'s needed slots are first slots: those that bring it up to its minimum."""
    return min(_need(problem, proposal), max(0, int(problem.min_reviewers.get(proposal, 0))))


def _first_filled(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]]) -> int:
    """The number of first slots ``pairs`` fill: Σ_p min(first[p], new reviewers of p)."""
    count = Counter(p for p, _r in pairs)
    return sum(min(_first(problem, p), count[p]) for p in count)


def _capacity(problem: AssignmentProblem, reviewer: str) -> int:
    return max(0, int(problem.reviewers[reviewer]))


def _suggested_limit(problem: AssignmentProblem, proposal: str) -> int:
    """How many more of the applicant's suggested reviewers may still be assigned to ``proposal`` (0 or 1)."""
    return max(0, 1 - int(problem.suggested_already.get(proposal, 0)))


def _affinity(problem: AssignmentProblem, proposal: str, reviewer: str) -> float:
    return float(problem.affinity.get((proposal, reviewer), 0.0))


def _validate(problem: AssignmentProblem) -> None:
    for pair, value in problem.affinity.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"affinity of {pair!r} must be a number in [0, 1], not {value!r}")


def _allowed_pairs(problem: AssignmentProblem) -> list[tuple[str, str]]:
    """The pairs the solver may choose, proposals and reviewers in the problem's order."""
    pairs = []
    for proposal in problem.proposals:
        if _need(problem, proposal) == 0:
            continue
        suggested = problem.suggested.get(proposal, frozenset())
        no_suggested = _suggested_limit(problem, proposal) == 0
        for reviewer in problem.reviewers:
            if _capacity(problem, reviewer) == 0 or (proposal, reviewer) in problem.conflicts:
                continue
            if no_suggested and reviewer in suggested:
                continue
            pairs.append((proposal, reviewer))
    return pairs


@dataclass(frozen=True)
class Shortfall:
    """Why a proposal is still short of reviewers, as figures a page can put into words in the reader's language.

    ``free`` reviewers have no conflict with the proposal (``conflicted`` do); ``full`` of the free ones have no
    capacity left after the assignment; ``suggested`` of the free ones are on the applicant's list, of whom
    ``suggested_limit`` (0 or 1) more may be assigned; ``below_minimum`` slots are still missing to reach the call's
    minimum number of reviewers."""

    missing: int
    need: int
    free: int
    conflicted: int
    full: int
    suggested: int
    suggested_limit: int
    below_minimum: int

    @property
    def usable(self) -> int:
        return self.free - self.suggested + min(self.suggested, self.suggested_limit)

    @property
    def too_few_without_conflict(self) -> bool:
        return self.free < self.need

    @property
    def suggested_limit_binds(self) -> bool:
        return not self.too_few_without_conflict and self.usable < self.need

    @property
    def capacity_exhausted(self) -> bool:
        return self.missing > max(0, self.need - self.usable)

    def english(self) -> str:
        """The reason in English (for the audit record and logs; pages translate the figures themselves)."""
        reasons = []
        if self.too_few_without_conflict:
            s = "s" if self.free != 1 else ""
            reasons.append(f"only {self.free} available reviewer{s} without a conflict")
        elif self.suggested_limit_binds:
            reasons.append(
                f"suggested-reviewer limit: {self.suggested} of the {self.free} reviewers without a conflict are on "
                f"the applicant's suggested list and {'only one' if self.suggested_limit else 'no more'} of them "
                "may be assigned"
            )
        if self.capacity_exhausted:
            reasons.append("reviewers' capacity exhausted")
        if self.below_minimum > 0:
            reasons.insert(0, f"{self.below_minimum} short of the minimum number of reviewers")
        return "; ".join(reasons)


def shortfalls(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]]) -> dict[str, Shortfall]:
    """The proposals still short of reviewers after ``pairs``, each with the figures that explain why."""
    pairs = list(pairs)
    assigned: dict[str, int] = defaultdict(int)
    load: dict[str, int] = defaultdict(int)
    for proposal, reviewer in pairs:
        assigned[proposal] += 1
        load[reviewer] += 1
    result = {}
    for proposal in problem.proposals:
        need = _need(problem, proposal)
        missing = need - assigned[proposal]
        if missing <= 0:
            continue
        suggested = problem.suggested.get(proposal, frozenset())
        free = [r for r in problem.reviewers if (proposal, r) not in problem.conflicts]
        result[proposal] = Shortfall(
            missing=missing,
            need=need,
            free=len(free),
            conflicted=len(problem.reviewers) - len(free),
            full=sum(1 for r in free if load[r] >= _capacity(problem, r)),
            suggested=sum(1 for r in free if r in suggested),
            suggested_limit=_suggested_limit(problem, proposal),
            below_minimum=max(0, _first(problem, proposal) - assigned[proposal]),
        )
    return result


def _unassigned(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[int, str]]:
    """The proposals still short of reviewers after ``pairs``, each with the reason in English."""
    return {p: (s.missing, s.english()) for p, s in shortfalls(problem, pairs).items()}


def _result(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]], status: str) -> AssignmentResult:
    pairs = frozenset(pairs)
    objective = math.fsum(_affinity(problem, p, r) for p, r in pairs)
    return AssignmentResult(pairs=pairs, unassigned=_unassigned(problem, pairs), objective=objective, status=status)


def _fill(problem: AssignmentProblem, chosen: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Add pairs greedily to ``chosen`` while some proposal is short and a reviewer it may have has capacity left.

    Two rounds: first every proposal up to its first slots (its minimum), then every proposal up to its need; in each
    round the proposals in the problem's order, each taking the best-affinity reviewers, the least loaded first on
    ties. This is the greedy baseline when ``chosen`` is empty, and the repair of a solution cut short by the time
    limit.
    """
    chosen = set(chosen)
    load = defaultdict(int)
    count = defaultdict(int)
    suggested_count = defaultdict(int)
    for proposal, reviewer in chosen:
        load[reviewer] += 1
        count[proposal] += 1
        if reviewer in problem.suggested.get(proposal, frozenset()):
            suggested_count[proposal] += 1
    allowed = defaultdict(list)
    for proposal, reviewer in _allowed_pairs(problem):
        allowed[proposal].append(reviewer)
    for proposal, target in [(p, _first(problem, p)) for p in problem.proposals] + [
        (p, _need(problem, p)) for p in problem.proposals
    ]:
        suggested = problem.suggested.get(proposal, frozenset())
        candidates = sorted(
            allowed[proposal],
            key=lambda r: (-_affinity(problem, proposal, r), problem.load_already.get(r, 0) + load[r]),
        )
        for reviewer in candidates:
            if count[proposal] >= target:
                break
            if (proposal, reviewer) in chosen or load[reviewer] >= _capacity(problem, reviewer):
                continue
            if reviewer in suggested:
                if suggested_count[proposal] >= _suggested_limit(problem, proposal):
                    continue
                suggested_count[proposal] += 1
            chosen.add((proposal, reviewer))
            load[reviewer] += 1
            count[proposal] += 1
    return chosen


# ---------------------------------------------------------------------------------------------------------------
# The baseline and the optimiser
# ---------------------------------------------------------------------------------------------------------------


def assign_greedy(problem: AssignmentProblem) -> AssignmentResult:
    """The obvious baseline: proposals in order, each taking the best-affinity reviewers still available, first up
    to its minimum (every proposal), then up to its need."""
    _validate(problem)
    return _result(problem, _fill(problem, ()), "greedy")


class _Model:
    """The pair and first-slot variables and the network rows shared by the three stages.

    Columns: ``x`` for the pairs, then ``f`` for the proposals with first slots (bounded by their first slots), then
    any continuous columns a stage adds. Every stage is a network-flow problem (source → {first, rest} → proposal →
    [suggested group →] reviewer → sink), so its constraint matrix is totally unimodular and the basic optimal
    solutions HiGHS returns for the linear relaxation are integral: each stage is first solved as a linear programme
    and only re-solved with ``x`` binary, as a MILP, if rounding errors left a fractional value.
    """

    def __init__(self, problem: AssignmentProblem, pairs: list[tuple[str, str]]):
        self.problem = problem
        self.pairs = pairs
        n = len(pairs)
        self.affinity = np.array([_affinity(problem, p, r) for p, r in pairs])
        proposal_index = {p: i for i, p in enumerate(dict.fromkeys(p for p, _ in pairs))}
        reviewer_index = {r: i for i, r in enumerate(dict.fromkeys(r for _, r in pairs))}
        self.reviewers = list(reviewer_index)
        self.pair_reviewer = np.array([reviewer_index[r] for _, r in pairs], dtype=np.int64)
        pair_proposal = [proposal_index[p] for p, _ in pairs]
        # The first-slot columns f[p], one per proposal with first slots, after the pair columns.
        first = {p: _first(problem, p) for p in proposal_index}
        first_column = {p: n + k for k, p in enumerate(p for p, value in first.items() if value > 0)}
        self.first_count = len(first_column)
        self.size = n + self.first_count
        self.upper = np.concatenate([np.ones(n), np.array([float(first[p]) for p in first_column])])
        # Proposal side ("rest" arcs): Σ_r x[p, r] - f[p] ≤ need[p] - first[p].
        rows = [*pair_proposal, *(proposal_index[p] for p in first_column)]
        cols = [*range(n), *first_column.values()]
        values = [1.0] * n + [-1.0] * self.first_count
        upper = [float(_need(problem, p) - first[p]) for p in proposal_index]
        # Proposal side (flow conservation on the "first" arcs): f[p] - Σ_r x[p, r] ≤ 0.
        first_row = {p: len(proposal_index) + k for k, p in enumerate(first_column)}
        for j, (proposal, _reviewer) in enumerate(pairs):
            if proposal in first_row:
                rows.append(first_row[proposal])
                cols.append(j)
                values.append(-1.0)
        for p, column in first_column.items():
            rows.append(first_row[p])
            cols.append(column)
            values.append(1.0)
        upper.extend([0.0] * self.first_count)
        # Proposal side (suggested groups): Σ over the suggested reviewers ≤ the suggested limit.
        groups: dict[str, list[int]] = defaultdict(list)
        for j, (p, r) in enumerate(pairs):
            if r in problem.suggested.get(p, frozenset()):
                groups[p].append(j)
        for p, members in groups.items():
            limit = _suggested_limit(problem, p)
            if len(members) > limit:
                rows.extend([len(upper)] * len(members))
                cols.extend(members)
                values.extend([1.0] * len(members))
                upper.append(float(limit))
        self.proposal_rows = coo_array((values, (rows, cols)), shape=(len(upper), self.size)).tocsr()
        self.proposal_upper = np.array(upper)
        # Reviewer side: Σ_p x[p, r] ≤ capacity[r].
        self.reviewer_rows = coo_array(
            (np.ones(n), (self.pair_reviewer, np.arange(n))), shape=(len(self.reviewers), self.size)
        ).tocsr()
        self.reviewer_upper = np.array([float(_capacity(problem, r)) for r in self.reviewers])

    def solve(
        self, *, objective: np.ndarray, constraints: list[LinearConstraint], time_limit: float
    ) -> tuple[str, set[tuple[str, str]] | None]:
        """Minimise ``objective`` (x, f, then any further columns in [0, 1]); the status and the chosen pairs."""
        n = len(self.pairs)
        size = len(objective)
        upper = np.concatenate([self.upper, np.ones(size - self.size)])
        deadline = time.monotonic() + time_limit
        status, x = _milp(objective, np.zeros(size), upper, constraints, time_limit)
        if x is not None and np.any(np.minimum(x[:n], 1.0 - x[:n]) > 1e-6):  # pragma: no cover - see below
            # Defensive: the matrix is totally unimodular, so HiGHS's basic solutions are integral; never seen.
            integrality = np.concatenate([np.ones(n), np.zeros(size - n)])
            status, x = _milp(objective, integrality, upper, constraints, deadline - time.monotonic())
        if x is None:
            return status, None
        return status, {pair for pair, value in zip(self.pairs, x[:n], strict=True) if value > 0.5}

    def flow_constraints(self, *, extra_columns: int = 0, reviewers: bool = True) -> list[LinearConstraint]:
        constraints = [LinearConstraint(_widen(self.proposal_rows, extra_columns), -np.inf, self.proposal_upper)]
        if reviewers:
            constraints.append(
                LinearConstraint(_widen(self.reviewer_rows, extra_columns), -np.inf, self.reviewer_upper)
            )
        return constraints

    def slots_at_least(self, slots: int, *, extra_columns: int = 0) -> LinearConstraint:
        row = np.zeros(self.size + extra_columns)
        row[: len(self.pairs)] = 1.0
        return LinearConstraint(row[None, :], slots, np.inf)

    def first_at_least(self, first: int, *, extra_columns: int = 0) -> LinearConstraint:
        row = np.zeros(self.size + extra_columns)
        row[len(self.pairs) : self.size] = 1.0
        return LinearConstraint(row[None, :], first, np.inf)

    def keep(self, *, first: int, slots: int, extra_columns: int = 0) -> list[LinearConstraint]:
        """The rows that keep stage 1's numbers of first slots and of slots."""
        rows = [self.slots_at_least(slots, extra_columns=extra_columns)]
        if self.first_count:
            rows.append(self.first_at_least(first, extra_columns=extra_columns))
        return rows

    def objective(self, pairs: np.ndarray, first: float = 0.0, extra: np.ndarray | None = None) -> np.ndarray:
        """An objective vector: ``pairs`` on x, ``first`` on every f, then ``extra``."""
        return np.concatenate([pairs, np.full(self.first_count, first), np.zeros(0) if extra is None else extra])

    def load_units(self) -> tuple[LinearConstraint, np.ndarray]:
        """The load of each reviewer as unit columns whose costs are the increments of load² (2·load + 1).

        One continuous unit in [0, 1] per possible extra review of each reviewer (as many as its capacity), linked
        by Σ_p x[p, r] - Σ_k u[r, k] = 0, which also bounds the reviewer's load by its capacity. Since the costs
        increase, the cheapest units fill first and Σ cost·u is Σ load² less a constant.
        """
        n = len(self.pairs)
        pairs_per_reviewer = np.bincount(self.pair_reviewer, minlength=len(self.reviewers))
        unit_reviewer = []
        costs = []
        for index, reviewer in enumerate(self.reviewers):
            current = int(self.problem.load_already.get(reviewer, 0))
            for k in range(min(_capacity(self.problem, reviewer), int(pairs_per_reviewer[index]))):
                unit_reviewer.append(index)
                costs.append(2 * (current + k) + 1)
        m = len(costs)
        linking = coo_array(
            (
                np.concatenate([np.ones(n), -np.ones(m)]),
                (
                    np.concatenate([self.pair_reviewer, np.array(unit_reviewer, dtype=np.int64)]),
                    np.concatenate([np.arange(n), self.size + np.arange(m)]),
                ),
            ),
            shape=(len(self.reviewers), self.size + m),
        ).tocsr()
        return LinearConstraint(linking, 0, 0), np.array(costs, dtype=float)


def _milp(
    objective: np.ndarray,
    integrality: np.ndarray,
    upper: np.ndarray,
    constraints: list[LinearConstraint],
    time_limit: float,
) -> tuple[str, np.ndarray | None]:
    result = milp(
        c=objective,
        integrality=integrality,
        bounds=Bounds(np.zeros(len(objective)), upper),
        constraints=constraints,
        options={"time_limit": max(time_limit, 0.01), "presolve": True, "disp": False, "mip_rel_gap": 1e-9},
    )
    status = "optimal" if result.status == 0 else "time_limit"
    return status, result.x


def _widen(matrix, extra_columns: int):
    """``matrix`` with ``extra_columns`` zero columns on the right."""
    if extra_columns == 0:
        return matrix
    coo = matrix.tocoo()
    return coo_array((coo.data, (coo.row, coo.col)), shape=(matrix.shape[0], matrix.shape[1] + extra_columns)).tocsr()


def _grid(values: np.ndarray) -> float:
    """The coarsest step 10⁻ᵏ (k = 1..6) of which every value is a multiple; 10⁻⁶ when there is none."""
    for k in range(1, 7):
        scaled = values * 10**k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6):
            return 10.0**-k
    return 1e-6


def assign(problem: AssignmentProblem, *, time_limit: float = 30.0) -> AssignmentResult:
    """The optimal assignment: most first slots (every proposal up to its minimum), then most slots, then most
    affinity, then the most even load (see the module docstring).

    The promise against :func:`assign_greedy`, on every instance and whatever the time limit: the result is never
    lexicographically below greedy's on (first slots filled, pairs, total expertise affinity). That is, it fills at
    least as many first slots (minimum coverage); if exactly as many, at least as many pairs; if exactly as many of
    both, at least greedy's total affinity less the relative :data:`AFFINITY_TOLERANCE` (exactly at least, when the
    affinities lie on a decimal grid of at most six places). With status ``"optimal"`` the first two are also the
    most any valid assignment reaches, and the affinity the most at those numbers. The promise is kept by
    construction as well as by the model: the last step compares the answer with greedy's and returns greedy's
    pairs if they rank higher (a time limit cut the search short, or a rounding error in the solver).
    """
    _validate(problem)
    result = _solve(problem, time_limit)
    greedy = _fill(problem, ())
    if _rank_above(problem, greedy, result.pairs):
        return _result(problem, greedy, result.status)
    return result


def _rank_above(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]], other: Iterable[tuple[str, str]]) -> bool:
    """Whether ``pairs`` rank strictly above ``other`` on (first slots filled, pairs, affinity): more first slots, or
    as many and more pairs, or as many of both and an affinity above ``other``'s by more than the relative
    tolerance (relative to ``pairs``' affinity)."""
    pairs, other = frozenset(pairs), frozenset(other)
    key, other_key = (_first_filled(problem, pairs), len(pairs)), (_first_filled(problem, other), len(other))
    if key != other_key:
        return key > other_key
    total, other_total = _total(problem, pairs), _total(problem, other)
    return total - AFFINITY_TOLERANCE * max(1.0, total) > other_total


def _solve(problem: AssignmentProblem, time_limit: float) -> AssignmentResult:
    """The three stages of the module docstring."""
    deadline = time.monotonic() + time_limit
    pairs = _allowed_pairs(problem)
    if not pairs:
        return _result(problem, (), "optimal")
    model = _Model(problem, pairs)

    # Stage 1: the number of first slots, then of slots. Each slot is worth 1 plus its affinity / W, where W exceeds
    # any total affinity (at most one per slot), so no affinity outweighs a slot; the affinity only breaks the many
    # ties, which makes the simplex much faster than with a flat objective and usually gives stage 2 nothing left to
    # do. Each first slot is worth W on top: more than all the slots and their affinity together (less than W).
    weight = 1.0 + min(sum(_need(problem, p) for p in problem.proposals), sum(model.reviewer_upper))
    status, chosen = model.solve(
        objective=-model.objective(1.0 + model.affinity / weight, weight),
        constraints=model.flow_constraints(),
        time_limit=deadline - time.monotonic(),
    )
    if chosen is None:
        return _result(problem, _fill(problem, ()), "time_limit")
    if status != "optimal":
        return _result(problem, _fill(problem, chosen), status)
    first = _first_filled(problem, chosen)
    slots = len(chosen)

    def as_good(candidate: set[tuple[str, str]] | None) -> bool:
        return candidate is not None and _first_filled(problem, candidate) >= first and len(candidate) == slots

    # Stage 2: the affinity at those numbers of first slots and slots.
    if model.affinity.any():
        status, better = model.solve(
            objective=-model.objective(model.affinity),
            constraints=[*model.flow_constraints(), *model.keep(first=first, slots=slots)],
            time_limit=deadline - time.monotonic(),
        )
        if as_good(better) and _total(problem, better) >= _total(problem, chosen):
            chosen = better
        if status != "optimal":
            return _result(problem, _fill(problem, chosen), status)
    best = _total(problem, chosen)

    # Stage 3: the evenness of the load at that affinity. Minimise Σ load² - λ·affinity: an exchange that keeps the
    # slots moves at most one review from one reviewer to another (load² changes by at most 2·max load) and, with
    # affinities on a grid g, changes the affinity by a multiple of g, so λ = (2·max load + 1) / g never trades
    # affinity for evenness. The answer is checked against stage 2's and kept only if it is as good.
    link, unit_cost = model.load_units()
    m = len(unit_cost)
    most = max(int(problem.load_already.get(r, 0)) + _capacity(problem, r) for r in model.reviewers)
    weight = (2 * most + 1) / _grid(model.affinity)
    status, even = model.solve(
        objective=model.objective(-weight * model.affinity, extra=unit_cost),
        constraints=[
            *model.flow_constraints(extra_columns=m, reviewers=False),
            link,
            *model.keep(first=first, slots=slots, extra_columns=m),
        ],
        time_limit=deadline - time.monotonic(),
    )
    slack = AFFINITY_TOLERANCE * max(1.0, best)
    if as_good(even) and _total(problem, even) >= best - slack and _spread(problem, even) <= _spread(problem, chosen):
        chosen = even
    return _result(problem, chosen, status)


def _total(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]]) -> float:
    return math.fsum(_affinity(problem, p, r) for p, r in pairs)


def _spread(problem: AssignmentProblem, pairs: Iterable[tuple[str, str]]) -> int:
    """Σ load² over the reviewers, current assignments included: smaller is more even."""
    load = {r: int(problem.load_already.get(r, 0)) for r in problem.reviewers}
    for _p, r in pairs:
        load[r] += 1
    return sum(value * value for value in load.values())


# ---------------------------------------------------------------------------------------------------------------
# The independent check
# ---------------------------------------------------------------------------------------------------------------


def check_assignment(problem: AssignmentProblem, result: AssignmentResult) -> list[str]:
    """Every rule ``result`` breaks, in English; an empty list when it is valid.

    Written from the rules alone, not from the solver: known ids, no conflict, no proposal over its need, no
    reviewer over capacity, at most one suggested reviewer per proposal (counting those already assigned), the
    ``unassigned`` counts and ``objective`` consistent with the pairs, and no proposal left short while a reviewer it
    may have (no conflict, suggested limit respected) still has capacity: said as "below its minimum" when that
    reviewer could have taken one of the proposal's first slots.
    """
    violations = []
    per_proposal: dict[str, list[str]] = defaultdict(list)
    per_reviewer: dict[str, int] = defaultdict(int)
    for proposal, reviewer in sorted(result.pairs):
        if proposal not in problem.proposals:
            violations.append(f"unknown proposal {proposal} (reviewer {reviewer})")
            continue
        if reviewer not in problem.reviewers:
            violations.append(f"unknown or unavailable reviewer {reviewer} (proposal {proposal})")
            continue
        if (proposal, reviewer) in problem.conflicts:
            violations.append(f"conflict: reviewer {reviewer} assigned to proposal {proposal}")
        per_proposal[proposal].append(reviewer)
        per_reviewer[reviewer] += 1
    for reviewer, load in sorted(per_reviewer.items()):
        capacity = max(0, problem.reviewers[reviewer])
        if load > capacity:
            violations.append(f"reviewer {reviewer} over capacity: {load} new reviews, capacity {capacity}")
    for proposal, reviewers in sorted(per_proposal.items()):
        need = max(0, problem.proposals[proposal])
        if len(reviewers) > need:
            violations.append(f"proposal {proposal} over-assigned: {len(reviewers)} new reviewers, needs {need}")
        suggested = problem.suggested.get(proposal, frozenset())
        total_suggested = problem.suggested_already.get(proposal, 0) + sum(1 for r in reviewers if r in suggested)
        if sum(1 for r in reviewers if r in suggested) and total_suggested > 1:
            violations.append(
                f"proposal {proposal} has {total_suggested} reviewers from the applicant's suggested list"
            )
    for proposal in problem.proposals:
        missing = max(0, problem.proposals[proposal]) - len(per_proposal.get(proposal, ()))
        reported = result.unassigned.get(proposal, (0, ""))[0]
        if max(0, missing) != reported:
            violations.append(f"proposal {proposal}: {max(0, missing)} reviewers missing, {reported} reported")
        if missing > 0:
            suggested = problem.suggested.get(proposal, frozenset())
            suggested_used = problem.suggested_already.get(proposal, 0) + sum(
                1 for r in per_proposal.get(proposal, ()) if r in suggested
            )
            for reviewer, capacity in problem.reviewers.items():
                if (
                    (proposal, reviewer) not in problem.conflicts
                    and reviewer not in per_proposal.get(proposal, ())
                    and per_reviewer.get(reviewer, 0) < capacity
                    and not (reviewer in suggested and suggested_used >= 1)
                ):
                    given = len(per_proposal.get(proposal, ()))
                    minimum = min(max(0, problem.proposals[proposal]), max(0, problem.min_reviewers.get(proposal, 0)))
                    if given < minimum:
                        violations.append(
                            f"proposal {proposal} is below its minimum ({given} of {minimum} first slots filled) "
                            f"although reviewer {reviewer} could still take it"
                        )
                    else:
                        violations.append(
                            f"proposal {proposal} is short of reviewers although reviewer {reviewer} could still take it"
                        )
                    break
    for proposal in result.unassigned:
        if proposal not in problem.proposals:
            violations.append(f"unknown proposal {proposal} reported as unassigned")
    objective = math.fsum(float(problem.affinity.get(pair, 0.0)) for pair in result.pairs)
    if not math.isclose(objective, result.objective, rel_tol=1e-9, abs_tol=1e-9):
        violations.append(f"objective {result.objective} is not the pairs' total affinity {objective}")
    return violations
