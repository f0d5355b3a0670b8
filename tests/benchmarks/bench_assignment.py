"""Automatic reviewer assignment on realistic random calls: solve time and match quality against the greedy baseline.

500 proposals needing 3 reviewers each and 150 available reviewers. 25 research areas: a proposal has a primary
area and, half the time, a secondary one; a reviewer has one to three areas of expertise at decreasing depth
(1.0, 0.6, 0.3); the affinity is the best product of the two (secondary area of the proposal x 0.5), rounded to
0.05, so most pairs have affinity 0 and there are many ties. Areas are Zipf-popular, so the popular areas'
experts are in demand. Proposals come from 60 organisations and reviewers from 40 of them (same
organisation = conflict), plus 1% declared conflicts; 30% of proposals name a co-organisation (also a
conflict). Applicants suggest 0-3 reviewers, mostly experts of their area. Reviewers take at most 10, 12, 15 or 20
reviews ("roomy": ~2,100 places for 1,500 slots), or the same scaled down to ~1,500 places ("tight"), ~1,350
("short": some proposals cannot be fully assigned) or ~900 ("scarce": fewer places than the 1,000 first slots, so
some proposals stay below the minimum); the "ongoing" scenario has one reviewer per proposal already assigned (so
current loads differ and suggested reviewers may already be used). Every proposal should have at least 2 reviewers
(the call's minimum): its first slots. In "short" and "scarce" the solver is also run without the minimum (the
old objective: most slots, then affinity), and every run reports the first slots filled and the proposals below
the minimum and with no new reviewer. Seeded: every run solves the same calls.
"""

import dataclasses
import math
import random
import statistics
import time
from collections import Counter

from portal.reviews.assignment import AssignmentProblem, AssignmentResult, assign, assign_greedy, check_assignment

PROPOSALS = 500
REVIEWERS = 150
PER_PROPOSAL = 3
MIN_REVIEWERS = 2
AREAS = 25
SEED = 20260301


def random_call(*, places: float | None = None, ongoing: bool = False, seed: int = SEED) -> AssignmentProblem:
    """A call; ``places`` scales the reviewers' limits to that multiple of the slots."""
    rng = random.Random(seed + int(100 * (places or 0)) + 2 * int(ongoing))
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(AREAS)]
    areas = list(range(AREAS))
    reviewer_orgs = [f"org-{index:02d}" for index in range(15, 55)]
    proposal_orgs = [f"org-{index:02d}" for index in range(60)]

    reviewers: dict[str, int] = {}
    expertise: dict[str, dict[int, float]] = {}
    reviewer_org: dict[str, str] = {}
    for number in range(REVIEWERS):
        rid = f"R{number:03d}"
        chosen = rng.sample(areas, rng.randint(1, 3))
        expertise[rid] = dict(zip(chosen, (1.0, 0.6, 0.3), strict=False))
        reviewer_org[rid] = rng.choice(reviewer_orgs)
        reviewers[rid] = rng.choice([10, 12, 15, 20])
    if places is not None:
        scale = places * PROPOSALS * PER_PROPOSAL / sum(reviewers.values())
        reviewers = {rid: max(1, round(cap * scale)) for rid, cap in reviewers.items()}

    proposals: dict[str, int] = {}
    conflicts: set[tuple[str, str]] = set()
    suggested: dict[str, frozenset[str]] = {}
    affinity: dict[tuple[str, str], float] = {}
    for number in range(PROPOSALS):
        pid = f"P{number:03d}"
        proposals[pid] = PER_PROPOSAL
        primary = rng.choices(areas, popularity)[0]
        topics = {primary: 1.0}
        if rng.random() < 0.5:
            topics.setdefault(rng.choices(areas, popularity)[0], 0.5)
        orgs = {rng.choice(proposal_orgs)}
        if rng.random() < 0.3:
            orgs.add(rng.choice(proposal_orgs))
        for rid in reviewers:
            if reviewer_org[rid] in orgs or rng.random() < 0.01:
                conflicts.add((pid, rid))
            match = max((w * expertise[rid].get(area, 0.0) for area, w in topics.items()), default=0.0)
            if match > 0:
                affinity[pid, rid] = round(round(match / 0.05) * 0.05, 2)
        experts = sorted(reviewers, key=lambda r: -affinity.get((pid, r), 0.0))[:10]
        suggested[pid] = frozenset(rng.sample(experts, rng.randint(0, 3)))

    suggested_already: dict[str, int] = {}
    load_already: dict[str, int] = {}
    minimum = dict.fromkeys(proposals, MIN_REVIEWERS)
    if ongoing:
        # One reviewer per proposal was assigned earlier (by hand, to a random reviewer without a conflict).
        for pid in list(proposals):
            done = 0
            for rid in rng.sample(list(reviewers), 6):
                if done == 1 or (pid, rid) in conflicts or reviewers[rid] == 0:
                    continue
                conflicts.add((pid, rid))
                reviewers[rid] -= 1
                load_already[rid] = load_already.get(rid, 0) + 1
                if rid in suggested[pid]:
                    suggested_already[pid] = 1
                done += 1
            proposals[pid] -= done
            minimum[pid] -= done

    return AssignmentProblem(
        proposals=proposals,
        reviewers=reviewers,
        conflicts=frozenset(conflicts),
        suggested=suggested,
        affinity=affinity,
        suggested_already=suggested_already,
        load_already=load_already,
        min_reviewers={pid: min(proposals[pid], max(0, n)) for pid, n in minimum.items()},
    )


def below_minimum(problem: AssignmentProblem, result: AssignmentResult) -> tuple[int, int, int]:
    """(first slots filled, proposals below their minimum, proposals that got no reviewer although they needed some)."""
    count = Counter(pid for pid, _rid in result.pairs)
    first = {pid: min(need, problem.min_reviewers.get(pid, 0)) for pid, need in problem.proposals.items()}
    filled = sum(min(n, count[pid]) for pid, n in first.items())
    below = sum(1 for pid, n in first.items() if count[pid] < n)
    empty = sum(1 for pid, need in problem.proposals.items() if need > 0 and count[pid] == 0)
    return filled, below, empty


def describe(
    problem: AssignmentProblem, result: AssignmentResult, seconds: float, *, minimum: AssignmentProblem | None = None
) -> str:
    """One line on ``result``; the first slots and the proposals below the minimum counted on ``minimum``'s."""
    load = {rid: problem.load_already.get(rid, 0) for rid in problem.reviewers}
    for _pid, rid in result.pairs:
        load[rid] += 1
    values = list(load.values())
    zero = sum(1 for pair in result.pairs if problem.affinity.get(pair, 0.0) == 0)
    mean = result.objective / len(result.pairs) if result.pairs else math.nan
    violations = check_assignment(problem, result)
    filled, below, empty = below_minimum(minimum or problem, result)
    missing = sorted({m for m, _ in result.unassigned.values()})
    short = ", ".join(f"{sum(1 for m, _ in result.unassigned.values() if m == k)} missing {k}" for k in missing)
    return (
        f"{result.status:10} {seconds:6.2f} s  first slots {filled:4d}  slots {len(result.pairs):5d}  "
        f"affinity {result.objective:8.2f} "
        f"(mean {mean:.3f}, {zero} pairs at 0)  load min/max/sd {min(values)}/{max(values)}/"
        f"{statistics.pstdev(values):.2f}  short proposals {len(result.unassigned)}{f' ({short})' if short else ''}  "
        f"below minimum {below} (no reviewer {empty})  violations {len(violations)}"
    )


def main() -> None:
    from tests.benchmarks.results import record

    print(f"{PROPOSALS} proposals x {PER_PROPOSAL} reviewers, {REVIEWERS} reviewers")
    for name, options in (
        ("roomy", {}),
        ("tight", {"places": 1.0}),
        ("short", {"places": 0.9}),
        ("scarce", {"places": 0.6}),
        ("ongoing", {"ongoing": True}),
    ):
        problem = random_call(**options)
        slots = sum(problem.proposals.values())
        places = sum(problem.reviewers.values())
        pairs = len(problem.proposals) * len(problem.reviewers) - len(problem.conflicts)
        print(f"-- {name}: {slots} slots to fill, {places} places, {pairs} pairs without a conflict")
        started = time.perf_counter()
        greedy = assign_greedy(problem)
        greedy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        optimal = assign(problem, time_limit=60.0)
        optimal_seconds = time.perf_counter() - started
        first = sum(min(need, problem.min_reviewers.get(pid, 0)) for pid, need in problem.proposals.items())
        print(f"   {first} first slots (up to the minimum of {MIN_REVIEWERS} reviewers per proposal)")
        print(f"   greedy   {describe(problem, greedy, greedy_seconds)}")
        print(f"   assign   {describe(problem, optimal, optimal_seconds)}")
        if name in {"short", "scarce"}:
            old = dataclasses.replace(problem, min_reviewers={})
            started = time.perf_counter()
            without = assign(old, time_limit=60.0)
            without_seconds = time.perf_counter() - started
            print(f"   no min   {describe(old, without, without_seconds, minimum=problem)}")
        ratio = optimal.objective / greedy.objective if greedy.objective else math.nan
        record(f"reviewer assignment ({name}): solver time", f"{optimal_seconds:.1f} s")
        record(
            f"reviewer assignment ({name}): pairs vs greedy",
            f"{len(optimal.pairs) - len(greedy.pairs):+d}",
            goal=">= 0",
            met=len(optimal.pairs) >= len(greedy.pairs),
        )
        print(
            f"   assign vs greedy: {len(optimal.pairs) - len(greedy.pairs):+d} slots, "
            f"affinity x{ratio:.3f} ({optimal.objective - greedy.objective:+.2f}), proposals below minimum "
            f"{below_minimum(problem, optimal)[1]} vs {below_minimum(problem, greedy)[1]}"
        )
        reasons: dict[str, int] = {}
        for _missing, reason in optimal.unassigned.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, count in sorted(reasons.items()):
            print(f"   short ({count}): {reason}")
