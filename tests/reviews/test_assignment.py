"""The reviewer-assignment solver (``portal/reviews/assignment.py``): hand-worked cases and random properties."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from portal.reviews.assignment import (
    AFFINITY_TOLERANCE,
    AssignmentProblem,
    AssignmentResult,
    assign,
    assign_greedy,
    check_assignment,
)

pytestmark = pytest.mark.unit


def problem_of(**fields) -> AssignmentProblem:
    fields.setdefault("conflicts", frozenset())
    fields.setdefault("suggested", {})
    fields.setdefault("affinity", {})
    return AssignmentProblem(**fields)


def loads(result: AssignmentResult) -> dict[str, int]:
    return dict(Counter(reviewer for _proposal, reviewer in result.pairs))


# ---------------------------------------------------------------------------------------------------------------
# Hand-worked cases
# ---------------------------------------------------------------------------------------------------------------


def test_assign_fills_every_slot_where_greedy_leaves_a_gap():
    # P1 likes R1 best, but R1 is the only reviewer P2 may have: greedy gives R1 to P1 and leaves P2 short.
    problem = problem_of(
        proposals={"P1": 1, "P2": 1},
        reviewers={"R1": 1, "R2": 1},
        conflicts=frozenset({("P2", "R2")}),
        affinity={("P1", "R1"): 0.9, ("P1", "R2"): 0.8, ("P2", "R1"): 0.5},
    )

    optimal = assign(problem)
    greedy = assign_greedy(problem)

    assert optimal == AssignmentResult(
        pairs=frozenset({("P1", "R2"), ("P2", "R1")}), unassigned={}, objective=1.3, status="optimal"
    )
    assert greedy == AssignmentResult(
        pairs=frozenset({("P1", "R1")}),
        unassigned={"P2": (1, "reviewers' capacity exhausted")},
        objective=0.9,
        status="greedy",
    )
    assert check_assignment(problem, optimal) == []
    assert check_assignment(problem, greedy) == []


def test_assign_maximises_total_affinity_where_greedy_takes_the_first_best():
    problem = problem_of(
        proposals={"P1": 1, "P2": 1},
        reviewers={"R1": 1, "R2": 1},
        affinity={("P1", "R1"): 0.6, ("P1", "R2"): 0.5, ("P2", "R1"): 1.0, ("P2", "R2"): 0.1},
    )

    optimal = assign(problem)
    greedy = assign_greedy(problem)

    assert optimal.pairs == frozenset({("P1", "R2"), ("P2", "R1")})
    assert optimal.objective == 1.5
    assert greedy.pairs == frozenset({("P1", "R1"), ("P2", "R2")})
    assert greedy.objective == 0.7


def test_assign_prefers_one_more_slot_to_any_affinity():
    # Three slots at affinity 0 beat two slots at affinity 1 + 1.
    problem = problem_of(
        proposals={"P1": 2, "P2": 1},
        reviewers={"R1": 1, "R2": 1, "R3": 1},
        conflicts=frozenset({("P2", "R1"), ("P2", "R2")}),
        affinity={("P1", "R3"): 1.0, ("P2", "R3"): 0.0, ("P1", "R1"): 0.0, ("P1", "R2"): 0.0},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R1"), ("P1", "R2"), ("P2", "R3")})
    assert result.objective == 0.0
    assert result.unassigned == {}


def test_assign_takes_at_most_one_suggested_reviewer():
    problem = problem_of(
        proposals={"P1": 2},
        reviewers={"R1": 1, "R2": 1, "R3": 1},
        suggested={"P1": frozenset({"R1", "R2"})},
        affinity={("P1", "R1"): 0.9, ("P1", "R2"): 0.8, ("P1", "R3"): 0.2},
    )

    assert assign(problem).pairs == frozenset({("P1", "R1"), ("P1", "R3")})
    assert assign_greedy(problem).pairs == frozenset({("P1", "R1"), ("P1", "R3")})


def test_assign_counts_suggested_reviewers_already_assigned():
    problem = problem_of(
        proposals={"P1": 2},
        reviewers={"R1": 1, "R2": 1, "R3": 1},
        suggested={"P1": frozenset({"R1", "R2"})},
        suggested_already={"P1": 1},
        affinity={("P1", "R1"): 0.9, ("P1", "R2"): 0.8, ("P1", "R3"): 0.2},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R3")})
    assert result.unassigned == {
        "P1": (
            1,
            "suggested-reviewer limit: 2 of the 3 reviewers without a conflict are on the applicant's suggested "
            "list and no more of them may be assigned",
        )
    }
    assert check_assignment(problem, result) == []


def test_assign_reports_the_suggested_limit_when_only_suggested_reviewers_remain():
    problem = problem_of(
        proposals={"P1": 3},
        reviewers={"R1": 2, "R2": 2, "R3": 2},
        suggested={"P1": frozenset({"R2", "R3"})},
    )

    result = assign(problem)

    assert len(result.pairs) == 2
    assert ("P1", "R1") in result.pairs
    assert result.unassigned == {
        "P1": (
            1,
            "suggested-reviewer limit: 2 of the 3 reviewers without a conflict are on the applicant's suggested "
            "list and only one of them may be assigned",
        )
    }


def test_assign_reports_too_few_reviewers_without_a_conflict():
    problem = problem_of(
        proposals={"P1": 3},
        reviewers={"R1": 5, "R2": 5, "R3": 5, "R4": 5},
        conflicts=frozenset({("P1", "R1"), ("P1", "R2")}),
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R3"), ("P1", "R4")})
    assert result.unassigned == {"P1": (1, "only 2 available reviewers without a conflict")}


def test_assign_reports_conflicts_and_exhausted_capacity_together():
    problem = problem_of(
        proposals={"P1": 3, "P2": 1},
        reviewers={"R1": 1, "R2": 1},
        conflicts=frozenset({("P1", "R2"), ("P2", "R1")}),
        affinity={("P1", "R1"): 0.5, ("P2", "R2"): 0.5},
    )
    # R1 (P1's only reviewer without a conflict) is taken by nobody else, so P1 gets it; make R1 full instead.
    full = problem_of(**{**problem.__dict__, "reviewers": {"R1": 0, "R2": 1}})

    assert assign(problem).unassigned == {"P1": (2, "only 1 available reviewer without a conflict")}
    assert assign(full).unassigned == {
        "P1": (3, "only 1 available reviewer without a conflict; reviewers' capacity exhausted")
    }


def test_assign_reports_capacity_exhausted_and_serves_the_better_match():
    problem = problem_of(
        proposals={"P1": 2, "P2": 2},
        reviewers={"R1": 1, "R2": 1},
        affinity={("P1", "R1"): 1.0, ("P1", "R2"): 1.0},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R1"), ("P1", "R2")})
    assert result.unassigned == {"P2": (2, "reviewers' capacity exhausted")}
    assert result.objective == 2.0


def test_assign_gives_ties_to_the_reviewer_with_the_lightest_current_load():
    problem = problem_of(
        proposals={"P1": 1, "P2": 1},
        reviewers={"R1": 5, "R2": 5, "R3": 5},
        load_already={"R1": 2, "R2": 0, "R3": 2},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R2"), ("P2", "R2")})
    assert result.status == "optimal"


def test_assign_spreads_equal_matches_evenly():
    problem = problem_of(proposals={f"P{i}": 1 for i in range(6)}, reviewers={"R1": 6, "R2": 6, "R3": 6})

    assert loads(assign(problem)) == {"R1": 2, "R2": 2, "R3": 2}


def test_assign_never_trades_affinity_for_evenness():
    # Even load would give P2 to R2 (affinity 0.2 instead of 0.25); affinity comes first.
    problem = problem_of(
        proposals={"P1": 1, "P2": 1},
        reviewers={"R1": 2, "R2": 2},
        affinity={("P1", "R1"): 0.3, ("P2", "R1"): 0.25, ("P2", "R2"): 0.2},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R1"), ("P2", "R1")})
    assert result.objective == 0.55


def test_assign_without_anything_to_assign_is_empty_and_optimal():
    problem = problem_of(proposals={"P1": 0, "P2": -1}, reviewers={"R1": 3})

    assert assign(problem) == AssignmentResult(pairs=frozenset(), unassigned={}, objective=0.0, status="optimal")
    assert assign_greedy(problem).pairs == frozenset()


def test_assign_ignores_reviewers_who_are_not_available():
    problem = problem_of(
        proposals={"P1": 2},
        reviewers={"R1": 1, "R2": 0},
        suggested={"P1": frozenset({"R9"})},
        affinity={("P1", "R9"): 1.0, ("P1", "R1"): 0.5},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R1")})
    assert result.unassigned == {"P1": (1, "reviewers' capacity exhausted")}


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan])
def test_assign_rejects_affinity_outside_zero_to_one(value):
    problem = problem_of(proposals={"P1": 1}, reviewers={"R1": 1}, affinity={("P1", "R1"): value})

    with pytest.raises(ValueError, match="must be a number in"):
        assign(problem)


def test_assign_out_of_time_falls_back_to_a_valid_greedy_assignment():
    problem = random_problem(seed=7, proposals=300, reviewers=60)

    result = assign(problem, time_limit=0.0)

    assert result.status == "time_limit"
    assert result.pairs == assign_greedy(problem).pairs
    assert check_assignment(problem, result) == []


def test_assign_brings_every_proposal_to_its_minimum_before_filling_any():
    # 6 places for 9 slots. P1 and P2 match every reviewer perfectly, P3 weakly: by slots then affinity, P1 and P2
    # would take all 6 places and P3 would get nobody; with a minimum of 2 every proposal gets 2.
    fields = {
        "proposals": {"P1": 3, "P2": 3, "P3": 3},
        "reviewers": {"R1": 2, "R2": 2, "R3": 2},
        "affinity": {(p, r): 1.0 if p != "P3" else 0.2 for p in ("P1", "P2", "P3") for r in ("R1", "R2", "R3")},
    }
    without = problem_of(**fields)
    problem = problem_of(**fields, min_reviewers={"P1": 2, "P2": 2, "P3": 2})

    old = assign(without)
    result = assign(problem)
    greedy = assign_greedy(problem)

    assert Counter(p for p, _r in old.pairs) == {"P1": 3, "P2": 3}
    assert old.unassigned == {"P3": (3, "reviewers' capacity exhausted")}
    assert Counter(p for p, _r in result.pairs) == {"P1": 2, "P2": 2, "P3": 2}
    assert result.objective == pytest.approx(4.4)
    assert loads(result) == {"R1": 2, "R2": 2, "R3": 2}
    assert result.unassigned == dict.fromkeys(("P1", "P2", "P3"), (1, "reviewers' capacity exhausted"))
    assert Counter(p for p, _r in greedy.pairs) == {"P1": 2, "P2": 2, "P3": 2}
    assert check_assignment(problem, result) == []
    assert check_assignment(problem, greedy) == []


def test_assign_counts_first_slots_and_reports_a_proposal_below_its_minimum():
    # 3 places for 4 first slots: one proposal reaches its minimum of 2, the other gets 1 (never 0).
    problem = problem_of(
        proposals={"P1": 3, "P2": 3},
        reviewers={"R1": 2, "R2": 1, "R3": 0},
        affinity={("P1", "R1"): 1.0, ("P1", "R2"): 1.0},
        min_reviewers={"P1": 2, "P2": 2},
    )

    result = assign(problem)

    assert result.pairs == frozenset({("P1", "R1"), ("P1", "R2"), ("P2", "R1")})
    assert result.unassigned == {
        "P1": (1, "reviewers' capacity exhausted"),
        "P2": (2, "1 short of the minimum number of reviewers; reviewers' capacity exhausted"),
    }


def test_assign_maximises_first_slots_not_proposals_at_their_minimum():
    # Two first slots either way; the affinity then prefers one reviewer each to both on P1 (what greedy does), so
    # no proposal reaches its minimum. Most proposals at the minimum is not a network flow (see the module docstring).
    problem = problem_of(
        proposals={"P1": 2, "P2": 2},
        reviewers={"R1": 1, "R2": 1},
        affinity={("P1", "R1"): 1.0, ("P2", "R2"): 1.0},
        min_reviewers={"P1": 2, "P2": 2},
    )

    assert assign(problem).pairs == frozenset({("P1", "R1"), ("P2", "R2")})
    assert assign_greedy(problem).pairs == frozenset({("P1", "R1"), ("P1", "R2")})


def test_assign_caps_the_minimum_at_the_need_and_ignores_a_negative_one():
    problem = problem_of(
        proposals={"P1": 1, "P2": 2},
        reviewers={"R1": 1, "R2": 1},
        affinity={("P2", "R1"): 1.0, ("P2", "R2"): 1.0},
        min_reviewers={"P1": 5, "P2": -1},
    )

    result = assign(problem)

    assert Counter(p for p, _r in result.pairs) == {"P1": 1, "P2": 1}
    assert result.unassigned == {"P2": (1, "reviewers' capacity exhausted")}


def test_check_assignment_lists_every_broken_rule():
    problem = problem_of(
        proposals={"P1": 1, "P2": 2},
        reviewers={"R1": 1, "R2": 1, "R3": 1},
        conflicts=frozenset({("P1", "R2")}),
        suggested={"P2": frozenset({"R1", "R3"})},
        affinity={("P2", "R1"): 0.5},
    )
    result = AssignmentResult(
        pairs=frozenset({("P1", "R1"), ("P1", "R2"), ("P2", "R1"), ("P2", "R3"), ("P3", "R1"), ("P2", "R9")}),
        unassigned={"P4": (1, "")},
        objective=0.0,
        status="optimal",
    )

    assert check_assignment(problem, result) == [
        "conflict: reviewer R2 assigned to proposal P1",
        "unknown or unavailable reviewer R9 (proposal P2)",
        "unknown proposal P3 (reviewer R1)",
        "reviewer R1 over capacity: 2 new reviews, capacity 1",
        "proposal P1 over-assigned: 2 new reviewers, needs 1",
        "proposal P2 has 2 reviewers from the applicant's suggested list",
        "unknown proposal P4 reported as unassigned",
        "objective 0.0 is not the pairs' total affinity 0.5",
    ]


def test_check_assignment_flags_a_short_proposal_a_free_reviewer_could_take():
    problem = problem_of(proposals={"P1": 2}, reviewers={"R1": 1, "R2": 1})
    result = AssignmentResult(
        pairs=frozenset({("P1", "R1")}), unassigned={"P1": (2, "")}, objective=0.0, status="optimal"
    )

    assert check_assignment(problem, result) == [
        "proposal P1: 1 reviewers missing, 2 reported",
        "proposal P1 is short of reviewers although reviewer R2 could still take it",
    ]


def test_check_assignment_flags_a_proposal_below_its_minimum_a_free_reviewer_could_take():
    problem = problem_of(proposals={"P1": 3}, reviewers={"R1": 1, "R2": 1}, min_reviewers={"P1": 2})
    result = AssignmentResult(
        pairs=frozenset({("P1", "R1")}), unassigned={"P1": (2, "")}, objective=0.0, status="optimal"
    )

    assert check_assignment(problem, result) == [
        "proposal P1 is below its minimum (1 of 2 first slots filled) although reviewer R2 could still take it"
    ]


# ---------------------------------------------------------------------------------------------------------------
# Properties on random instances
# ---------------------------------------------------------------------------------------------------------------

AFFINITIES = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0.0, 1.0))


@st.composite
def problems(draw, max_proposals: int = 7, max_reviewers: int = 7, places: int | None = None) -> AssignmentProblem:
    """A random problem; with ``places``, every affinity rounded to that many decimal places."""
    proposals = [f"P{i}" for i in range(draw(st.integers(1, max_proposals)))]
    reviewers = [f"R{i}" for i in range(draw(st.integers(1, max_reviewers)))]
    pairs = [(p, r) for p in proposals for r in reviewers]
    conflicts = draw(st.sets(st.sampled_from(pairs), max_size=len(pairs) // 2))
    suggested = {p: frozenset(draw(st.sets(st.sampled_from(reviewers), max_size=3))) for p in proposals}
    return AssignmentProblem(
        proposals={p: draw(st.integers(0, 3)) for p in proposals},
        reviewers={r: draw(st.integers(0, 4)) for r in reviewers},
        conflicts=frozenset(conflicts),
        suggested=suggested,
        affinity={
            pair: draw(AFFINITIES if places is None else AFFINITIES.map(lambda v: round(v, places)))
            for pair in draw(st.sets(st.sampled_from(pairs)))
        },
        suggested_already={p: draw(st.integers(0, 1)) for p in proposals if suggested[p]},
        load_already={r: draw(st.integers(0, 5)) for r in reviewers},
        min_reviewers={p: draw(st.integers(0, 3)) for p in draw(st.sets(st.sampled_from(proposals)))},
    )


def first_slots(problem: AssignmentProblem) -> dict[str, int]:
    """Each proposal's first slots: its minimum, capped by its need."""
    return {p: min(max(0, need), max(0, problem.min_reviewers.get(p, 0))) for p, need in problem.proposals.items()}


def first_filled(problem: AssignmentProblem, pairs) -> int:
    count = Counter(p for p, _r in pairs)
    return sum(min(first, count[p]) for p, first in first_slots(problem).items())


def at_minimum(problem: AssignmentProblem, pairs) -> int:
    """How many proposals have at least their first slots filled."""
    count = Counter(p for p, _r in pairs)
    return sum(1 for p, first in first_slots(problem).items() if count[p] >= first)


def max_first_slots(problem: AssignmentProblem) -> int:
    """The most first slots any valid assignment fills: the maximum flow on the first slots only."""
    return max_slots(AssignmentProblem(**{**problem.__dict__, "proposals": first_slots(problem)}))


def max_slots(problem: AssignmentProblem) -> int:
    """The most slots any valid assignment fills: a maximum flow, source → proposal → (suggested group) → reviewer
    → sink, computed by scipy's max-flow (not by the solver under test)."""
    proposals = list(problem.proposals)
    reviewers = list(problem.reviewers)
    source, sink = 0, 1
    proposal_node = {p: 2 + i for i, p in enumerate(proposals)}
    group_node = {p: 2 + len(proposals) + i for i, p in enumerate(proposals)}
    reviewer_node = {r: 2 + 2 * len(proposals) + i for i, r in enumerate(reviewers)}
    size = 2 + 2 * len(proposals) + len(reviewers)
    capacity = np.zeros((size, size), dtype=np.int32)
    for p in proposals:
        capacity[source, proposal_node[p]] = max(0, problem.proposals[p])
        capacity[proposal_node[p], group_node[p]] = max(0, 1 - problem.suggested_already.get(p, 0))
        for r in reviewers:
            if (p, r) not in problem.conflicts:
                via = group_node[p] if r in problem.suggested.get(p, ()) else proposal_node[p]
                capacity[via, reviewer_node[r]] = 1
    for r in reviewers:
        capacity[reviewer_node[r], sink] = max(0, problem.reviewers[r])
    return int(maximum_flow(csr_array(capacity), source, sink).flow_value)


def spread(problem: AssignmentProblem, pairs) -> int:
    load = Counter({r: problem.load_already.get(r, 0) for r in problem.reviewers})
    load.update(r for _p, r in pairs)
    return sum(value * value for value in load.values())


def brute_force(problem: AssignmentProblem) -> tuple[int, int, float, int]:
    """(most first slots, then most slots, then most affinity, then least Σ load²) over every valid set of pairs, by
    enumeration."""
    options = []
    for p, need in problem.proposals.items():
        allowed = [r for r in problem.reviewers if (p, r) not in problem.conflicts]
        subsets = []
        for k in range(max(0, need) + 1):
            for chosen in itertools.combinations(allowed, k):
                suggested = sum(1 for r in chosen if r in problem.suggested.get(p, ()))
                if not suggested or suggested + problem.suggested_already.get(p, 0) <= 1:
                    subsets.append([(p, r) for r in chosen])
        options.append(subsets)
    best = (0, 0, 0.0, 0)
    best_key = None
    for combination in itertools.product(*options):
        pairs = [pair for subset in combination for pair in subset]
        load = Counter(r for _p, r in pairs)
        if any(load[r] > problem.reviewers[r] for r in load):
            continue
        affinity = math.fsum(problem.affinity.get(pair, 0.0) for pair in pairs)
        first = first_filled(problem, pairs)
        key = (first, len(pairs), round(affinity, 9), -spread(problem, pairs))
        if best_key is None or key > best_key:
            best_key = key
            best = (first, len(pairs), affinity, spread(problem, pairs))
    return best


def rank(problem: AssignmentProblem, result: AssignmentResult) -> tuple[int, int, float]:
    """What the solver promises to maximise, in order: first slots filled (minimum coverage), pairs, expertise."""
    return first_filled(problem, result.pairs), len(result.pairs), result.objective


def at_least_as_good(problem: AssignmentProblem, result: AssignmentResult, other: AssignmentResult) -> bool:
    """``result`` lexicographically at least as good as ``other``: more first slots, or as many and more pairs, or
    as many of both and at least the expertise (less the relative AFFINITY_TOLERANCE)."""
    (first, pairs, expertise), (other_first, other_pairs, other_expertise) = rank(problem, result), rank(problem, other)
    if (first, pairs) != (other_first, other_pairs):
        return (first, pairs) > (other_first, other_pairs)
    return expertise >= other_expertise - AFFINITY_TOLERANCE * max(1.0, other_expertise)


# Found by hypothesis: greedy gives P5 both its reviewers (expertise 0.25) and leaves P6 below its minimum; the
# solver fills P6's first slot instead (4 first slots against 3, the same 4 pairs, expertise 0). Coverage comes
# before expertise, so this is the promise kept, not broken.
GREEDY_MORE_EXPERTISE_LESS_COVERAGE = AssignmentProblem(
    proposals={"P0": 0, "P1": 0, "P2": 0, "P3": 0, "P4": 2, "P5": 2, "P6": 1},
    reviewers={"R0": 2, "R1": 0, "R2": 1, "R3": 1},
    conflicts=frozenset({("P0", "R0"), ("P0", "R1"), ("P0", "R2"), ("P6", "R0")}),
    suggested={"P0": frozenset(), "P1": frozenset(), "P2": frozenset()}
    | {p: frozenset({"R0"}) for p in ("P3", "P4", "P5", "P6")},
    affinity={("P0", "R0"): 0.0, ("P0", "R1"): 0.0, ("P0", "R2"): 0.0, ("P5", "R2"): 0.25},
    suggested_already={"P3": 0, "P4": 0, "P5": 0, "P6": 0},
    load_already={"R0": 0, "R1": 0, "R2": 1, "R3": 0},
    min_reviewers={"P0": 0, "P1": 0, "P2": 0, "P3": 0, "P4": 2, "P5": 1, "P6": 1},
)


def test_the_found_instance_trades_expertise_for_coverage_as_promised():
    problem = GREEDY_MORE_EXPERTISE_LESS_COVERAGE

    optimal = assign(problem)
    greedy = assign_greedy(problem)

    assert rank(problem, optimal) == (4, 4, 0.0)
    assert rank(problem, greedy) == (3, 4, 0.25)
    assert at_least_as_good(problem, optimal, greedy)
    assert not at_least_as_good(problem, greedy, optimal)


@given(problems())
@example(GREEDY_MORE_EXPERTISE_LESS_COVERAGE)
def test_assign_valid_and_at_least_as_good_as_greedy_on_random_instances(problem):
    optimal = assign(problem)
    greedy = assign_greedy(problem)
    slots = max_slots(problem)

    assert check_assignment(problem, optimal) == []
    assert check_assignment(problem, greedy) == []
    assert optimal.status == "optimal"
    assert len(optimal.pairs) == slots
    if slots == sum(max(0, need) for need in problem.proposals.values()):
        assert optimal.unassigned == {}
    # The promise of assign's docstring: never lexicographically below greedy on (first slots, pairs, expertise).
    assert at_least_as_good(problem, optimal, greedy)


@given(problems())
def test_assign_fills_the_most_first_slots_on_random_instances(problem):
    optimal = assign(problem)
    greedy = assign_greedy(problem)
    first = max_first_slots(problem)

    assert first_filled(problem, optimal.pairs) == first
    assert first_filled(problem, optimal.pairs) >= first_filled(problem, greedy.pairs)
    # Every proposal reaches its minimum whenever the first slots alone can all be filled.
    if first == sum(first_slots(problem).values()):
        assert at_minimum(problem, optimal.pairs) == len(problem.proposals)
        assert not any("short of the minimum" in reason for _missing, reason in optimal.unassigned.values())
    # Filling first slots first costs no slot: a max flow on the first slots extends to a max flow on all of them.
    assert len(optimal.pairs) == max_slots(problem)


@given(problems(max_proposals=3, max_reviewers=4, places=6))
def test_assign_matches_exhaustive_search_on_small_instances(problem):
    # Exact on a decimal grid of up to six places (the module docstring); below that, within AFFINITY_TOLERANCE.
    first, slots, affinity, least_spread = brute_force(problem)

    result = assign(problem)

    assert first_filled(problem, result.pairs) == first
    assert len(result.pairs) == slots
    assert result.objective == pytest.approx(affinity, rel=1e-6, abs=1e-9)
    assert spread(problem, result.pairs) == least_spread


def random_problem(*, seed: int, proposals: int, reviewers: int) -> AssignmentProblem:
    rng = np.random.default_rng(seed)
    pids = [f"P{i}" for i in range(proposals)]
    rids = [f"R{i}" for i in range(reviewers)]
    return AssignmentProblem(
        proposals=dict.fromkeys(pids, 3),
        reviewers={r: int(rng.integers(8, 15)) for r in rids},
        conflicts=frozenset((p, r) for p in pids for r in rids if rng.random() < 0.2),
        suggested={p: frozenset(rng.choice(rids, size=2, replace=False).tolist()) for p in pids},
        affinity={(p, r): round(float(rng.random()), 2) for p in pids for r in rids if rng.random() < 0.5},
    )


def test_assign_beats_greedy_on_a_call_sized_instance():
    problem = random_problem(seed=3, proposals=60, reviewers=20)

    optimal = assign(problem)
    greedy = assign_greedy(problem)

    assert check_assignment(problem, optimal) == []
    assert optimal.status == "optimal"
    assert len(optimal.pairs) == max_slots(problem) == 180
    assert optimal.objective > greedy.objective
