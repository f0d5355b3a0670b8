"""What reviewing adds to the proposal workflow: enough reviews before the round closes; no conflicted
committee member recommends or decides."""

import pytest

from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.reviews import services
from tests.factories import UserFactory
from tests.factories.reviews import reviews_submitted

pytestmark = pytest.mark.django_db


def _in_state(proposal, state):
    Proposal.objects.filter(pk=proposal.pk).update(state=state)
    proposal.refresh_from_db()
    return proposal


def test_review_round_closes_only_with_the_minimum_of_reviews(proposal, secretariat):
    _in_state(proposal, ProposalState.IN_REVIEW)
    assert proposal.call.min_reviewers == 2
    reviews_submitted(proposal, secretariat=secretariat, count=1)
    assert secretariat.has_perm("portal.proposals.close_review", proposal) is False
    reviews_submitted(proposal, secretariat=secretariat, count=1)
    assert secretariat.has_perm("portal.proposals.close_review", proposal) is True


def test_conflicted_committee_member_may_not_recommend(proposal, secretariat, member):
    _in_state(proposal, ProposalState.REVIEWED)
    assert member.has_perm("portal.proposals.recommend_proposal", proposal) is True
    services.conflict_record(proposal=proposal, user=member, reason="Former student of the lead", actor=secretariat)
    assert member.has_perm("portal.proposals.recommend_proposal", proposal) is False


def test_conflicted_chair_may_not_decide(proposal, secretariat, member):
    from tests.factories.decisions import RecommendationFactory

    chair = UserFactory(role="committee_chair")
    _in_state(proposal, ProposalState.RECOMMENDED)
    RecommendationFactory(proposal=proposal, recommended=True, recommended_by=member)
    assert chair.has_perm("portal.proposals.decide_proposal", proposal) is True
    services.conflict_record(proposal=proposal, user=chair, reason="Co-author with the lead", actor=secretariat)
    assert chair.has_perm("portal.proposals.decide_proposal", proposal) is False
