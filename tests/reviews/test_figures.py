"""Issue 14 goal 2: the ranking figures are computed once per change, stored, and read by pages, exports and reports.
After every kind of change the stored figures are what the reference computation gives now; the ranking read from
them in the database ranks, sorts and filters as the reference does, and a conflicted viewer still sees nothing of
a proposal: no figure, no place, no rank."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.paginator import Paginator
from django.utils import timezone

from portal.calls.models import Call, RubricCriterion
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.reviews import selectors, services
from portal.reviews.conflicts import conflicted_proposal_ids
from portal.reviews.enums import AssignmentStatus
from portal.reviews.figures import (
    NO_FIGURES,
    Figures,
    compute_figures,
    figures_fresh,
    stored_figures,
    weighted_scores_text,
)
from portal.reviews.models import Assignment, CallReviewSettings, Consensus, ProposalFigures, Score
from tests.factories import MembershipFactory, OrganisationFactory
from tests.factories.reviews import CollaborationFactory, ReviewerProfileFactory, submitted_proposal

from .conftest import scores_input

pytestmark = pytest.mark.integration


def stored(call: Call) -> dict:
    return {row.proposal_id: stored_figures(row) for row in ProposalFigures.objects.filter(call=call)}


def assert_current(call: Call) -> None:
    """What pages read (made current if stale) is exactly what the reference computes from the database now."""
    call.refresh_from_db()
    figures_fresh(call=call)
    reference = compute_figures(call=call)
    assert stored(call) == reference
    # the weighted scores as the committee's export writes them, stored with the figures
    assert dict(ProposalFigures.objects.filter(call=call).values_list("proposal_id", "weighted_scores")) == {
        pk: " ".join(f"{Decimal(w).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}" for _r, _u, w, _c in f.reviews)
        for pk, f in reference.items()
    }
    rows = selectors.call_figures(call=call)
    for pk, row in rows.items():
        expected = reference.get(pk, NO_FIGURES)
        assert (row.review_count, row.raw_mean, row.calibrated_mean, row.spread, row.disagreement, row.passes) == (
            expected.review_count,
            expected.raw_mean,
            expected.calibrated_mean,
            expected.spread,
            expected.disagreement,
            expected.passes,
        )
        assert [(f.review_id, f.weighted, f.calibrated) for f in row.reviews] == [
            (r, w, c) for r, _u, w, c in expected.reviews
        ]
        assert row.consensus == Consensus.objects.filter(proposal_id=pk).values_list("score", flat=True).first()


def test_weighted_scores_are_written_to_two_decimals_rounded_half_up():
    reviews = (
        (1, 7, Decimal("4.125"), Decimal(4)),
        (2, 8, Decimal("2.0049"), Decimal(2)),
        (3, 9, Decimal(5), Decimal(5)),
    )
    assert weighted_scores_text(Figures(review_count=3, reviews=reviews)) == "4.13 2.00 5.00"
    assert weighted_scores_text(NO_FIGURES) == ""


@pytest.fixture
def reviewers(db):
    return [ReviewerProfileFactory(user__full_name=f"Dr Reviewer {n}").user for n in range(4)]


@pytest.fixture
def proposals(call):
    return [submitted_proposal(call, title=f"Project {n}") for n in range(5)]


def test_stored_figures_follow_every_kind_of_change(call, proposals, reviewers, secretariat, member, assign):
    a, b, c, d, e = proposals
    r1, r2, r3, r4 = reviewers
    submitted = {}

    def submit(proposal, reviewer, *scores):
        assignment = Assignment.objects.filter(proposal=proposal, reviewer=reviewer).first() or assign(
            proposal, reviewer
        )
        submitted[(proposal.pk, reviewer.pk)] = services.review_submit(
            assignment=assignment, user=reviewer, data=scores_input(*scores)
        )
        return submitted[(proposal.pk, reviewer.pk)]

    assert_current(call)  # nothing reviewed: no figures
    for proposal, reviewer, scores in [
        (a, r1, (5, 4, 4, 5, 3)),
        (a, r2, (3, 3, 2, 4, 3)),
        (b, r1, (2, 2, 3, 2, 1)),
        (b, r3, (4, 5, 4, 4, 4)),
        (c, r2, (4, 4, 4, 4, 4)),
        (c, r3, (1, 2, 1, 2, 1)),
        (d, r4, (3, 3, 3, 3, 3)),
    ]:
        submit(proposal, reviewer, *scores)
        assert_current(call)  # a review submitted

    # A review reopened: it no longer counts; resubmitted with other scores, it counts again.
    services.review_reopen(review=submitted[(a.pk, r1.pk)], actor=secretariat, reason="Check the budget")
    assert_current(call)
    submit(a, r1, 2, 2, 2, 2, 2)
    assert_current(call)

    # A score of a submitted review changed (as the admin or a script would, with save()).
    score = Score.objects.filter(review=submitted[(b.pk, r3.pk)]).order_by("criterion__number").first()
    score.score = 0
    score.save()
    assert_current(call)

    # A conflict recorded on a reviewer who had submitted: the service removes the assignment with update().
    services.conflict_record(proposal=c, user=r3, reason="Co-author of the applicant", actor=secretariat)
    assert Assignment.objects.get(proposal=c, reviewer=r3).status == AssignmentStatus.CONFLICTED
    assert_current(call)

    # An assignment removed (saved).
    assignment = Assignment.objects.get(proposal=d, reviewer=r4)
    assignment.status = AssignmentStatus.REMOVED
    assignment.save(update_fields=["status"])
    assert_current(call)
    submit(e, r4, 5, 5, 5, 5, 5)
    assert_current(call)

    # The rubric's weights and minimums, the pass mark and the disagreement threshold, changed behind everyone's
    # back with update(): the settings' fingerprint sees them.
    first = RubricCriterion.objects.filter(call=call).order_by("number").first()
    RubricCriterion.objects.filter(pk=first.pk).update(weight=Decimal("60.00"), min_to_pass=4)
    assert_current(call)
    Call.objects.filter(pk=call.pk).update(pass_mean=Decimal("2.00"))
    assert_current(call)
    CallReviewSettings.objects.update_or_create(call=call, defaults={"disagreement_threshold": Decimal("0.10")})
    assert_current(call)
    CallReviewSettings.objects.filter(call=call).update(disagreement_threshold=Decimal("3.00"))
    assert_current(call)

    # A consensus: joined when read, the stored figures unchanged.
    services.committee_declare(proposal=b, user=member, conflicted=False, reason="")
    services.consensus_record(proposal=b, user=member, score=Decimal("4.80"), rationale="Strong", feedback="Good.")
    assert_current(call)
    assert selectors.call_scores(call=call)[b.pk] == Decimal("4.80")
    assert selectors.proposal_figures(call=call, proposal=b).score == Decimal("4.80")


def test_figures_are_computed_once_then_read(call, proposals, reviewers, review, django_assert_num_queries):
    review(proposals[0], reviewers[0], 4)
    figures_fresh(call=call)
    computed_at = call_figures_state(call)
    with django_assert_num_queries(2):  # the generations with the threshold, then the rubric: nothing computed
        figures_fresh(call=call)
    assert call_figures_state(call) == computed_at
    review(proposals[1], reviewers[0], 2)
    figures_fresh(call=call)
    assert call_figures_state(call) > computed_at


def test_a_draft_saved_leaves_the_figures_current(call, proposals, reviewers, review, assign):
    review(proposals[0], reviewers[0], 4)
    figures_fresh(call=call)
    computed_at = call_figures_state(call)
    assignment = assign(proposals[1], reviewers[1])
    services.review_save(assignment=assignment, user=reviewers[1], data=scores_input(3, 3, 3, 3, 3))
    figures_fresh(call=call)
    assert call_figures_state(call) == computed_at


def call_figures_state(call):
    from portal.reviews.models import CallFigures

    return CallFigures.objects.get(call=call).computed_at


# ---- The ranking read from the stored figures -------------------------------------------------------------------


def reference_ranking(call, user, *, sort="score", passes=None, flagged=None) -> list[tuple]:
    """The ranking as it was worked out in Python before the figures were stored: (reference, rank, score)."""
    figures = compute_figures(call=call)
    proposals = list(
        selectors.submitted_proposals(call=call)
        .exclude(state__in=selectors.RANKING_LEFT_OUT)
        .select_related("review_consensus")
    )
    hidden = conflicted_proposal_ids(user=user, proposal_ids=[p.pk for p in proposals])
    rows = []
    for p in proposals:
        if p.pk in hidden:
            continue
        f = figures.get(p.pk, NO_FIGURES)
        consensus = getattr(p, "review_consensus", None)
        score = consensus.score if consensus else f.calibrated_mean
        key = {"score": score, "calibrated": f.calibrated_mean, "raw": f.raw_mean, "spread": f.spread}[sort]
        rows.append([key, p.reference, f, score])
    rows.sort(key=lambda r: (r[0] is None, -(r[0] or 0), r[1] or ""))
    ranked = [(ref, rank, score, f) for rank, (_key, ref, f, score) in enumerate(rows, start=1)]
    if passes is not None:
        ranked = [r for r in ranked if r[3].passes is passes]
    if flagged is not None:
        ranked = [r for r in ranked if r[3].disagreement is flagged]
    conflicted = sorted(p.reference for p in proposals if p.pk in hidden)
    return [(ref, rank, score) for ref, rank, score, _f in ranked] + [(ref, None, None) for ref in conflicted]


@pytest.fixture
def conflicted_call(call, reviewers, secretariat, member, review):
    """Nine proposals with varied reviews; the committee member is conflicted on four of them, one of each kind
    (own organisation, a co-applicant's organisation, a recent collaboration, a recorded conflict); one is
    withdrawn."""
    own, co, collaborated = OrganisationFactory(), OrganisationFactory(), OrganisationFactory()
    MembershipFactory(user=member, organisation=own)
    CollaborationFactory(user=member, organisation=collaborated, last_year=timezone.localtime().year - 1)
    proposals = [
        submitted_proposal(call, title="Own organisation", organisation=own),
        submitted_proposal(call, title="Co-applicant", co_organisations=[co]),
        submitted_proposal(call, title="Collaborated", organisation=collaborated),
        submitted_proposal(call, title="Recorded conflict"),
        *[submitted_proposal(call, title=f"Free {n}") for n in range(5)],
    ]
    MembershipFactory(user=member, organisation=co)
    services.conflict_record(proposal=proposals[3], user=member, reason="Adviser", actor=secretariat)
    pattern = [(5, 4), (2, 5), (3, 3), (4, 1), (1, 2), (5, 5), (3, 4), (0, 1)]
    for i, (proposal, (x, y)) in enumerate(zip(proposals, pattern, strict=False)):
        review(proposal, reviewers[i % 4], x)
        review(proposal, reviewers[(i + 1) % 4], y)
    # the last proposal has no review; one proposal is withdrawn
    Proposal.objects.filter(pk=proposals[6].pk).update(state=ProposalState.WITHDRAWN)
    return proposals


@pytest.mark.parametrize("sort", ["score", "calibrated", "raw", "spread"])
@pytest.mark.parametrize(
    ("passes", "flagged"), [(None, None), (True, None), (False, None), (None, True), (None, False)]
)
def test_ranking_in_the_database_is_the_reference_ranking(call, member, conflicted_call, sort, passes, flagged):
    services.committee_declare(proposal=conflicted_call[4], user=member, conflicted=False, reason="")
    services.consensus_record(
        proposal=conflicted_call[4], user=member, score=Decimal("4.90"), rationale="Better", feedback="Good."
    )
    rows = selectors.call_ranking(call=call, user=member, sort=sort, passes=passes, flagged=flagged)
    assert [(r.proposal.reference, r.rank, r.score) for r in rows] == reference_ranking(
        call, member, sort=sort, passes=passes, flagged=flagged
    )


def test_conflicted_viewer_gets_no_figure_place_or_rank(call, member, conflicted_call):
    hidden = conflicted_proposal_ids(user=member, proposal_ids=[p.pk for p in conflicted_call])
    assert hidden == {p.pk for p in conflicted_call[:4]}
    for options in ({}, {"sort": "raw"}, {"passes": True}, {"passes": False}, {"flagged": True}, {"flagged": False}):
        rows = selectors.call_ranking(call=call, user=member, **options)
        visible = [r for r in rows if not r.conflicted]
        assert {r.proposal.pk for r in rows if r.conflicted} == hidden
        assert not {r.proposal.pk for r in visible} & hidden
        for row in rows:
            if row.conflicted:
                assert (row.rank, row.review_count, row.reviews, row.raw_mean, row.calibrated_mean, row.spread) == (
                    None,
                    None,
                    [],
                    None,
                    None,
                    None,
                )
                assert (row.passes, row.disagreement, row.consensus) == (None, False, None)
        # the conflicted ones come last, by reference, whatever the order asked for
        assert [r.proposal.reference for r in rows[len(visible) :]] == sorted(p.reference for p in conflicted_call[:4])
    # Ranks are over the proposals the viewer may see: 1, 2, 3, ... with no gap where a hidden one would be.
    ranks = [r.rank for r in selectors.call_ranking(call=call, user=member) if not r.conflicted]
    assert ranks == list(range(1, len(ranks) + 1))


@pytest.mark.parametrize(
    "options", [{}, {"sort": "spread"}, {"passes": True}, {"passes": False, "sort": "raw"}, {"flagged": False}]
)
def test_ranking_pages_cut_the_whole_ranking(call, member, conflicted_call, options):
    whole = [(r.proposal.pk, r.rank, r.score) for r in selectors.call_ranking(call=call, user=member, **options)]
    paginator = Paginator(selectors.call_ranking_query(call=call, user=member, **options), 2)
    paged = [(r.proposal.pk, r.rank, r.score) for n in paginator.page_range for r in paginator.page(n)]
    assert paginator.count == len(paged)
    assert paged == [row for row in whole if row[1] is not None]
