"""The review round: close it call-wide with what is missing per proposal; reviewers see their deadline; the
rebuttal window closes at the recommendation and the committee is told of a response; the ranking leaves out
withdrawn proposals and flags those short of reviews."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.accounts.enums import Role
from portal.notifications.models import Notification
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal
from portal.reviews import services
from portal.reviews.round import review_round
from portal.reviews.selectors import call_ranking
from tests.decisions.conftest import advance
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.reviews import CallReviewSettingsFactory, reviews_submitted, submitted_proposal

pytestmark = pytest.mark.django_db


def in_review(call, secretariat, member, title):
    proposal = submitted_proposal(call, organisation=OrganisationFactory(), title=title)
    return advance(proposal, S.IN_REVIEW, secretariat=secretariat, member=member)


def test_close_the_round_lists_what_is_missing_and_closes_the_ready(client, call, secretariat, member, reviewer):
    ready = in_review(call, secretariat, member, "Ready one")
    reviews_submitted(ready, secretariat=secretariat)
    short = in_review(call, secretariat, member, "Short one")
    services.assignment_create(proposal=short, reviewer=reviewer, actor=secretariat)
    rows = {row.proposal.pk: row for row in review_round(call=call)}
    assert rows[ready.pk].ready is True
    assert rows[ready.pk].missing == ["1 reviewer to assign"]
    assert rows[short.pk].missing == [
        "2 reviewers to assign",
        "Dr Reviewer One has not declared their interests",
        "0 of the minimum 2 reviews are in",
    ]
    client.force_login(secretariat)
    url = reverse("reviews:round", args=[call.pk])
    html = client.get(url).content.decode()
    assert "Dr Reviewer One has not declared their interests" in html
    response = client.post(url, follow=True)
    assert "The review of 1 proposals was closed; 1 remain in review." in response.content.decode()
    assert Proposal.objects.get(pk=ready.pk).state == S.REVIEWED
    assert Proposal.objects.get(pk=short.pk).state == S.IN_REVIEW


def test_close_the_round_is_for_the_secretariat(client, call, member):
    client.force_login(member)
    assert client.get(reverse("reviews:round", args=[call.pk])).status_code == 403


@pytest.mark.parametrize("n", [1, 5])
def test_round_page_query_count(client, call, secretariat, member, django_assert_max_num_queries, n):
    for i in range(n):
        reviews_submitted(in_review(call, secretariat, member, f"P{i}"), secretariat=secretariat, count=1)
    client.force_login(secretariat)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("reviews:round", args=[call.pk]))
    assert len(response.context["rows"]) == n


def test_reviewer_sees_the_deadline(client, call, secretariat, member, reviewer):
    deadline = timezone.now() + timedelta(days=10)
    CallReviewSettingsFactory(call=call, review_deadline=deadline)
    services.assignment_create(proposal=in_review(call, secretariat, member, "X"), reviewer=reviewer, actor=secretariat)
    client.force_login(reviewer)
    html = client.get(reverse("reviews:my_assignments")).content.decode()
    assert "Review deadline" in html
    assert timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") in html


def test_ranking_leaves_out_withdrawn_and_flags_too_few_reviews(call, secretariat, member):
    full = in_review(call, secretariat, member, "Full")
    reviews_submitted(full, secretariat=secretariat)
    thin = in_review(call, secretariat, member, "Thin")
    reviews_submitted(thin, secretariat=secretariat, count=1)
    gone = in_review(call, secretariat, member, "Gone")
    reviews_submitted(gone, secretariat=secretariat)
    Proposal.objects.filter(pk=gone.pk).update(state=S.WITHDRAWN)
    rows = {row.proposal.pk: row for row in call_ranking(call=call, user=secretariat)}
    assert set(rows) == {full.pk, thin.pk}
    assert (rows[full.pk].too_few_reviews, rows[thin.pk].too_few_reviews) == (False, True)


def test_rebuttal_closes_at_the_recommendation_and_the_committee_is_told(
    call, secretariat, member, django_capture_on_commit_callbacks
):
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    proposal = advance(
        submitted_proposal(call, organisation=OrganisationFactory()), S.REVIEWED, secretariat=secretariat, member=member
    )
    applicant = proposal.organisation.memberships.first().user
    with django_capture_on_commit_callbacks(execute=True):
        services.response_submit(proposal=proposal, user=applicant, text="We can start in 2026Q2.")
    told = Notification.objects.filter(user__in=[member, chair], url__contains=f"/proposals/{proposal.pk}/")
    assert sorted(n.user_id for n in told) == sorted([member.pk, chair.pk])
    other = advance(
        submitted_proposal(call, organisation=OrganisationFactory()),
        S.RECOMMENDED,
        secretariat=secretariat,
        member=member,
    )
    with pytest.raises(ValidationError) as refused:
        services.response_submit(proposal=other, user=other.organisation.memberships.first().user, text="Late.")
    assert refused.value.messages == ["The response window has closed: the committee has made its recommendation."]
