"""The allocation optimiser (``docs/allocation.md``): parsing, the three policies, the feasibility check."""

import copy
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.allocations.optimiser import ProblemError, allocate, check_feasible, parse_problem
from portal.allocations.optimiser.ledger import Ledger, rank_order

pytestmark = pytest.mark.unit


def small_problem(**overrides: Any) -> dict[str, Any]:
    """2 pools x 2 quarters, 100 hours each; 4 projects; subsidy 50%; budget and org cap not binding.

    cost = hours x price x 0.5: P1 120 h800 -> 1500, P2 40 h800 + 60 h100 -> 500 + 300 = 800,
    P3 160 h100 -> 800, P4 50 h800 -> 625.
    """
    problem = {
        "pools": {
            "h800": {"price": "25.00", "capacity": {"2026Q1": 100, "2026Q2": 100}},
            "h100": {"price": "10.00", "capacity": {"2026Q1": 100, "2026Q2": 100}},
        },
        "subsidy_rate": "0.50",
        "budget": "100000.00",
        "org_cap": 1.0,
        "tiers": [4.0, 3.0],
        "projects": [
            {
                "id": "P1",
                "org": "org-a",
                "score": 4.5,
                "min_share": 0.5,
                "request": {"h800": {"2026Q1": 80, "2026Q2": 40}},
            },
            {
                "id": "P2",
                "org": "org-b",
                "score": 4.0,
                "min_share": 0.5,
                "request": {"h800": {"2026Q1": 40}, "h100": {"2026Q1": 60}},
            },
            {
                "id": "P3",
                "org": "org-c",
                "score": 3.5,
                "min_share": 0.25,
                "request": {"h100": {"2026Q1": 80, "2026Q2": 80}},
            },
            {"id": "P4", "org": "org-d", "score": 3.0, "min_share": 1.0, "request": {"h800": {"2026Q2": 50}}},
        ],
    }
    problem.update(overrides)
    return problem


def knapsack_problem() -> dict[str, Any]:
    """Rank funds P1 in full, which leaves 40 h800 2026Q1 hours: too few for P2 or P3 (min_share 1).

    Optimal funds P2 and P3 instead (h800 2026Q1: 50 + 50 = 100) and gives P4 what h100 has left:
    2026Q1 100 - 50 = 50 and 2026Q2 100 - 50 = 50, so 50 / 80 = 0.625 >= 0.5; both quarters are tight and the
    first, 2026Q1, is named. Objective 4.0 + 3.8 + 3.0 x 0.625 = 9.675 against rank's 4.5 + 3.0 = 7.5.
    """
    return small_problem(
        projects=[
            {
                "id": "P1",
                "org": "org-a",
                "score": 4.5,
                "min_share": 1,
                "request": {"h800": {"2026Q1": 60, "2026Q2": 60}},
            },
            {
                "id": "P2",
                "org": "org-b",
                "score": 4.0,
                "min_share": 1,
                "request": {"h800": {"2026Q1": 50}, "h100": {"2026Q1": 50}},
            },
            {
                "id": "P3",
                "org": "org-c",
                "score": 3.8,
                "min_share": 1,
                "request": {"h800": {"2026Q1": 50}, "h100": {"2026Q2": 50}},
            },
            {
                "id": "P4",
                "org": "org-d",
                "score": 3.0,
                "min_share": 0.5,
                "request": {"h100": {"2026Q1": 80, "2026Q2": 80}},
            },
        ]
    )


def shares(result: dict[str, Any]) -> dict[str, float]:
    return {project_id: award["share"] for project_id, award in result["awards"].items()}


def reasons(result: dict[str, Any]) -> dict[str, str]:
    return {project_id: award["reason"] for project_id, award in result["awards"].items()}


# --- rank ------------------------------------------------------------------------------------------------------


def test_rank_small_problem_fills_in_score_order():
    # P1 fits in full: h800 2026Q1 100 - 80 = 20 left, 2026Q2 100 - 40 = 60 left.
    # P2: h800 2026Q1 20 / 40 = 0.5 (h100 2026Q1 100 / 60 > 1): share 0.5, uses 20 h800 and 30 h100 in 2026Q1.
    # P3: h100 2026Q1 (100 - 30) / 80 = 0.875 (2026Q2 100 / 80 > 1): share 0.875, 70 + 70 hours.
    # P4: h800 2026Q2 60 / 50 > 1: full. Objective 4.5 + 4.0 x 0.5 + 3.5 x 0.875 + 3.0 = 12.5625.
    # Subsidies: 1500, 800 x 0.5 = 400, 800 x 0.875 = 700, 625; total 3225.
    result = allocate(small_problem(), "rank")

    assert result == {
        "policy": "rank",
        "status": "ok",
        "objective": 12.5625,
        "gap": None,
        "awards": {
            "P1": {
                "share": 1.0,
                "hours": {"h800": {"2026Q1": 80, "2026Q2": 40}},
                "subsidy": "1500.00",
                "reason": "full",
            },
            "P2": {
                "share": 0.5,
                "hours": {"h800": {"2026Q1": 20}, "h100": {"2026Q1": 30}},
                "subsidy": "400.00",
                "reason": "capacity h800 2026Q1",
            },
            "P3": {
                "share": 0.875,
                "hours": {"h100": {"2026Q1": 70, "2026Q2": 70}},
                "subsidy": "700.00",
                "reason": "capacity h100 2026Q1",
            },
            "P4": {"share": 1.0, "hours": {"h800": {"2026Q2": 50}}, "subsidy": "625.00", "reason": "full"},
        },
        "totals": {
            "hours": {"h800": {"2026Q1": 100, "2026Q2": 90}, "h100": {"2026Q1": 100, "2026Q2": 70}},
            "subsidy": "3225.00",
        },
    }


def test_rank_budget_binds():
    # Budget 2300: P1 full (1500, 800 left); P2 0.5 by h800 2026Q1 (400, 400 left);
    # P3: budget 400 / 800 = 0.5 < h100 2026Q1 70 / 80: share 0.5, reason budget; P4: 0 left < min_share 1.
    result = allocate(small_problem(budget="2300.00"), "rank")

    assert shares(result) == {"P1": 1.0, "P2": 0.5, "P3": 0.5, "P4": 0.0}
    assert reasons(result) == {"P1": "full", "P2": "capacity h800 2026Q1", "P3": "budget", "P4": "min_share"}
    assert result["totals"]["subsidy"] == "2300.00"
    assert result["objective"] == 8.25


def test_rank_org_cap_binds():
    # Org cap 0.3 of 200 hours per pool = 60 hours per organisation and pool.
    # P1: org-a h800 60 / 120 = 0.5 -> 0.5 (h800 2026Q1 left 60, 2026Q2 left 80).
    # P2: h800 2026Q1 60 / 40, h100 100 / 60, org-b h800 60 / 40, org-b h100 60 / 60 = 1: full.
    # P3: h100 2026Q1 40 / 80 = 0.5, org-c h100 60 / 160 = 0.375 >= 0.25: 0.375, org cap.
    # P4: h800 2026Q2 80 / 50, org-d h800 60 / 50: full. Objective 2.25 + 4 + 1.3125 + 3 = 10.5625.
    result = allocate(small_problem(org_cap=0.3), "rank")

    assert shares(result) == {"P1": 0.5, "P2": 1.0, "P3": 0.375, "P4": 1.0}
    assert reasons(result) == {"P1": "org_cap org-a h800", "P2": "full", "P3": "org_cap org-c h100", "P4": "full"}
    assert result["objective"] == 10.5625


def test_rank_ties_broken_by_id():
    # Two projects, same score, each asking for all 100 hours of h800 2026Q1: the lower id goes first.
    problem = small_problem(
        projects=[
            {"id": "B", "org": "o", "score": 3.0, "min_share": 0.5, "request": {"h800": {"2026Q1": 100}}},
            {"id": "A", "org": "o", "score": 3.0, "min_share": 0.5, "request": {"h800": {"2026Q1": 100}}},
        ]
    )

    result = allocate(problem, "rank")

    assert shares(result) == {"B": 0.0, "A": 1.0}
    assert reasons(result) == {"B": "min_share", "A": "full"}


def test_rank_share_rounds_down_to_the_grid():
    # 100 / 3 hours left... a request of 300 hours gives 100 / 300 = 0.3333...: share 0.333333, 99.9999 hours;
    # cost 300 x 25 x 0.5 = 3750, x 0.333333 = 1249.99875 -> 1249.99 (rounded down).
    problem = small_problem(
        projects=[{"id": "X", "org": "o", "score": 2.0, "min_share": 0.2, "request": {"h800": {"2026Q1": 300}}}]
    )

    result = allocate(problem, "rank")

    assert result["awards"]["X"] == {
        "share": 0.333333,
        "hours": {"h800": {"2026Q1": 99.9999}},
        "subsidy": "1249.99",
        "reason": "capacity h800 2026Q1",
    }


def test_rank_off_grid_min_share_is_kept_exactly():
    # min_share 0.3333333333 is above the grid value 0.333333 but 100 / 300 = 0.3333333333... still allows it.
    problem = small_problem(
        projects=[
            {"id": "X", "org": "o", "score": 2.0, "min_share": 0.3333333333, "request": {"h800": {"2026Q1": 300}}}
        ]
    )

    result = allocate(problem, "rank")

    assert shares(result) == {"X": 0.3333333333}
    assert check_feasible(problem, result) == []


def test_rank_project_subsidy_rate_overrides_the_calls():
    problem = small_problem(
        projects=[
            {
                "id": "X",
                "org": "o",
                "score": 2.0,
                "min_share": 0.5,
                "subsidy_rate": "1.00",
                "request": {"h800": {"2026Q1": 10}},
            }
        ]
    )

    result = allocate(problem, "rank")

    assert result["awards"]["X"]["subsidy"] == "250.00"


# --- tiers -----------------------------------------------------------------------------------------------------


def test_tiers_small_problem_gives_common_shares():
    # Tier >= 4.0: P1 and P2 need 80 + 40 = 120 h800 2026Q1 hours of 100: common share 100 / 120 = 0.8333...
    # -> 0.833333 (>= both min_shares 0.5). Left: h800 2026Q1 100 - 99.99996 = 0.00004, h800 2026Q2
    # 100 - 33.33332, h100 2026Q1 100 - 49.99998 = 50.00002.
    # Tier >= 3.0: P3 and P4 together: h100 2026Q1 50.00002 / 80 = 0.62500025 < P4's min_share 1: drop P4.
    # P3 alone: 0.62500025 -> 0.625. Objective 8.5 x 0.833333 + 3.5 x 0.625 = 7.0833305 + 2.1875 = 9.2708305.
    # Subsidies: 1500 x 0.833333 = 1249.9995 -> 1249.99; 800 x 0.833333 = 666.6664 -> 666.66; 800 x 0.625 = 500.
    result = allocate(small_problem(), "tiers")

    assert shares(result) == {"P1": 0.833333, "P2": 0.833333, "P3": 0.625, "P4": 0.0}
    assert reasons(result) == {
        "P1": "capacity h800 2026Q1",
        "P2": "capacity h800 2026Q1",
        "P3": "capacity h100 2026Q1",
        "P4": "min_share",
    }
    assert result["awards"]["P1"]["hours"] == {"h800": {"2026Q1": 66.66664, "2026Q2": 33.33332}}
    assert [result["awards"][p]["subsidy"] for p in ("P1", "P2", "P3", "P4")] == ["1249.99", "666.66", "500.00", "0.00"]
    assert result["totals"]["subsidy"] == "2416.65"
    assert result["objective"] == 9.2708305
    assert (result["status"], result["gap"]) == ("ok", None)


def test_tiers_below_last_tier_not_funded():
    # Tier >= 4.0 (P1, P2) as above; P3 (3.5) and P4 (3.0) are below the last threshold 3.8.
    result = allocate(small_problem(tiers=[4.0, 3.8]), "tiers")

    assert shares(result) == {"P1": 0.833333, "P2": 0.833333, "P3": 0.0, "P4": 0.0}
    assert reasons(result)["P3"] == "below last tier"
    assert reasons(result)["P4"] == "below last tier"


def test_tiers_drop_lowest_until_min_share_met():
    # Knapsack problem, tiers 4.0 and 3.5. Tier 1 = P1, P2: h800 2026Q1 110 > 100, common share 0.909 < min 1:
    # drop P2; P1 fits in full. Tier 2 = P3: 40 / 50 = 0.8 < 1: dropped. P4 (3.0) is below the last tier.
    result = allocate({**knapsack_problem(), "tiers": [4.0, 3.5]}, "tiers")

    assert shares(result) == {"P1": 1.0, "P2": 0.0, "P3": 0.0, "P4": 0.0}
    assert reasons(result) == {"P1": "full", "P2": "min_share", "P3": "min_share", "P4": "below last tier"}
    assert result["objective"] == 4.5


def test_tiers_reason_of_a_member_outside_the_binding_row_names_that_row_as_the_tier_share():
    # One tier: org-a's P1 and P2 (40 + 40 h800 hours) and org-b's P3 (10). Capacity 100 fits all 90, but org-a's
    # cap of 0.5 x 100 = 50 binds the tier: common share 50 / 80 = 0.625. P3 is held to it by org-a's cap.
    problem = small_problem(
        org_cap=0.5,
        tiers=[4.0],
        pools={"h800": {"price": "25.00", "capacity": {"2026Q1": 100}}},
        projects=[
            {"id": "P1", "org": "org-a", "score": 4.5, "min_share": 0.5, "request": {"h800": {"2026Q1": 40}}},
            {"id": "P2", "org": "org-a", "score": 4.4, "min_share": 0.5, "request": {"h800": {"2026Q1": 40}}},
            {"id": "P3", "org": "org-b", "score": 4.3, "min_share": 0.5, "request": {"h800": {"2026Q1": 10}}},
        ],
    )

    result = allocate(problem, "tiers")

    assert shares(result) == {"P1": 0.625, "P2": 0.625, "P3": 0.625}
    assert reasons(result) == {
        "P1": "org_cap org-a h800",
        "P2": "org_cap org-a h800",
        "P3": "tier_share org_cap org-a h800",
    }


def test_tiers_without_thresholds_refused():
    with pytest.raises(ProblemError, match=r"^tiers: missing \(the tiers policy needs at least one threshold\)$"):
        allocate(small_problem(tiers=[]), "tiers")


# --- optimal ---------------------------------------------------------------------------------------------------


def test_optimal_beats_rank_on_knapsack():
    problem = knapsack_problem()

    result = allocate(problem, "optimal")

    assert (result["status"], result["gap"], result["objective"]) == ("optimal", 0.0, 9.675)
    assert shares(result) == {"P1": 0.0, "P2": 1.0, "P3": 1.0, "P4": 0.625}
    assert reasons(result) == {"P1": "min_share", "P2": "full", "P3": "full", "P4": "capacity h100 2026Q1"}
    assert result["totals"]["hours"] == {"h800": {"2026Q1": 100, "2026Q2": 0}, "h100": {"2026Q1": 100, "2026Q2": 100}}
    assert allocate(problem, "rank")["objective"] == 7.5


def test_optimal_small_problem_matches_rank():
    # Rank's answer is optimal here: lowering P2 by d frees 60d h100 hours, worth 3.5 x 60d / 80 = 2.625d < 4d;
    # raising it needs P1 to give 40d h800 hours back (-2.25d) and P3 60d h100 hours (-2.625d), for +4d.
    result = allocate(small_problem(), "optimal")

    assert (result["status"], result["objective"]) == ("optimal", 12.5625)
    assert shares(result) == {"P1": 1.0, "P2": 0.5, "P3": 0.875, "P4": 1.0}
    assert reasons(result) == {"P1": "full", "P2": "capacity h800 2026Q1", "P3": "capacity h100 2026Q1", "P4": "full"}


def test_optimal_budget_reason():
    # One pool-quarter with room for everything; budget 1000 of costs 1250 + 1250 (100 hours x 25 x 0.5 each).
    # A (5.0) takes 1.0, B (4.0) the remaining 1000 - 1250 < 0 ... B gets min 0.5? no: 1000 = 1250 sA + 1250 sB,
    # best is sA = 0.8, sB = 0 (B's min 0.5 would need 625) vs sA = 0.5, sB = 0.3 (below min): so A = 0.8.
    problem = small_problem(
        budget="1000.00",
        projects=[
            {"id": "A", "org": "o", "score": 5.0, "min_share": 0.5, "request": {"h800": {"2026Q1": 100}}},
            {"id": "B", "org": "o", "score": 4.0, "min_share": 0.5, "request": {"h800": {"2026Q2": 100}}},
        ],
    )

    result = allocate(problem, "optimal")

    assert shares(result) == {"A": 0.8, "B": 0.0}
    assert reasons(result) == {"A": "budget", "B": "min_share"}
    assert result["totals"]["subsidy"] == "1000.00"


def test_optimal_no_projects():
    result = allocate(small_problem(projects=[]), "optimal")

    assert result == {
        "policy": "optimal",
        "status": "optimal",
        "objective": 0.0,
        "gap": 0.0,
        "awards": {},
        "totals": {
            "hours": {"h800": {"2026Q1": 0, "2026Q2": 0}, "h100": {"2026Q1": 0, "2026Q2": 0}},
            "subsidy": "0.00",
        },
    }


def test_optimal_zero_capacity_pool_quarter_funds_nobody_there():
    problem = small_problem(
        pools={"h800": {"price": "25.00", "capacity": {"2026Q1": 0, "2026Q2": 100}}},
        projects=[
            {"id": "A", "org": "o", "score": 5.0, "min_share": 0.5, "request": {"h800": {"2026Q1": 10, "2026Q2": 10}}},
            {"id": "B", "org": "o", "score": 1.0, "min_share": 0.5, "request": {"h800": {"2026Q2": 10}}},
        ],
    )

    result = allocate(problem, "optimal")

    assert shares(result) == {"A": 0.0, "B": 1.0}


def test_optimal_no_solution_within_time_limit_gives_no_awards():
    problem = knapsack_problem()

    result = allocate(problem, "optimal", time_limit=0)

    assert (result["status"], result["objective"], result["gap"], result["awards"]) == ("no_solution", None, None, {})
    assert result["totals"]["subsidy"] == "0.00"
    assert check_feasible(problem, result) == []


def test_ledger_repair_cuts_lowest_ranked_first():
    # Everyone at 1: h800 2026Q1 120 > 100 -> P2 (ranked below P1) gives 20 / 40 = 0.5 back; then h100 2026Q1
    # 30 + 80 = 110 > 100 -> P3 gives 10 / 80 = 0.125 back. That is rank's answer.
    problem = parse_problem(small_problem())
    ledger = Ledger(problem)
    for index in range(4):
        ledger.set_share(index, Decimal(1))

    ledger.repair(rank_order(problem))

    assert ledger.shares == [Decimal(1), Decimal("0.5"), Decimal("0.875"), Decimal(1)]


def test_ledger_repair_drops_when_cutting_is_not_enough():
    # h800 2026Q2 of 60: P1 40 + P4 50 = 90. P4 (min_share 1) cannot be cut; P1 goes down to its min 0.5 (20
    # hours), still 70 > 60, so P4 is dropped. Polishing then gives P1 its full share back (40 <= 60).
    problem = parse_problem(
        small_problem(
            pools={"h800": {"price": "25.00", "capacity": {"2026Q1": 100, "2026Q2": 60}}},
            projects=[small_problem()["projects"][0], small_problem()["projects"][3]],
        )
    )
    ledger = Ledger(problem)
    ledger.set_share(0, Decimal(1))
    ledger.set_share(1, Decimal(1))

    ledger.repair(rank_order(problem))
    repaired = list(ledger.shares)
    ledger.polish(rank_order(problem))

    assert (repaired, ledger.shares) == ([Decimal("0.5"), Decimal(0)], [Decimal(1), Decimal(0)])


def test_unknown_policy_refused():
    with pytest.raises(ValueError, match=r"^unknown policy 'fair': expected one of rank, tiers, optimal$"):
        allocate(small_problem(), "fair")


# --- malformed input ---------------------------------------------------------------------------------------------


def _broken(change) -> dict[str, Any]:
    problem = small_problem()
    change(problem)
    return problem


MALFORMED = [
    (lambda p: p.pop("pools"), "pools: missing"),
    (lambda p: p["pools"].clear(), "pools: must name at least one pool"),
    (lambda p: p["pools"]["h800"].pop("price"), "pools.h800.price: missing"),
    (lambda p: p["pools"]["h800"].update(price="-1.00"), "pools.h800.price: negative price"),
    (lambda p: p["pools"]["h100"]["capacity"].update({"2026Q2": -5}), "pools.h100.capacity.2026Q2: negative capacity"),
    (lambda p: p.update(budget="lots"), "budget: not a decimal amount: 'lots'"),
    (lambda p: p.update(budget=100.5), 'budget: must be a decimal string such as "25.00" (money is exact)'),
    (lambda p: p.update(budget="-1.00"), "budget: must not be negative"),
    (lambda p: p.update(budget="NaN"), "budget: not a decimal amount: 'NaN'"),
    (lambda p: p.update(subsidy_rate="1.50"), "subsidy_rate: must be between 0 and 1"),
    (lambda p: p.pop("subsidy_rate"), "subsidy_rate: missing"),
    (lambda p: p.update(org_cap=0), "org_cap: must be in (0, 1]"),
    (lambda p: p.update(tiers=[3.0, 4.0]), "tiers[1]: must be lower than the tier before (highest first)"),
    (lambda p: p.update(projects={}), "projects: must be a list"),
    (
        lambda p: p["projects"][3]["request"]["h800"].update({"2026Q2": -1}),
        "projects[3].request.h800.2026Q2: negative hours",
    ),
    (
        lambda p: p["projects"][1]["request"]["h100"].update({"2026Q1": float("nan")}),
        "projects[1].request.h100.2026Q1: must be a finite number",
    ),
    (lambda p: p["projects"][0]["request"].update(a100={"2026Q1": 5}), "projects[0].request.a100: unknown pool"),
    (
        lambda p: p["projects"][0]["request"]["h800"].update({"2027Q1": 5}),
        "projects[0].request.h800.2027Q1: unknown quarter",
    ),
    (lambda p: p["projects"][2].update(request={}), "projects[2].request: no hours requested"),
    (lambda p: p["projects"][0].update(min_share=0), "projects[0].min_share: must be in (0, 1]"),
    (lambda p: p["projects"][0].update(min_share=1.5), "projects[0].min_share: must be in (0, 1]"),
    (lambda p: p["projects"][0].update(min_share="half"), "projects[0].min_share: not a number: 'half'"),
    (lambda p: p["projects"][2].pop("score"), "projects[2].score: missing"),
    (lambda p: p["projects"][2].update(score=-1), "projects[2].score: must not be negative"),
    (lambda p: p["projects"][2].update(score=True), "projects[2].score: must be a number"),
    (lambda p: p["projects"][1].update(id="P1"), "projects[1].id: duplicate id P1"),
    (lambda p: p["projects"][1].update(org=""), "projects[1].org: must be a non-empty string"),
    (lambda p: p["projects"][1].update(subsidy_rate="abc"), "projects[1].subsidy_rate: not a decimal amount: 'abc'"),
    (lambda p: p["projects"].append("P5"), "projects[4]: must be an object"),
]


@pytest.mark.parametrize(("change", "message"), MALFORMED, ids=[message for _, message in MALFORMED])
def test_parse_problem_malformed_names_the_field(change, message):
    with pytest.raises(ProblemError) as excinfo:
        parse_problem(_broken(change))

    assert str(excinfo.value) == message


def test_parse_problem_not_an_object():
    with pytest.raises(ProblemError, match=r"^problem: must be an object$"):
        parse_problem([1, 2])


def test_parse_problem_keeps_numbers_exact():
    problem = parse_problem(small_problem(budget="2300.10"))

    assert problem.budget == Decimal("2300.10")
    assert problem.projects[0].score == Decimal("4.5")
    assert problem.cost(problem.projects[1]) == Decimal("800.0000")


# --- feasibility check -------------------------------------------------------------------------------------------


def test_check_feasible_accepts_every_policy_result():
    problem = small_problem()

    for policy in ("rank", "tiers", "optimal"):
        assert check_feasible(problem, allocate(problem, policy)) == []


def test_check_feasible_finds_capacity_and_share_violations():
    problem = small_problem()
    result = copy.deepcopy(allocate(problem, "rank"))
    # P3 from 0.875 to 1.0: h100 2026Q1 30 + 80 = 110 > 100; hours, subsidy, totals now disagree with the share.
    result["awards"]["P3"]["share"] = 1.0
    # P4 at 0.5 is below its min_share 1.
    result["awards"]["P4"]["share"] = 0.5

    violations = check_feasible(problem, result)

    assert violations == [
        "awards.P3.hours.h100.2026Q1: 70 is not share * request (80)",
        "awards.P3.hours.h100.2026Q2: 70 is not share * request (80)",
        "awards.P3.subsidy: 700.00 is not share * cost rounded down to the cent (800)",
        "awards.P4.share: 0.5 is neither 0 nor between min_share 1 and 1",
        "awards.P4.hours.h800.2026Q2: 50 is not share * request (25)",
        "awards.P4.subsidy: 625.00 is not share * cost rounded down to the cent (312.5)",
        "capacity h100 2026Q1: 110 hours awarded > 100",
        "objective: 12.5625 is not the sum of score * share (11.5)",
    ]


def test_check_feasible_finds_budget_org_cap_and_unknown_project():
    problem = small_problem(budget="3000.00", org_cap=0.5)
    result = copy.deepcopy(allocate(small_problem(), "rank"))  # allocated without the tighter limits
    result["awards"]["P9"] = {"share": 1.0}

    violations = check_feasible(problem, result)

    assert violations == [
        "awards.P9: unknown project",
        "budget: 3225 awarded > 3000.00",
        "org_cap org-a h800: 120 hours awarded > 100",
        "org_cap org-c h100: 140 hours awarded > 100",
    ]


def test_check_feasible_malformed_result():
    assert check_feasible(small_problem(), {"awards": []}) == ["awards: missing or not an object"]


# --- properties on random small problems -------------------------------------------------------------------------

POOLS = {"h800": "25.00", "h100": "18.50"}
QUARTERS = ("2026Q1", "2026Q2")


@st.composite
def problems(draw, max_projects: int = 12, min_share=None) -> dict[str, Any]:
    pool_names = draw(st.sampled_from([("h800",), ("h800", "h100")]))
    pools = {
        name: {
            "price": POOLS[name],
            "capacity": {q: draw(st.sampled_from([0, 40, 100, 150.5, 300])) for q in QUARTERS},
        }
        for name in pool_names
    }
    keys = [(pool, quarter) for pool in pool_names for quarter in QUARTERS]
    projects = []
    for number in range(draw(st.integers(0, max_projects))):
        wanted = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
        request: dict[str, dict[str, float]] = {}
        for pool, quarter in wanted:
            request.setdefault(pool, {})[quarter] = draw(st.sampled_from([1, 10, 25, 33.3, 60, 80, 120]))
        project = {
            "id": f"P{number:02d}",
            "org": draw(st.sampled_from(["org-a", "org-b", "org-c"])),
            "score": draw(st.sampled_from([0.0, 1.5, 2.75, 3.0, 3.33, 4.0, 4.9])),
            "min_share": min_share or draw(st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.8, 1.0])),
            "request": request,
        }
        if draw(st.booleans()):
            project["subsidy_rate"] = draw(st.sampled_from(["0.00", "0.35", "1.00"]))
        projects.append(project)
    return {
        "pools": pools,
        "subsidy_rate": draw(st.sampled_from(["0.50", "0.70"])),
        "budget": draw(st.sampled_from(["0.00", "1000.00", "4321.09", "20000.00", "1000000.00"])),
        "org_cap": draw(st.sampled_from([0.2, 0.25, 0.5, 1.0])),
        "tiers": draw(st.sampled_from([[4.0], [4.0, 3.0], [3.5, 2.0, 1.0]])),
        "projects": projects,
    }


@given(problems())
def test_every_policy_feasible_on_random_problems(problem):
    for policy in ("rank", "tiers", "optimal"):
        result = allocate(problem, policy)

        assert check_feasible(problem, result) == []
        assert result["status"] in {"ok", "optimal"}
        assert set(result["awards"]) == {p["id"] for p in problem["projects"]}
        for project in problem["projects"]:
            award = result["awards"][project["id"]]
            assert award["share"] == 0 or project["min_share"] <= award["share"] <= 1
            assert (award["share"] == 1) == (award["reason"] == "full")
            if award["share"] == 0:
                assert award["reason"] in {"min_share", "below last tier"}


@given(problems())
def test_optimal_at_least_rank_and_tiers_on_random_problems(problem):
    optimal = allocate(problem, "optimal")["objective"]

    assert optimal >= allocate(problem, "rank")["objective"] - 1e-6
    assert optimal >= allocate(problem, "tiers")["objective"] - 1e-6


@given(problems(max_projects=6, min_share=1.0))
def test_optimal_matches_brute_force_when_all_or_nothing(problem):
    # With every min_share 1 a share is 0 or 1: try every subset.
    parsed = parse_problem(problem)
    best = Decimal(0)
    for chosen in itertools.product((0, 1), repeat=len(parsed.projects)):
        result = {
            "awards": {
                p.id: {"share": float(s), "hours": {}, "subsidy": "0.00"}
                for p, s in zip(parsed.projects, chosen, strict=True)
            }
        }
        if not [v for v in check_feasible(parsed, result) if v.startswith(("capacity", "budget", "org_cap"))]:
            best = max(best, sum((p.score * s for p, s in zip(parsed.projects, chosen, strict=True)), Decimal(0)))

    assert allocate(problem, "optimal")["objective"] == pytest.approx(float(best), abs=1e-6)


@given(problems(), st.sampled_from(["rank", "tiers", "optimal"]))
def test_allocate_deterministic(problem, policy):
    assert allocate(problem, policy) == allocate(copy.deepcopy(problem), policy)
