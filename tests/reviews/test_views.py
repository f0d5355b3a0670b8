import csv
import io

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.proposals.models import Proposal
from portal.reviews import selectors, services
from portal.reviews.models import Review
from tests.factories import UserFactory
from tests.factories.reviews import ExpertiseTagFactory, ReviewerProfileFactory, submitted_proposal

pytestmark = pytest.mark.integration


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


# ---- Reviewer ------------------------------------------------------------------------------------------------


def test_reviewer_before_declaring_sees_only_title_organisations_summary(client, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer, declare=False)
    client.force_login(reviewer)
    page = client.get(reverse("reviews:assignment", args=[assignment.pk])).content.decode()
    assert "Cantonese large language model" in page
    assert "Train a 70B Cantonese model." in page
    assert "University of Hong Kong" in page
    assert "Continued pre-training" not in page  # technical approach
    assert "technical.pdf" not in page
    review_page = client.get(reverse("reviews:review", args=[assignment.pk]))
    assert review_page.status_code == 302
    attachment = proposal.current_version.attachments.get()
    assert client.get(reverse("reviews:attachment", args=[assignment.pk, attachment.pk])).status_code == 404


def test_reviewer_after_declaring_no_conflict_sees_everything(client, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer, declare=False)
    client.force_login(reviewer)
    response = client.post(reverse("reviews:assignment", args=[assignment.pk]), {"declaration": "no"})
    assert response.status_code == 302
    page = client.get(reverse("reviews:assignment", args=[assignment.pk])).content.decode()
    assert "Continued pre-training" in page
    attachment = proposal.current_version.attachments.get()
    download = client.get(reverse("reviews:attachment", args=[assignment.pk, attachment.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")


def test_reviewer_declaring_conflict_without_reason_keeps_the_choice(client, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer, declare=False)
    client.force_login(reviewer)
    response = client.post(reverse("reviews:assignment", args=[assignment.pk]), {"declaration": "yes", "reason": ""})
    assert response.status_code == 422
    assert "Say what the conflict is." in response.content.decode()


def test_reviewer_cannot_open_someone_elses_assignment(client, proposal, reviewer, reviewer2, assign):
    assignment = assign(proposal, reviewer)
    client.force_login(reviewer2)
    assert client.get(reverse("reviews:assignment", args=[assignment.pk])).status_code == 404
    assert client.get(reverse("reviews:review", args=[assignment.pk])).status_code == 404


def test_reviewer_never_sees_other_scores_before_submitting(client, proposal, reviewer, reviewer2, assign, review):
    review(proposal, reviewer2, 1)  # another reviewer scored 1 everywhere, with "Comment 1" etc.
    mine = assign(proposal, reviewer)
    client.force_login(reviewer)
    page = client.get(reverse("reviews:review", args=[mine.pk])).content.decode()
    assert "The other reviews" not in page
    assert "Strong team." not in page
    services.review_submit(
        assignment=mine,
        user=reviewer,
        data=services.ReviewInput(
            scores=dict.fromkeys(range(1, 6), (4, "")), recommendation="fund", comments_applicant="Fine"
        ),
    )
    page = client.get(reverse("reviews:review", args=[mine.pk])).content.decode()
    assert "The other reviews" in page
    assert "Other reviewer 1" in page
    assert "Dr Reviewer Two" not in page


def test_review_form_bad_input_keeps_what_was_typed(client, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer)
    client.force_login(reviewer)
    data = {
        "score_1": "6",
        "comment_1": "Very aligned with local needs",
        "score_2": "3",
        "comments_committee": "Confidential remark",
        "action": "save",
    }
    response = client.post(reverse("reviews:review", args=[assignment.pk]), data)
    page = response.content.decode()
    assert response.status_code == 422
    assert "A score runs from 0 to 5; 6 is not on the scale." in page
    assert "Very aligned with local needs" in page
    assert "Confidential remark" in page
    assert Review.objects.count() == 0


def test_review_form_submit_missing_parts_saves_draft_and_shows_errors(client, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer)
    client.force_login(reviewer)
    data = {"score_1": "4", "comment_1": "Good", "action": "submit"}
    response = client.post(reverse("reviews:review", args=[assignment.pk]), data)
    page = response.content.decode()
    assert response.status_code == 422
    assert "Give a score from 0 to 5." in page
    assert "Write your comments to the applicant." in page
    review = Review.objects.get()
    assert (review.state, review.scores.get(criterion__number=1).score) == ("draft", 4)


def test_my_assignments_query_count_constant(client, django_assert_num_queries, call, reviewer, assign):
    client.force_login(reviewer)
    assign(submitted_proposal(call), reviewer)
    with django_assert_num_queries(5):
        assert client.get(reverse("reviews:my_assignments")).status_code == 200
    for _ in range(3):
        assign(submitted_proposal(call), reviewer)
    with django_assert_num_queries(5):
        assert client.get(reverse("reviews:my_assignments")).status_code == 200


# ---- Applicant -----------------------------------------------------------------------------------------------


def test_applicant_reads_anonymised_comments_once_all_reviews_are_in(client, proposal, reviewer, reviewer2, review):
    applicant = proposal.organisation.memberships.get().user
    client.force_login(applicant)
    url = reverse("reviews:feedback", args=[proposal.pk])
    review(proposal, reviewer, 4)
    page = client.get(url).content.decode()
    assert "Clear plan." not in page
    review(proposal, reviewer2, 2)
    page = client.get(url).content.decode()
    assert page.count("Clear plan.") == 2
    assert "Dr Reviewer One" not in page
    assert "Dr Reviewer Two" not in page
    assert "Strong team." not in page  # confidential comments
    assert "4.00" not in page
    response = client.post(url, {"text": "We accept the comments."})
    assert response.status_code == 302
    assert "We accept the comments." in client.get(url).content.decode()


def test_applicant_cannot_see_other_organisations_feedback(client, call, proposal):
    other = submitted_proposal(call)
    client.force_login(other.organisation.memberships.get().user)
    assert client.get(reverse("reviews:feedback", args=[proposal.pk])).status_code == 404


def test_applicant_cannot_open_committee_or_reviewer_pages(client, call, proposal):
    client.force_login(proposal.organisation.memberships.get().user)
    assert client.get(reverse("reviews:ranking", args=[call.pk])).status_code == 403
    assert client.get(reverse("reviews:committee_proposal", args=[proposal.pk])).status_code == 403
    assert client.get(reverse("reviews:my_assignments")).status_code == 403


# ---- Committee -----------------------------------------------------------------------------------------------


@pytest.fixture
def scored_call(call, reviewer, reviewer2, review):
    """Two proposals, both reviewed by the two reviewers."""
    first = submitted_proposal(call, title="First project")
    second = submitted_proposal(call, title="Second project")
    review(first, reviewer, 4)
    review(second, reviewer, 2)
    review(first, reviewer2, 5)
    review(second, reviewer2, 3)
    return first, second


def test_ranking_shows_raw_and_calibrated_in_order(client, call, member, scored_call):
    first, second = scored_call
    client.force_login(member)
    rows = _csv(client.get(reverse("reviews:ranking_csv", args=[call.pk])))
    assert rows[0][:9] == [
        "rank",
        "reference",
        "title",
        "organisation",
        "reviews",
        "weighted_scores",
        "raw_mean",
        "calibrated_mean",
        "spread",
    ]
    assert [r[:3] + r[4:9] for r in rows[1:]] == [
        ["1", first.reference, "First project", "2", "4.00 5.00", "4.50", "4.62", "1.00"],
        ["2", second.reference, "Second project", "2", "2.00 3.00", "2.50", "2.38", "1.00"],
    ]


def test_conflicted_committee_member_sees_no_score_anywhere(client, call, member, secretariat, scored_call):
    first, second = scored_call
    services.conflict_record(proposal=first, user=member, reason="Adviser to the applicant", actor=secretariat)
    client.force_login(member)

    page = client.get(reverse("reviews:ranking", args=[call.pk])).content.decode()
    ranked = page.split("Proposals on which you have a conflict of interest")[0]
    assert first.reference not in ranked
    assert "1 proposal" in ranked
    assert "4.50" not in page
    assert "4.00" not in page

    # Filtering by a score must not reveal it either.
    for query in ("passes=yes", "passes=no", "flagged=yes", "flagged=no", "sort=raw"):
        page = client.get(reverse("reviews:ranking", args=[call.pk]) + "?" + query).content.decode()
        assert page.count(first.reference) == 1  # only in the conflicts list

    Proposal.objects.filter(pk=first.pk).update(title="=1+1")  # the conflicted rows' text is made safe too
    rows = _csv(client.get(reverse("reviews:ranking_csv", args=[call.pk])))
    conflicted_row = next(r for r in rows if r[1] == first.reference)
    assert conflicted_row[2] == "'=1+1"
    assert conflicted_row[4:14] == [""] * 10
    assert conflicted_row[14] == "conflict of interest"
    assert next(r for r in rows if r[1] == second.reference)[0] == "1"

    detail = client.get(reverse("reviews:committee_proposal", args=[first.pk])).content.decode()
    assert "You have a conflict of interest on this proposal" in detail
    assert "4.50" not in detail
    assert "Dr Reviewer One" not in detail
    assert "Strong team." not in detail


def test_committee_member_declares_before_seeing_reviews(client, call, member, scored_call):
    first, _second = scored_call
    client.force_login(member)
    url = reverse("reviews:committee_proposal", args=[first.pk])
    page = client.get(url).content.decode()
    assert "Declare your interests" in page
    assert "Strong team." not in page
    client.post(url, {"action": "declare", "declaration": "no"})
    page = client.get(url).content.decode()
    assert "Strong team." in page
    assert "Record the consensus" in page


def test_committee_member_declaring_conflict_then_sees_nothing(client, call, member, scored_call):
    first, _second = scored_call
    client.force_login(member)
    url = reverse("reviews:committee_proposal", args=[first.pk])
    client.post(url, {"action": "declare", "declaration": "yes", "reason": "Former employer"})
    assert "You have a conflict of interest" in client.get(url).content.decode()
    assert (
        first.reference
        not in client.get(reverse("reviews:ranking", args=[call.pk]))
        .content.decode()
        .split("Proposals on which you have a conflict of interest")[0]
    )


def test_consensus_form_requires_rationale_when_far_off(client, call, member, scored_call):
    first, _second = scored_call
    client.force_login(member)
    url = reverse("reviews:committee_proposal", args=[first.pk])
    client.post(url, {"action": "declare", "declaration": "no"})
    response = client.post(url, {"action": "consensus", "score": "2.00", "rationale": "", "feedback": "Good"})
    assert response.status_code == 422
    assert "give the rationale" in response.content.decode()


def _make_call_rows(call, reviewer, reviewer2, review, n):
    for i in range(n):
        p = submitted_proposal(call, title=f"Project {i}")
        review(p, reviewer, 3 + i % 3)
        review(p, reviewer2, 2 + i % 2)


def _fetch(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    return response.getvalue()  # a streamed CSV is read (and its queries run) here


def test_ranking_query_count_constant(client, django_assert_num_queries, call, member, reviewer, reviewer2, review):
    """Issue 14: the figures are computed once after a change (a fixed number of queries more), then read."""
    client.force_login(member)
    url = reverse("reviews:ranking", args=[call.pk])
    _make_call_rows(call, reviewer, reviewer2, review, 1)
    _fetch(client, url)  # the first computation (its state rows are made)
    with django_assert_num_queries(12):
        _fetch(client, url)
    _make_call_rows(call, reviewer, reviewer2, review, 4)
    with django_assert_num_queries(12 + 11):  # stale: recomputed and stored once
        _fetch(client, url)
    with django_assert_num_queries(12):
        _fetch(client, url)


# The committee's CSV sent again as it was kept (portal/reports/snapshots.py): the request's own queries, the
# figures checked current (two), the viewer's conflicts, the exports' generation, the kept export.
RANKING_CSV_SENT_AGAIN = 9
# Read afresh (a search): the request's, the figures', the conflicts' and the rows' queries.
RANKING_CSV_FRESH = 8
# Read and kept (nothing kept for this generation): the generation, the kept export looked for, then the older
# snapshots and this one's dropped, this one written (a savepoint), and the changes counted.
RANKING_CSV_KEPT = RANKING_CSV_FRESH + 7


@pytest.mark.parametrize("query", ["", "?passes=yes&sort=spread"])
def test_ranking_csv_query_count_constant(
    client, django_assert_num_queries, call, member, reviewer, reviewer2, review, query
):
    client.force_login(member)
    url = reverse("reviews:ranking_csv", args=[call.pk]) + query
    _make_call_rows(call, reviewer, reviewer2, review, 1)
    first = _fetch(client, url)  # the figures computed the first time (their state rows made)
    with django_assert_num_queries(RANKING_CSV_SENT_AGAIN):
        assert _fetch(client, url) == first
    _make_call_rows(call, reviewer, reviewer2, review, 4)
    with django_assert_num_queries(RANKING_CSV_KEPT + 11):  # stale: recomputed and stored once, read and kept
        changed = _fetch(client, url)
    assert changed != first
    with django_assert_num_queries(RANKING_CSV_SENT_AGAIN):
        assert _fetch(client, url) == changed
    with django_assert_num_queries(RANKING_CSV_FRESH):  # a search is read afresh every time
        assert _fetch(client, url + ("&" if query else "?") + "q=Project")


def test_call_assignments_query_count_constant(client, django_assert_num_queries, call, secretariat, reviewer, assign):
    client.force_login(secretariat)
    url = reverse("reviews:call_assignments", args=[call.pk])
    assign(submitted_proposal(call), reviewer)
    with django_assert_num_queries(
        15
    ):  # 10, the reviewers' loads, the second factor's device, the proposals withheld, the tags, the pages
        assert client.get(url).status_code == 200
    for _ in range(3):
        assign(submitted_proposal(call), ReviewerProfileFactory().user)
    with django_assert_num_queries(
        15
    ):  # 10, the reviewers' loads, the second factor's device, the proposals withheld, the tags, the pages
        assert client.get(url).status_code == 200


def test_secretariat_reopens_a_review_from_the_page(client, call, proposal, secretariat, reviewer, review):
    submitted = review(proposal, reviewer, 4)
    client.force_login(secretariat)
    response = client.post(reverse("reviews:reopen", args=[submitted.pk]), {"reason": "Inconsistent"})
    assert response.status_code == 302
    assert list(Review.objects.order_by("revision").values_list("revision", "state", "is_current")) == [
        (1, "submitted", False),
        (2, "draft", True),
    ]


def test_secretariat_runs_automatic_assignment_from_the_page(client, call, proposal, secretariat):
    ReviewerProfileFactory()
    client.force_login(secretariat)
    response = client.post(reverse("reviews:auto_assign", args=[call.pk]), follow=True)
    page = response.content.decode()
    assert "1 reviewers were assigned." in page
    assert "Proposals that could not be fully assigned" in page
    assert proposal.reference in page


def test_reviewer_cannot_reach_ranking(client, call, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("reviews:ranking", args=[call.pk])).status_code == 403
    assert client.get(reverse("reviews:ranking_csv", args=[call.pk])).status_code == 403


def test_auditor_sees_ranking(client, call, scored_call):
    client.force_login(UserFactory(role="auditor"))
    assert client.get(reverse("reviews:ranking", args=[call.pk])).status_code == 200


def test_profile_page_saves_through_the_service_and_keeps_bad_input(client, reviewer, secretariat):
    tag = ExpertiseTagFactory(name="Medical imaging")
    client.force_login(reviewer)
    assert "Medical imaging" in client.get(reverse("reviews:profile")).content.decode()

    bad = client.post(reverse("reviews:profile"), {"expertise": [tag.pk], "max_per_call": "500", "available": "on"})
    good = client.post(reverse("reviews:profile"), {"expertise": [tag.pk], "max_per_call": "3", "available": "on"})

    assert bad.status_code == 422
    assert "Ensure this value is less than or equal to 100." in bad.content.decode()
    assert good.status_code == 302
    profile = reviewer.reviewer_profile
    profile.refresh_from_db()
    assert (profile.max_per_call, list(profile.expertise.all())) == (3, [tag])
    assert AuditEvent.objects.latest("seq").action == "reviewer_profile.save"
    client.force_login(secretariat)
    assert client.get(reverse("reviews:profile")).status_code == 403


def test_call_assignments_come_a_page_at_a_time_with_a_search(
    client, django_assert_num_queries, call, secretariat, reviewer, assign, monkeypatch
):
    """Issue 14: a whole call's assignments are thousands of rows; the page shows PAGE_SIZE of them, in a fixed number
    of queries, and finds a proposal by reference or title."""
    monkeypatch.setattr("portal.reviews.views.PAGE_SIZE", 2)
    proposals = [submitted_proposal(call, title=f"Typhoon model {n}") for n in range(5)]
    for proposal in proposals:
        assign(proposal, reviewer)
    client.force_login(secretariat)
    url = reverse("reviews:call_assignments", args=[call.pk])

    with django_assert_num_queries(15):  # as for one page
        first = client.get(url).content.decode()
    last = client.get(url, {"page": "3"}).content.decode()
    found = client.get(url, {"q": proposals[3].reference}).content.decode()

    def row(proposal):  # the proposal's row in the table (the assign form lists every proposal)
        return f'href="{reverse("reviews:committee_proposal", args=[proposal.pk])}"'

    ordered = sorted(proposals, key=lambda p: p.reference)
    assert "Page 1 of 3" in first
    assert row(ordered[0]) in first
    assert row(ordered[2]) not in first
    assert "Page 3 of 3" in last
    assert row(ordered[4]) in last
    assert row(ordered[0]) not in last
    assert row(proposals[3]) in found
    assert row(proposals[0]) not in found
    assert client.get(url, {"page": "abc"}).status_code == 200  # a hostile page number gives the first page


def test_ranking_comes_a_page_at_a_time(client, call, scored_call, monkeypatch):
    monkeypatch.setattr("portal.reviews.views.PAGE_SIZE", 1)
    client.force_login(UserFactory(role="auditor"))
    url = reverse("reviews:ranking", args=[call.pk])
    first = client.get(url).content.decode()
    second = client.get(url, {"page": "2"}).content.decode()
    assert "Page 1 of" in first
    assert "showing 1\u20131" in first
    assert "Page 2 of" in second
    assert "showing 2\u20132" in second


def test_a_reviewer_is_assigned_by_typing_the_proposal_reference(client, call, proposal, secretariat, reviewer):
    """The assign form takes the proposal's reference (a call has thousands: no list of them all on the page)."""
    client.force_login(secretariat)
    url = reverse("reviews:assign", args=[call.pk])
    page = client.get(reverse("reviews:call_assignments", args=[call.pk])).content.decode()
    assert f'<option value="{proposal.pk}"' not in page

    wrong = client.post(url, {"proposal": "AISS-1999-9999", "reviewer": reviewer.pk})
    right = client.post(url, {"proposal": f"  {proposal.reference.lower()} ", "reviewer": reviewer.pk})

    assert wrong.status_code == 422
    assert "No proposal of this call open for review has that reference." in wrong.content.decode()
    assert 'value="AISS-1999-9999"' in wrong.content.decode()
    assert right.status_code == 302
    assert proposal.review_assignments.get().reviewer == reviewer


def test_reviewer_loads_count_active_assignments_in_this_call_only(client, call, secretariat, assign):
    from tests.factories.calls import open_call

    busy = ReviewerProfileFactory(user__full_name="A Busy").user
    ReviewerProfileFactory(user__full_name="B Idle")
    for _ in range(3):
        assign(submitted_proposal(call), busy)
    assign(submitted_proposal(call), busy, declare=False)  # pending: counts
    declined = assign(submitted_proposal(call), busy, declare=False)
    services.assignment_declare(assignment=declined, user=busy, conflicted=True, reason="Co-author")  # not active
    assign(submitted_proposal(open_call(reference="AISS-2099-01")), busy)  # another call
    client.force_login(secretariat)

    page = client.get(reverse("reviews:call_assignments", args=[call.pk])).content.decode()

    loads = {r.full_name: r.load for r in selectors.reviewer_loads(call=call)}
    assert (loads["A Busy"], loads["B Idle"]) == (4, 0)
    assert '<th scope="row">A Busy</th><td class="num">4</td>' in page
    assert '<th scope="row">B Idle</th><td class="num">0</td>' in page
