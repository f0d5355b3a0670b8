"""A call's ranking figures, computed once per change and stored (issue 14 goal 2).

:func:`compute_figures` is the reference: every submitted proposal's figures worked out from the call's submitted
reviews and scores (calibration uses every submitted review of the call, see :mod:`portal.reviews.scoring`).
:func:`figures_fresh` makes sure the stored :class:`~portal.reviews.models.ProposalFigures` are what it would give
now, recomputing them (once, under a lock) when they are stale; pages, exports and reports then read the stored
rows. The consensus and the applicant's response are per proposal and are joined when the rows are read.

**When are stored figures stale?** Two ways, both checked on every read:

- *The inputs' generation.* :func:`figures_invalidate` raises the call's generation in the transaction that
  changes a submitted review, a score of one or an assignment that has one. Saves and deletes do it through the
  receivers in :mod:`portal.reviews.signals`; a service that changes these rows with a queryset ``update()``,
  ``bulk_create()`` or ``delete()`` calls it itself (grep ``figures_invalidate``). The stored figures record the
  generation they were computed from; the generation is read after the computing transaction has locked the call's
  :class:`~portal.reviews.models.CallFigures` row, so a change that commits while they are computed leaves them
  stale, never wrongly fresh.
- *The settings' fingerprint.* The call's pass mark, its disagreement threshold and its criteria (weights and
  minimums) are hashed on every read and compared with the hash the figures were computed with: a change of these,
  however it is made, is seen without anyone having to tell.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from portal.calls.models import Call, RubricCriterion
from portal.proposals.models import Proposal

from . import scoring
from .enums import ACTIVE_ASSIGNMENT, ReviewState
from .models import CallFigures, CallReviewSettings, FiguresGeneration, ProposalFigures, Review, Score

DEFAULT_THRESHOLD = CallReviewSettings._meta.get_field("disagreement_threshold").default


@dataclass(frozen=True)
class Figures:
    """One proposal's figures. ``reviews``: (review id, reviewer id, weighted, calibrated), by submission time."""

    review_count: int = 0
    reviews: tuple[tuple[int, int, Decimal, Decimal], ...] = ()
    raw_mean: Decimal | None = None
    calibrated_mean: Decimal | None = None
    spread: Decimal | None = None
    disagreement: bool = False
    passes: bool | None = None


NO_FIGURES = Figures()


def counted_reviews(call_id: int):
    """The reviews the figures count: current, submitted, of an active assignment, of a submitted proposal."""
    return Review.objects.filter(
        assignment__proposal__call_id=call_id,
        assignment__proposal__current_version__isnull=False,
        assignment__status__in=ACTIVE_ASSIGNMENT,
        is_current=True,
        state=ReviewState.SUBMITTED,
    )


def _settings(call: Call) -> tuple[Decimal, list[tuple[int, Decimal, int | None]]]:
    threshold = CallReviewSettings.objects.filter(call=call).values_list("disagreement_threshold", flat=True).first()
    return (DEFAULT_THRESHOLD if threshold is None else threshold), _criteria(call)


def _criteria(call: Call) -> list[tuple[int, Decimal, int | None]]:
    return list(RubricCriterion.objects.filter(call=call).order_by("pk").values_list("pk", "weight", "min_to_pass"))


def _fingerprint(pass_mean: Decimal, threshold: Decimal, criteria: list[tuple[int, Decimal, int | None]]) -> str:
    text = repr((str(Decimal(pass_mean).normalize()), str(Decimal(threshold).normalize()), criteria))
    return hashlib.sha256(text.encode()).hexdigest()


def compute_figures(*, call: Call) -> dict[int, Figures]:
    """Every proposal of the call with a counted review, with its figures, worked out from the database now (three
    queries whatever the size). A submitted proposal missing here has none: :data:`NO_FIGURES`."""
    threshold, criteria = _settings(call)
    return _compute(call, threshold, criteria)


def _compute(call: Call, threshold: Decimal, criteria) -> dict[int, Figures]:
    weights = {pk: weight for pk, weight, _minimum in criteria}
    minimums = {pk: minimum for pk, _weight, minimum in criteria if minimum is not None}
    submitted = counted_reviews(call.pk)
    # Figures, not objects: a call has tens of thousands of reviews and scores.
    reviews = list(
        submitted.order_by("submitted_at", "pk").values_list("pk", "assignment__proposal_id", "assignment__reviewer_id")
    )
    scores: dict[int, dict[int, int | None]] = defaultdict(dict)
    for review_id, criterion_id, score in Score.objects.filter(review__in=submitted.values("pk")).values_list(
        "review_id", "criterion_id", "score"
    ):
        scores[review_id][criterion_id] = score
    weighted: dict[int, Decimal] = {}
    by_proposal: dict[int, list[tuple[int, int]]] = defaultdict(list)
    per_criterion: dict[int, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for review_id, proposal_id, reviewer_id in reviews:
        values = scores.get(review_id, {})
        value = scoring.weighted_score(values, weights)
        if value is None:  # an incomplete submitted review (rubric changed after submission)
            continue
        weighted[review_id] = value
        by_proposal[proposal_id].append((review_id, reviewer_id))
        for criterion_id, score in values.items():
            if score is not None:
                per_criterion[proposal_id][criterion_id].append(Decimal(score))
    calibrated = scoring.calibrate(
        (reviewer_id, review_id, weighted[review_id]) for rs in by_proposal.values() for review_id, reviewer_id in rs
    )
    out: dict[int, Figures] = {}
    for proposal_id, pairs in by_proposal.items():
        figures = tuple((r, u, weighted[r], calibrated[(u, r)]) for r, u in pairs)
        means = {c: scoring.mean(v) for c, v in per_criterion[proposal_id].items()}
        summary = scoring.proposal_scores(
            weighted=[f[2] for f in figures],
            calibrated=[f[3] for f in figures],
            criterion_means=means,
            minimums=minimums,
            pass_mean=call.pass_mean,
            threshold=threshold,
        )
        out[proposal_id] = Figures(
            review_count=len(figures),
            reviews=figures,
            raw_mean=summary.raw_mean,
            calibrated_mean=summary.calibrated_mean,
            spread=summary.spread,
            disagreement=summary.disagreement,
            passes=summary.passes,
        )
    return out


# ---- Stored figures -----------------------------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _stored(call_id: int, proposal_id: int, figures: Figures) -> ProposalFigures:
    return ProposalFigures(
        proposal_id=proposal_id,
        call_id=call_id,
        review_count=figures.review_count,
        # The columns order and filter in the database, to 28 decimal places; ``exact`` keeps the values as computed.
        raw_mean=figures.raw_mean,
        calibrated_mean=figures.calibrated_mean,
        spread=figures.spread,
        disagreement=figures.disagreement,
        passes=figures.passes,
        exact={
            "raw": _text(figures.raw_mean),
            "calibrated": _text(figures.calibrated_mean),
            "spread": _text(figures.spread),
            "reviews": [[r, u, str(w), str(c)] for r, u, w, c in figures.reviews],
        },
        weighted_scores=weighted_scores_text(figures),
    )


CENTS = Decimal("0.01")


def weighted_scores_text(figures: Figures) -> str:
    """The weighted scores of the counted reviews (by submission time), each to two decimals rounded half up,
    joined by spaces: ``"4.00 5.00"`` (stored with the figures for the committee's ranking export)."""
    return " ".join(str(Decimal(w).quantize(CENTS, rounding=ROUND_HALF_UP)) for _r, _u, w, _c in figures.reviews)


def stored_figures(row: ProposalFigures | None) -> Figures:
    """The figures a stored row holds, exactly as computed; ``None`` (no row): no counted review."""
    if row is None:
        return NO_FIGURES
    return figures_of(row.review_count, row.exact, row.disagreement, row.passes)


def figures_of(review_count: int | None, exact: dict | None, disagreement: bool | None, passes: bool | None) -> Figures:
    """The figures from a stored row's values (read as annotations of a proposal; all None: no row)."""
    if review_count is None:
        return NO_FIGURES
    exact = exact or {}
    return Figures(
        review_count=review_count,
        reviews=tuple((r, u, Decimal(w), Decimal(c)) for r, u, w, c in exact.get("reviews", ())),
        raw_mean=_number(exact.get("raw")),
        calibrated_mean=_number(exact.get("calibrated")),
        spread=_number(exact.get("spread")),
        disagreement=bool(disagreement),
        passes=passes,
    )


def figures_fresh(*, call: Call) -> None:
    """Make the call's stored figures current: two queries when they are (the stored and current generations with
    the disagreement threshold, then the rubric); otherwise they are recomputed once (a concurrent reader waits for
    that and finds them current)."""
    state = (
        Call.objects.filter(pk=call.pk)
        .annotate(
            stored=Subquery(CallFigures.objects.filter(call=OuterRef("pk")).values("generation")[:1]),
            stored_fingerprint=Subquery(CallFigures.objects.filter(call=OuterRef("pk")).values("fingerprint")[:1]),
            current=Subquery(FiguresGeneration.objects.filter(call=OuterRef("pk")).values("generation")[:1]),
            threshold=Subquery(
                CallReviewSettings.objects.filter(call=OuterRef("pk")).values("disagreement_threshold")[:1]
            ),
        )
        .values_list("stored", "stored_fingerprint", "current", "threshold")
        .first()
    )
    stored, stored_fingerprint, current, threshold = state or (None, None, None, None)
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    criteria = _criteria(call)
    fingerprint = _fingerprint(call.pass_mean, threshold, criteria)
    if stored is not None and stored == (current or 0) and stored_fingerprint == fingerprint:
        return
    _recompute(call, threshold, criteria, fingerprint)


@transaction.atomic
def _recompute(call: Call, threshold: Decimal, criteria, fingerprint: str) -> None:
    FiguresGeneration.objects.get_or_create(call=call)  # a row for writers to raise from now on
    CallFigures.objects.get_or_create(call=call)
    state = CallFigures.objects.select_for_update().get(call=call)
    # Read after the lock: every change committed up to this generation is visible to the reads below.
    generation = FiguresGeneration.objects.filter(call=call).values_list("generation", flat=True).get()
    if state.generation == generation and state.fingerprint == fingerprint:
        return  # another reader computed them while this one waited
    computed = _compute(call, threshold, criteria)
    ProposalFigures.objects.filter(call=call).delete()
    ProposalFigures.objects.bulk_create(
        (_stored(call.pk, proposal_id, figures) for proposal_id, figures in computed.items()), batch_size=1000
    )
    state.generation = generation
    state.fingerprint = fingerprint
    state.computed_at = timezone.now()
    state.save(update_fields=["generation", "fingerprint", "computed_at"])


def figures_invalidate(*, call_ids: Iterable[int]) -> None:
    """The inputs of these calls' figures changed (or are changing in this transaction): raise their generation.
    Call it in the same transaction as the change."""
    for call_id in sorted(set(call_ids)):
        raised = FiguresGeneration.objects.filter(call_id=call_id).update(generation=F("generation") + 1)
        if not raised:
            FiguresGeneration.objects.get_or_create(call_id=call_id)
            FiguresGeneration.objects.filter(call_id=call_id).update(generation=F("generation") + 1)


def figures_invalidate_for_assignments(assignments) -> None:
    """After a queryset change of these assignments (a queryset or ids): stale if any has a submitted review."""
    figures_invalidate(
        call_ids=Proposal.objects.filter(
            review_assignments__in=assignments, review_assignments__reviews__state=ReviewState.SUBMITTED
        )
        .values_list("call_id", flat=True)
        .distinct()
    )


def figures_invalidate_for_reviews(reviews) -> None:
    """After a change of these reviews' rows or scores (a queryset or ids): stale if any of them is submitted."""
    figures_invalidate(
        call_ids=Review.objects.filter(pk__in=reviews, state=ReviewState.SUBMITTED)
        .values_list("assignment__proposal__call_id", flat=True)
        .distinct()
    )
