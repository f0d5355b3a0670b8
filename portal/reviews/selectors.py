"""Reads on reviews: querysets with their joins made, and the ranking figures worked out in a fixed number of
queries whatever the number of proposals."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import chain

from django.db.models import BooleanField, Case, Count, DecimalField, F, Prefetch, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber

from portal.accounts.enums import Role
from portal.calls.models import Call
from portal.core.queries import FixedText, FormulaSafe, rows_as_read, yes_no_text
from portal.proposals.enums import DECIDED, ProposalState
from portal.proposals.models import Proposal

from . import scoring
from .conflicts import conflict_reason, conflicted_in_call_ids
from .enums import ACTIVE_ASSIGNMENT, ReviewState
from .figures import figures_fresh, figures_of
from .models import Assignment, CallReviewSettings, Review, ReviewerProfile, Score, SuggestedReviewer


def reviewer_profile_get(*, user) -> ReviewerProfile:
    """The reviewer's profile, or a new unsaved one with the defaults (no organisation, available, 6 per call)."""
    return ReviewerProfile.objects.filter(user=user).first() or ReviewerProfile(user=user)


FROZEN_STATES = frozenset({ProposalState.RECOMMENDED, ProposalState.NOT_RECOMMENDED}) | DECIDED


def reviews_frozen(*, proposal: Proposal) -> bool:
    """Once the committee has recommended (or not), or the proposal is decided, its reviews are what the
    recommendation rests on: none is reopened or re-scored (issue 9 point 4)."""
    return (
        Proposal.objects.filter(pk=proposal.pk)
        .filter(Q(state__in=FROZEN_STATES) | Q(recommendations__isnull=False))
        .exists()
    )


def review_deadline_for(*, assignment: Assignment) -> datetime | None:
    """When ``assignment``'s review must be submitted: the call's review deadline, or the later time the
    secretariat extended it to for this reviewer; ``None``: no deadline."""
    deadline = review_settings(call=assignment.proposal.call).review_deadline
    if deadline is None:
        return None
    if assignment.deadline_extended_to is not None:
        return max(deadline, assignment.deadline_extended_to)
    return deadline


def affiliation_changes_pending() -> QuerySet[ReviewerProfile]:
    """Reviewers' changes of organisation waiting for the secretariat, oldest account first."""
    return (
        ReviewerProfile.objects.filter(organisation_change_pending=True)
        .select_related("user", "organisation", "organisation_requested")
        .order_by("user__full_name", "pk")
    )


def review_settings(*, call: Call) -> CallReviewSettings:
    """The call's review settings, or the defaults (unsaved) when none were set."""
    return CallReviewSettings.objects.filter(call=call).first() or CallReviewSettings(call=call)


def reviewable_proposals(*, call: Call) -> QuerySet[Proposal]:
    """Submitted proposals of the call that are not decided and not withdrawn."""
    return (
        Proposal.objects.filter(call=call, current_version__isnull=False)
        .exclude(state=ProposalState.DRAFT)
        .exclude(state__in=DECIDED)
    )


def submitted_proposals(*, call: Call) -> QuerySet[Proposal]:
    """Every proposal of the call that has been submitted (whatever happened to it since)."""
    return Proposal.objects.filter(call=call, current_version__isnull=False)


def is_conflicted(*, user, proposal: Proposal) -> bool:
    return conflict_reason(user=user, proposal=proposal) is not None


def _current_review_prefetch() -> Prefetch:
    return Prefetch(
        "reviews",
        queryset=Review.objects.filter(is_current=True).prefetch_related("scores"),
        to_attr="current_reviews",
    )


# ---- Reviewers ----------------------------------------------------------------------------------------------


def assignments_for_reviewer(*, user) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(reviewer=user, status__in=ACTIVE_ASSIGNMENT)
        .select_related("proposal__call__review_settings", "proposal__organisation", "proposal__current_version")
        .prefetch_related(
            Prefetch("reviews", queryset=Review.objects.filter(is_current=True), to_attr="current_reviews")
        )
        .order_by("proposal__call__closes_at", "proposal__reference", "pk")
    )


def assignment_for(*, user, pk: int) -> QuerySet[Assignment]:
    """The reviewer's own active assignment; anything else is a 404."""
    return (
        Assignment.objects.filter(reviewer=user, status__in=ACTIVE_ASSIGNMENT, pk=pk)
        .select_related("proposal__call", "proposal__organisation", "proposal__current_version")
        .prefetch_related(
            "proposal__current_version__co_organisations",
            "proposal__current_version__attachments",
            "proposal__current_version__compute_requests__pool",
            "proposal__current_version__compute_requests__quarter",
        )
    )


def current_review(*, assignment: Assignment) -> Review | None:
    return (
        Review.objects.filter(assignment=assignment, is_current=True)
        .prefetch_related(Prefetch("scores", queryset=Score.objects.select_related("criterion")))
        .first()
    )


def has_submitted(*, assignment: Assignment) -> bool:
    return Review.objects.filter(assignment=assignment, state=ReviewState.SUBMITTED).exists()


def other_reviews(*, assignment: Assignment) -> list[Review]:
    """The other reviewers' submitted reviews of the proposal, for a reviewer who has submitted their own.
    Before that: nothing."""
    if not has_submitted(assignment=assignment):
        return []
    return list(
        Review.objects.filter(
            assignment__proposal_id=assignment.proposal_id,
            assignment__status__in=ACTIVE_ASSIGNMENT,
            is_current=True,
            state=ReviewState.SUBMITTED,
        )
        .exclude(assignment=assignment)
        .prefetch_related(Prefetch("scores", queryset=Score.objects.select_related("criterion")))
        .order_by("submitted_at", "pk")
    )


# ---- Secretariat --------------------------------------------------------------------------------------------


def call_assignment_overview(*, call: Call) -> QuerySet[Proposal]:
    return (
        submitted_proposals(call=call)
        .select_related("organisation")
        .prefetch_related(
            Prefetch(
                "review_assignments",
                queryset=Assignment.objects.select_related("reviewer").prefetch_related(
                    Prefetch("reviews", queryset=Review.objects.order_by("revision"), to_attr="all_reviews")
                ),
            )
        )
        .order_by("reference")
    )


def reviewer_loads(*, call: Call) -> list:
    """Reviewers with their number of active assignments in the call (``load``): two queries, the counts grouped
    by reviewer alone rather than by every column of every reviewer joined to every assignment (issue 14)."""
    from portal.accounts.models import User

    loads = dict(
        Assignment.objects.filter(proposal__call=call, status__in=list(ACTIVE_ASSIGNMENT))
        .order_by()
        .values_list("reviewer")
        .annotate(n=Count("pk"))
    )
    reviewers = list(
        User.objects.filter(role="reviewer", is_active=True)
        .select_related("reviewer_profile")
        .order_by("full_name", "pk")
    )
    for reviewer in reviewers:
        reviewer.load = loads.get(reviewer.pk, 0)
    return reviewers


# ---- Scores and ranking -------------------------------------------------------------------------------------


class _ReviewLoader:
    """The Review objects behind a ranking's figures, loaded in one go the first time a page asks for one (the
    committee's page of a proposal shows the reviews' texts; the ranking of a whole call needs only figures)."""

    def __init__(self, ids):
        self.ids = ids
        self.cache: dict[int, Review] | None = None

    def get(self, pk: int) -> Review:
        if self.cache is None:
            reviews = Review.objects.filter(pk__in=self.ids).select_related("assignment__reviewer")
            self.cache = {r.pk: r for r in reviews.prefetch_related("scores")}
        return self.cache[pk]


@dataclass
class ReviewFigures:
    review_id: int
    reviewer_id: int
    weighted: Decimal
    calibrated: Decimal
    loader: _ReviewLoader | None = field(default=None, repr=False, compare=False)

    @property
    def review(self) -> Review:
        return self.loader.get(self.review_id)


@dataclass
class RankingRow:
    proposal: Proposal
    conflicted: bool = False
    review_count: int | None = None
    reviews: list[ReviewFigures] = field(default_factory=list)
    raw_mean: Decimal | None = None
    calibrated_mean: Decimal | None = None
    spread: Decimal | None = None
    disagreement: bool = False
    passes: bool | None = None
    consensus: Decimal | None = None
    has_response: bool = False
    rank: int | None = None
    too_few_reviews: bool = False  # fewer submitted reviews than the call's minimum

    @property
    def score(self) -> Decimal | None:
        """What the committee ranks on: the consensus if recorded, else the calibrated mean."""
        return self.consensus if self.consensus is not None else self.calibrated_mean


def call_figures(*, call: Call, proposals: QuerySet[Proposal] | None = None) -> dict[int, RankingRow]:
    """Every submitted proposal of the call (or those of ``proposals``) with its figures, read from the stored
    figures (made current first: portal/reviews/figures.py). Calibration always uses every submitted review of the
    call, whatever subset is asked for."""
    figures_fresh(call=call)
    qs = proposals if proposals is not None else submitted_proposals(call=call)
    proposals_list = list(qs.select_related("organisation").annotate(**FIGURE_ANNOTATIONS))
    loader = _ReviewLoader([])
    rows = {proposal.pk: _ranking_row(proposal, call=call, loader=loader) for proposal in proposals_list}
    return rows


# A proposal's stored figures, consensus and response, joined as values (no object of each per row).
FIGURE_ANNOTATIONS = {
    "figures_count": F("ranking_figures__review_count"),
    "figures_exact": F("ranking_figures__exact"),
    "figures_disagreement": F("ranking_figures__disagreement"),
    "figures_passes": F("ranking_figures__passes"),
    "consensus_score": F("review_consensus__score"),
    "response_id": F("review_response__pk"),
}


def _ranking_row(proposal: Proposal, *, call: Call, loader: _ReviewLoader, rank: int | None = None) -> RankingRow:
    """A proposal read with :data:`FIGURE_ANNOTATIONS`: its stored figures, consensus and response joined."""
    figures = figures_of(
        proposal.figures_count, proposal.figures_exact, proposal.figures_disagreement, proposal.figures_passes
    )
    loader.ids.extend(review_id for review_id, *_rest in figures.reviews)
    return RankingRow(
        proposal=proposal,
        review_count=figures.review_count,
        reviews=[
            ReviewFigures(review_id=r, reviewer_id=u, weighted=w, calibrated=c, loader=loader)
            for r, u, w, c in figures.reviews
        ],
        raw_mean=figures.raw_mean,
        calibrated_mean=figures.calibrated_mean,
        spread=figures.spread,
        disagreement=figures.disagreement,
        passes=figures.passes,
        consensus=proposal.consensus_score,
        has_response=proposal.response_id is not None,
        rank=rank,
        too_few_reviews=figures.review_count < call.min_reviewers,
    )


def call_scores(*, call: Call) -> dict[int, Decimal | None]:
    """For each submitted proposal of the call: the committee's consensus score if recorded, else the calibrated
    mean (rounded to 0.01), else None when no review is submitted."""
    figures_fresh(call=call)
    scores = {}
    for pk, consensus, exact in submitted_proposals(call=call).values_list(
        "pk", "review_consensus__score", "ranking_figures__exact"
    ):
        calibrated = (exact or {}).get("calibrated")
        score = consensus if consensus is not None else (None if calibrated is None else Decimal(calibrated))
        scores[pk] = scoring.q2(score)
    return scores


SORT_KEYS = {
    "score": lambda r: r.score,
    "calibrated": lambda r: r.calibrated_mean,
    "raw": lambda r: r.raw_mean,
    "spread": lambda r: r.spread,
}
# The same orders in the database, on the stored figures (28 decimal places) and the consensus joined.
SORT_COLUMNS = {
    "score": Coalesce(
        "review_consensus__score",
        "ranking_figures__calibrated_mean",
        output_field=DecimalField(max_digits=32, decimal_places=28),
    ),
    "calibrated": F("ranking_figures__calibrated_mean"),
    "raw": F("ranking_figures__raw_mean"),
    "spread": F("ranking_figures__spread"),
}
assert set(SORT_COLUMNS) == set(SORT_KEYS)


RANKING_LEFT_OUT = (ProposalState.WITHDRAWN, ProposalState.INELIGIBLE)


@dataclass
class Ranking:
    """The ranking as queries, for a page of it or a streamed export.

    ``ranked``: the pks of the proposals the viewer is not conflicted on, best first, each with its ``rank`` among
    them (before the filters on figures), as ``(pk, rank)`` rows, narrow so that the database sorts little;
    ``visible``: the same proposals with everything a row shows (for a whole export); ``counted``: what the pages
    count; ``conflicted``: those the viewer is conflicted on, by reference, to be shown with nothing but their
    name. Slicing a :class:`Ranking` gives the rows of that slice (what a ``Paginator`` asks for)."""

    call: Call
    ranked: QuerySet
    visible: QuerySet[Proposal]
    counted: QuerySet[Proposal]
    conflicted: QuerySet[Proposal]
    rank_by_position: bool = False  # no filter on figures: a row's rank is its position
    hidden: frozenset[int] = frozenset()  # the proposals the viewer is conflicted on (``conflicted``'s pks)
    _pairs: list[tuple[int, int]] | None = field(default=None, repr=False)

    def count(self) -> int:
        if self.rank_by_position:
            return self.counted.count()
        return len(self._filtered())

    def _filtered(self) -> list[tuple[int, int]]:
        """With a filter on figures: every matching (pk, rank), read once (narrow) for both the count and a page,
        so that the rank window is worked out once per request."""
        if self._pairs is None:
            self._pairs = list(self.ranked.values_list("pk", "rank"))
        return self._pairs

    def __getitem__(self, index: slice) -> list[RankingRow]:
        if not isinstance(index, slice):
            raise TypeError("a Ranking is read a slice at a time")
        offset = index.start or 0
        if self.rank_by_position:
            pairs = [(pk, offset + i) for i, pk in enumerate(self.ranked.values_list("pk", flat=True)[index], 1)]
        else:
            pairs = self._filtered()[index]
        proposals = {p.pk: p for p in _row_proposals(Proposal.objects.filter(pk__in=[pk for pk, _r in pairs]))}
        loader = _ReviewLoader([])
        return [_ranking_row(proposals[pk], call=self.call, loader=loader, rank=rank) for pk, rank in pairs]

    def rows(self, proposals: Iterable[Proposal]) -> list[RankingRow]:
        """``visible`` proposals as rows with their figures."""
        loader = _ReviewLoader([])
        return [_ranking_row(p, call=self.call, loader=loader, rank=p.rank) for p in proposals]

    def conflicted_rows(self) -> list[RankingRow]:
        return [RankingRow(proposal=p, conflicted=True) for p in self.conflicted]

    def values(self) -> Iterator[tuple]:
        """Every row as values for the committee's CSV (``RANKING_CSV_HEADER`` of the views), visible ones first,
        read in the database's order with every cell made by it (numbers formatted, people's text made safe for a
        spreadsheet); then the conflicted ones with nothing but their name and the note."""
        visible = self.visible.values_list(
            "rank",
            "reference",
            FormulaSafe("title"),
            FormulaSafe("organisation__name"),
            Coalesce("ranking_figures__review_count", 0),  # no figures' row: no review counted
            "ranking_figures__weighted_scores",
            FixedText("ranking_figures__raw_mean", 2),
            FixedText("ranking_figures__calibrated_mean", 2),
            FixedText("ranking_figures__spread", 2),
            yes_no_text("ranking_figures__disagreement", none="no"),
            yes_no_text("ranking_figures__passes"),
            FixedText("review_consensus__score", 2),
            FixedText(SORT_COLUMNS["score"], 2),
            Case(When(review_response__isnull=True, then=Value("no")), default=Value("yes")),
            Value(""),
        )
        conflicted = self.conflicted.values_list(
            Value(""),
            "reference",
            FormulaSafe("title"),
            FormulaSafe("organisation__name"),
            *[Value("")] * 10,
            Value("conflict of interest"),
        )
        return chain(rows_as_read(visible), rows_as_read(conflicted))

    def stream(self, chunk_size: int = 2000) -> Iterator[RankingRow]:
        """Every row, visible ones first, read ``chunk_size`` proposals at a time."""
        chunk: list[Proposal] = []
        for proposal in self.visible.iterator(chunk_size=chunk_size):
            chunk.append(proposal)
            if len(chunk) == chunk_size:
                yield from self.rows(chunk)
                chunk = []
        yield from self.rows(chunk)
        yield from self.conflicted_rows()


def _row_proposals(qs: QuerySet[Proposal]) -> QuerySet[Proposal]:
    """What a ranking row shows of a proposal (not the applicant's draft), with its figures joined."""
    return qs.select_related("organisation").defer("draft").annotate(**FIGURE_ANNOTATIONS)


def call_ranking_query(
    *,
    call: Call,
    user,
    proposals: QuerySet[Proposal] | None = None,
    sort: str = "score",
    passes: bool | None = None,
    flagged: bool | None = None,
) -> Ranking:
    """The ranking page's rows, sorted, ranked, filtered and paged in the database: the stored figures are made
    current (portal/reviews/figures.py) and read with the consensus and response joined. A proposal the user is
    conflicted on (``conflicted_in_call_ids``, the rule of portal/reviews/conflicts.py) is taken out before anything is
    ranked, so it has no rank, is never filtered or ordered by a figure (its place would tell) and comes in
    ``conflicted`` with no figures. Withdrawn and ineligible proposals are left out."""
    figures_fresh(call=call)
    base = (proposals if proposals is not None else submitted_proposals(call=call)).exclude(state__in=RANKING_LEFT_OUT)
    # The viewer's conflicted proposals of the call, found from the viewer's few rows (one query), then left out.
    hidden = conflicted_in_call_ids(user=user, call_id=call.pk)
    allowed = base.exclude(pk__in=hidden)
    column = SORT_COLUMNS.get(sort, SORT_COLUMNS["score"])
    order = [column.desc(nulls_last=True), F("reference").asc(nulls_first=True), F("pk").asc()]
    ranked = allowed.annotate(rank=Window(RowNumber(), order_by=order))
    # Filters on figures come after the ranking: through the rank (a window), they are applied to the ranked rows.
    if passes is not None:
        ranked = ranked.annotate(
            ranked_passes=Case(When(rank__gt=0, then=F("ranking_figures__passes")), output_field=BooleanField())
        ).filter(ranked_passes=passes)
    if flagged is not None:
        ranked = ranked.annotate(
            ranked_flagged=Case(
                When(rank__gt=0, then=Coalesce("ranking_figures__disagreement", Value(False))),
                output_field=BooleanField(),
            )
        ).filter(ranked_flagged=flagged)
    by_position = passes is None and flagged is None
    conflicted = base.filter(pk__in=hidden).select_related("organisation").defer("draft").order_by("reference", "pk")
    return Ranking(
        call=call,
        # With no filter on figures the rank is the position: a plain ORDER BY ... LIMIT, no window to work out.
        ranked=allowed.order_by(*order) if by_position else ranked.order_by("rank"),
        visible=_row_proposals(ranked).order_by("rank"),
        counted=allowed if by_position else ranked,
        conflicted=conflicted,
        rank_by_position=by_position,
        hidden=frozenset(hidden),
    )


def call_ranking(
    *,
    call: Call,
    user,
    proposals: QuerySet[Proposal] | None = None,
    sort: str = "score",
    passes: bool | None = None,
    flagged: bool | None = None,
) -> list[RankingRow]:
    """Every row of the ranking (see :func:`call_ranking_query`), best first, the conflicted ones last."""
    ranking = call_ranking_query(call=call, user=user, proposals=proposals, sort=sort, passes=passes, flagged=flagged)
    return list(ranking.stream())


def proposal_figures(*, call: Call, proposal: Proposal) -> RankingRow:
    return call_figures(call=call, proposals=Proposal.objects.filter(pk=proposal.pk))[proposal.pk]


def committee_proposal(*, pk: int) -> QuerySet[Proposal]:
    return (
        Proposal.objects.filter(pk=pk, current_version__isnull=False)
        .select_related("call", "organisation", "current_version", "review_consensus", "review_response")
        .prefetch_related("current_version__co_organisations")
    )


# ---- Applicants ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewsStatus:
    all_in: bool
    completed_at: datetime | None
    response_closes_at: datetime | None


def reviews_status(*, proposal: Proposal) -> ReviewsStatus:
    """All reviews are in when at least the call's minimum number of reviewers are assigned and every active
    assignment has a submitted review. The response window runs from then for the call's number of days."""
    assignments = list(
        Assignment.objects.filter(proposal=proposal, status__in=ACTIVE_ASSIGNMENT).prefetch_related(
            Prefetch("reviews", queryset=Review.objects.filter(is_current=True), to_attr="current_reviews")
        )
    )
    current = [a.current_reviews[0] if a.current_reviews else None for a in assignments]
    all_in = len(assignments) >= max(proposal.call.min_reviewers, 1) and all(
        r is not None and r.state == ReviewState.SUBMITTED for r in current
    )
    if not all_in:
        return ReviewsStatus(False, None, None)
    completed = max(r.submitted_at for r in current)
    days = review_settings(call=proposal.call).response_days
    return ReviewsStatus(True, completed, completed + timedelta(days=days))


def applicant_feedback(*, proposal: Proposal) -> list[Review]:
    """The reviews' comments to the applicant, once all reviews are in (the template shows them anonymised)."""
    if not reviews_status(proposal=proposal).all_in:
        return []
    return list(
        Review.objects.filter(
            assignment__proposal=proposal,
            assignment__status__in=ACTIVE_ASSIGNMENT,
            is_current=True,
            state=ReviewState.SUBMITTED,
        ).order_by("submitted_at", "pk")
    )


def proposals_with_feedback(*, user) -> QuerySet[Proposal]:
    """The submitted proposals of the organisations ``user`` is an applicant of (issue 9 point 2: a reviewer
    affiliated with an organisation is not its applicant)."""
    return (
        Proposal.objects.filter(
            organisation__memberships__user=user,
            organisation__memberships__user__role=Role.APPLICANT,
            current_version__isnull=False,
        )
        .select_related("call")
        .order_by("-submitted_at", "-pk")
        .distinct()
    )


def suggested_reviewer_ids(*, proposal_ids) -> dict[int, set[int]]:
    """For each proposal, the reviewers the applicant suggested: linked directly, or by the email address the
    applicant gave (matched case-insensitively against reviewer accounts). Two queries."""
    from django.contrib.auth import get_user_model

    from portal.accounts.enums import Role

    out: dict[int, set[int]] = defaultdict(set)
    by_email: dict[str, set[int]] = defaultdict(set)
    for proposal_id, reviewer_id, email in SuggestedReviewer.objects.filter(proposal_id__in=proposal_ids).values_list(
        "proposal_id", "reviewer_id", "email"
    ):
        if reviewer_id:
            out[proposal_id].add(reviewer_id)
        if email:
            by_email[email.lower()].add(proposal_id)
    if by_email:
        users = get_user_model().objects.filter(role=Role.REVIEWER)
        query = Q()
        for email in by_email:
            query |= Q(email__iexact=email)
        for user_id, email in users.filter(query).values_list("pk", "email"):
            for proposal_id in by_email[email.lower()]:
                out[proposal_id].add(user_id)
    return dict(out)
