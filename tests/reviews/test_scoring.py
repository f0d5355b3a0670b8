from decimal import Decimal

import pytest

from portal.reviews import scoring

pytestmark = pytest.mark.unit

D = Decimal
WEIGHTS = {1: D(25), 2: D(20), 3: D(20), 4: D(20), 5: D(15)}


def test_weighted_score_default_rubric_is_the_weighted_mean():
    assert scoring.weighted_score({1: 4, 2: 3, 3: 5, 4: 2, 5: 3}, WEIGHTS) == D("3.45")


def test_weighted_score_missing_criterion_is_none():
    assert scoring.weighted_score({1: 4, 2: 3, 3: 5, 4: 2}, WEIGHTS) is None


def test_calibrate_hand_worked_example():
    # Reviewer A gives P1 4 and P2 2 (mean 3, sd 1); reviewer B gives P1 5 and P3 3 (mean 4, sd 1).
    # All four scores: mean 3.5, population sd sqrt(1.25) = 1.1180339887...
    # Each reviewer's better proposal is z = +1 -> 3.5 + 1.118 = 4.618; the worse z = -1 -> 2.382.
    result = scoring.calibrate([("A", "P1", D(4)), ("A", "P2", D(2)), ("B", "P1", D(5)), ("B", "P3", D(3))])
    rounded = {k: v.quantize(D("0.0001")) for k, v in result.items()}
    assert rounded == {
        ("A", "P1"): D("4.6180"),
        ("A", "P2"): D("2.3820"),
        ("B", "P1"): D("4.6180"),
        ("B", "P3"): D("2.3820"),
    }


def test_calibrate_single_review_keeps_the_raw_score():
    result = scoring.calibrate([("A", "P1", D(4)), ("A", "P2", D(2)), ("C", "P3", D("3.7"))])
    assert result[("C", "P3")] == D("3.7")


def test_calibrate_reviewer_with_identical_scores_maps_to_the_call_mean():
    result = scoring.calibrate([("A", "P1", D(4)), ("A", "P2", D(4)), ("B", "P1", D(1)), ("B", "P2", D(3))])
    assert result[("A", "P1")] == D(3)
    assert result[("A", "P2")] == D(3)


def test_calibrate_is_kept_within_the_scale():
    scores = [("A", "P1", D(5)), ("A", "P2", D(0)), ("A", "P3", D(0)), ("A", "P4", D(0))]
    scores += [("B", f"P{i}", D(5)) for i in range(5, 9)] + [("B", "P9", D(0))]
    result = scoring.calibrate(scores)
    assert max(result.values()) <= D(5)
    assert min(result.values()) >= D(0)


def test_proposal_scores_pass_rule_needs_the_compute_criterion():
    figures = scoring.proposal_scores(
        weighted=[D("3.45"), D("3.55")],
        calibrated=[D("3.4"), D("3.6")],
        criterion_means={1: D(4), 2: D("2.5")},
        minimums={2: 3},
        pass_mean=D(3),
        threshold=D("1.5"),
    )
    assert (figures.raw_mean, figures.calibrated_mean, figures.spread) == (D("3.5"), D("3.5"), D("0.10"))
    assert figures.passes is False
    assert figures.disagreement is False


def test_proposal_scores_flags_wide_disagreement_and_passes():
    figures = scoring.proposal_scores(
        weighted=[D(5), D("3.4")],
        calibrated=[D(5), D("3.4")],
        criterion_means={2: D(3)},
        minimums={2: 3},
        pass_mean=D(3),
        threshold=D("1.5"),
    )
    assert figures.disagreement is True
    assert figures.passes is True


def test_proposal_scores_without_reviews_is_empty():
    figures = scoring.proposal_scores(
        weighted=[], calibrated=[], criterion_means={}, minimums={2: 3}, pass_mean=D(3), threshold=D("1.5")
    )
    assert (figures.raw_mean, figures.calibrated_mean, figures.spread, figures.passes) == (None, None, None, None)
