"""Two officials act on the same proposal at the same moment, each on their own database connection."""

import threading

import pytest
from django.db import connection

from portal.accounts.enums import Role
from portal.decisions import services
from portal.decisions.models import Decision
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal, ProposalEvent
from portal.proposals.services import TransitionConflict, proposal_transition
from tests.factories import UserFactory

from .conftest import advance, make_submitted

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _race(*actions):
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(i, action):
        try:
            barrier.wait()
            action()
            outcomes[i] = "won"
        except TransitionConflict:
            outcomes[i] = "conflict"
        except Exception as exc:  # reported in the assertion below
            outcomes[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(outcomes)


def test_two_officers_screen_at_once_exactly_one_wins(call, organisation, applicant, secretariat, member):
    proposal = advance(
        make_submitted(call, organisation, applicant), S.SCREENING, secretariat=secretariat, member=member
    )
    other = UserFactory(role=Role.SECRETARIAT)
    outcomes = _race(
        lambda: proposal_transition(
            proposal=Proposal.objects.get(pk=proposal.pk), action="pass_screening", actor=secretariat
        ),
        lambda: proposal_transition(
            proposal=Proposal.objects.get(pk=proposal.pk), action="mark_ineligible", actor=other, reason="No."
        ),
    )
    assert outcomes == ["conflict", "won"]
    assert ProposalEvent.objects.filter(proposal=proposal, from_state=S.SCREENING).count() == 1


def test_two_deciders_at_once_exactly_one_decision(call, organisation, applicant, secretariat, member, chair):
    proposal = advance(
        make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=member
    )
    officer = UserFactory(role=Role.APPROVING_OFFICER)
    outcomes = _race(
        lambda: services.decision_make(proposal=Proposal.objects.get(pk=proposal.pk), actor=chair, approved=True),
        lambda: services.decision_make(
            proposal=Proposal.objects.get(pk=proposal.pk), actor=officer, approved=False, reason="No budget."
        ),
    )
    assert outcomes == ["conflict", "won"]
    assert Decision.objects.filter(proposal=proposal).count() == 1
    proposal.refresh_from_db()
    assert proposal.state == (S.APPROVED if Decision.objects.get().approved else S.REJECTED)


def test_a_decider_who_read_the_proposal_after_the_first_decision_is_told_it_changed(
    call, organisation, applicant, secretariat, member, chair
):
    """The slower of two deciders may read the proposal only once the first has finished (a busy machine): its
    proposal then shows the new state, and it is the decision already made that tells it nothing is to be done."""
    proposal = advance(
        make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=member
    )
    officer = UserFactory(role=Role.APPROVING_OFFICER)
    services.decision_make(proposal=Proposal.objects.get(pk=proposal.pk), actor=chair, approved=True)
    with pytest.raises(TransitionConflict):
        services.decision_make(proposal=Proposal.objects.get(pk=proposal.pk), actor=officer, approved=False)
    assert Decision.objects.filter(proposal=proposal).count() == 1
