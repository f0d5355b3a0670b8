"""The scoring arithmetic, pure: weighted scores, calibration, spread, the pass rule.

Calibration (domain brief §6): each reviewer's weighted scores in a call are standardised against that reviewer's
own mean and spread (population standard deviation), z = (x - mean_r) / sd_r, then mapped back to the 0-5 scale with
the mean and spread of all weighted scores in the call: calibrated = mean_call + z * sd_call, kept within 0-5.
A reviewer with a single review cannot be standardised: that score is kept as it is. A reviewer who gave every
proposal the same score says nothing about their order: each of those scores becomes the call mean."""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
FIVE = Decimal(5)
CENT = Decimal("0.01")


def q2(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def weighted_score(scores: Mapping[Hashable, int | None], weights: Mapping[Hashable, Decimal]) -> Decimal | None:
    """Σ score * weight / Σ weight over the criteria; None while any criterion has no score."""
    total_weight = sum((weights[c] for c in weights), ZERO)
    if not weights or total_weight == 0 or any(scores.get(c) is None for c in weights):
        return None
    return sum((Decimal(scores[c]) * weights[c] for c in weights), ZERO) / total_weight


def mean(values: Iterable[Decimal]) -> Decimal | None:
    values = list(values)
    return sum(values, ZERO) / len(values) if values else None


def pstdev(values: Iterable[Decimal]) -> Decimal:
    values = list(values)
    m = mean(values)
    if m is None:
        return ZERO
    return (sum(((v - m) ** 2 for v in values), ZERO) / len(values)).sqrt()


def spread(values: Iterable[Decimal]) -> Decimal | None:
    values = list(values)
    return max(values) - min(values) if values else None


def calibrate(scores: Iterable[tuple[Hashable, Hashable, Decimal]]) -> dict[tuple[Hashable, Hashable], Decimal]:
    """``scores``: (reviewer, proposal, weighted score). Returns (reviewer, proposal) → calibrated score."""
    scores = list(scores)
    everything = [s for _r, _p, s in scores]
    call_mean = mean(everything)
    call_sd = pstdev(everything)
    by_reviewer: dict[Hashable, list[Decimal]] = defaultdict(list)
    for reviewer, _proposal, score in scores:
        by_reviewer[reviewer].append(score)
    stats = {r: (mean(v), pstdev(v), len(v)) for r, v in by_reviewer.items()}
    result = {}
    for reviewer, proposal, score in scores:
        r_mean, r_sd, n = stats[reviewer]
        if n < 2:
            value = score
        elif r_sd == 0 or call_sd == 0:
            value = call_mean
        else:
            value = call_mean + (score - r_mean) / r_sd * call_sd
        result[(reviewer, proposal)] = min(FIVE, max(ZERO, value))
    return result


@dataclass(frozen=True)
class ProposalScores:
    weighted: tuple[Decimal, ...]
    raw_mean: Decimal | None
    calibrated_mean: Decimal | None
    spread: Decimal | None
    disagreement: bool
    passes: bool | None


def proposal_scores(
    *,
    weighted: list[Decimal],
    calibrated: list[Decimal],
    criterion_means: Mapping[Hashable, Decimal | None],
    minimums: Mapping[Hashable, int],
    pass_mean: Decimal,
    threshold: Decimal,
) -> ProposalScores:
    """The figures of one proposal. Pass rule: weighted mean ≥ pass_mean and each criterion that has a minimum
    scored at least that minimum on average."""
    raw = mean(weighted)
    gap = spread(weighted)
    passes = None
    if raw is not None:
        passes = raw >= pass_mean and all(
            criterion_means.get(c) is not None and criterion_means[c] >= minimum for c, minimum in minimums.items()
        )
    return ProposalScores(
        weighted=tuple(weighted),
        raw_mean=raw,
        calibrated_mean=mean(calibrated),
        spread=gap,
        disagreement=len(weighted) >= 2 and gap is not None and gap > threshold,
        passes=passes,
    )
