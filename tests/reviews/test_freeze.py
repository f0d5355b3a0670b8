"""Issue 9 point 4: reviews freeze. No review is submitted after the review deadline unless the secretariat extends
it for that reviewer (audited); once the committee has recommended, or the proposal is decided, no review is
reopened or re-scored."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.reviews import services
from portal.reviews.enums import ReviewState
from portal.reviews.models import Review
from tests.factories.decisions import RecommendationFactory
from tests.factories.reviews import CallReviewSettingsFactory

from .conftest import scores_input

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def deadline(call):
    when = timezone.now() - timedelta(hours=1)
    CallReviewSettingsFactory(call=call, review_deadline=when)
    return when


def test_no_review_is_submitted_after_the_deadline(proposal, reviewer, assign, deadline):
    assignment = assign(proposal, reviewer)

    with pytest.raises(ValidationError, match="The review deadline"):
        services.review_submit(assignment=assignment, user=reviewer, data=scores_input(4, 4, 4, 4, 4))
    assert not Review.objects.filter(assignment=assignment, state=ReviewState.SUBMITTED).exists()
    on_time = services.review_submit(
        assignment=assignment, user=reviewer, data=scores_input(4, 4, 4, 4, 4), now=deadline - timedelta(minutes=5)
    )
    assert on_time.state == ReviewState.SUBMITTED


def test_the_secretariat_extends_the_deadline_for_one_reviewer(
    client, proposal, reviewer, reviewer2, assign, deadline, secretariat
):
    mine, theirs = assign(proposal, reviewer), assign(proposal, reviewer2)
    until = timezone.now() + timedelta(days=2)

    with pytest.raises(PermissionDenied):
        services.review_deadline_extend(assignment=mine, until=until, reason="Ill", actor=reviewer)
    client.force_login(secretariat)
    page = client.get(reverse("reviews:extend_deadline", args=[mine.pk]))
    assert page.status_code == 200
    response = client.post(
        reverse("reviews:extend_deadline", args=[mine.pk]),
        {"until": timezone.localtime(until).strftime("%Y-%m-%dT%H:%M"), "reason": "Was ill for a week"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()

    submitted = services.review_submit(assignment=mine, user=reviewer, data=scores_input(3, 3, 3, 3, 3))
    assert submitted.state == ReviewState.SUBMITTED
    with pytest.raises(ValidationError, match="The review deadline"):
        services.review_submit(assignment=theirs, user=reviewer2, data=scores_input(3, 3, 3, 3, 3))
    event = AuditEvent.objects.get(action="review.deadline_extend")
    assert event.reason == "Was ill for a week"
    assert event.before["deadline_extended_to"] is None
    assert event.after["assignment"] == mine.pk


def test_no_review_is_reopened_or_rescored_once_recommended(proposal, reviewer, reviewer2, review, secretariat, assign):
    submitted = review(proposal, reviewer, 4)
    draft_assignment = assign(proposal, reviewer2)
    RecommendationFactory(proposal=proposal, is_current=True)
    Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.RECOMMENDED)
    proposal.refresh_from_db()

    with pytest.raises(ValidationError, match="recommendation"):
        services.review_reopen(review=submitted, actor=secretariat, reason="Rescore")
    with pytest.raises(ValidationError, match="recommendation"):
        services.review_save(assignment=draft_assignment, user=reviewer2, data=scores_input(1, 1, 1, 1, 1))
    with pytest.raises(ValidationError, match="recommendation"):
        services.review_submit(assignment=draft_assignment, user=reviewer2, data=scores_input(1, 1, 1, 1, 1))
    assert list(Review.objects.filter(assignment__proposal=proposal).values_list("state", "is_current")) == [
        (ReviewState.SUBMITTED, True)
    ]


def test_no_review_is_reopened_once_decided(proposal, reviewer, review, secretariat):
    submitted = review(proposal, reviewer, 4)
    Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.REJECTED)

    with pytest.raises(ValidationError, match="recommendation"):
        services.review_reopen(review=submitted, actor=secretariat, reason="Rescore")
