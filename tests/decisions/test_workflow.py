"""Every row of the workflow table, by every role: who may, and from which states."""

import pytest
from django.core.exceptions import PermissionDenied

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.decisions.models import Recommendation
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal, ProposalEvent
from portal.proposals.services import TransitionConflict, proposal_transition
from portal.proposals.workflow import TRANSITIONS, transitions_from
from tests.factories.decisions import RecommendationFactory
from tests.factories.reviews import reviews_submitted

from .conftest import ROLES

SECRETARIAT = {Role.SECRETARIAT}
COMMITTEE = {Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}
DECIDERS = {Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}

ALLOWED = {
    "submit": {"member"},
    "reopen": {"member"},
    "keep_submitted": {"member"},
    "resubmit": {"member"},
    "withdraw": {"member"},
    "start_screening": SECRETARIAT,
    "request_clarification": SECRETARIAT,
    "pass_screening": SECRETARIAT,
    "mark_ineligible": SECRETARIAT,
    "close_review": SECRETARIAT,
    "open_response": SECRETARIAT,
    "recommend": COMMITTEE,
    "not_recommend": COMMITTEE,
    # Revising is for the committee too (not conflicted; four-eyes then follows the reviser).
    "revise_recommendation": COMMITTEE,
    # The committee member made the recommendation: four-eyes leaves the chair and the approving officer.
    "approve": DECIDERS,
    "reject": DECIDERS,
    # Taken when an approving official approves a lock the secretariat proposed (four-eyes).
    "allocate": DECIDERS,
    "activate": DECIDERS,
    "complete": SECRETARIAT,
    # Taken when an approving official accepts the final progress report the secretariat screened (four-eyes).
    "complete_after_final_report": DECIDERS,
}


def _put(proposal, state, users):
    if state in (S.IN_REVIEW, S.REVIEWED) and not proposal.review_assignments.exists():
        # A review round closes only with the call's minimum number of reviews in. Reviews come before any
        # recommendation: once one is made they are frozen (issue 9 point 4).
        Recommendation.objects.filter(proposal=proposal).delete()
        Proposal.objects.filter(pk=proposal.pk).update(state=S.IN_REVIEW)
        reviews_submitted(proposal, secretariat=users[Role.SECRETARIAT])
    Proposal.objects.filter(pk=proposal.pk).update(state=state)
    proposal.refresh_from_db()
    if state in (S.RECOMMENDED, S.NOT_RECOMMENDED) and not proposal.recommendations.filter(is_current=True).exists():
        RecommendationFactory(
            proposal=proposal, recommended=state == S.RECOMMENDED, recommended_by=users[Role.COMMITTEE_MEMBER]
        )
    return proposal


def test_workflow_table_covers_every_state_of_the_life():
    targets = {target for t in TRANSITIONS.values() for target in t.targets}
    assert targets == set(S) - {S.DRAFT}
    assert transitions_from(S.COMPLETED) == []
    assert [t.action for t in transitions_from(S.RECOMMENDED)] == [
        "revise_recommendation",
        "approve",
        "reject",
        "withdraw",
    ]
    assert set(ALLOWED) == set(TRANSITIONS)


@pytest.mark.integration
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_transition_allowed_only_for_its_roles(action, submitted, users):
    transition = TRANSITIONS[action]
    # From SUBMITTED where a row allows it: screening waits while an applicant amends before the deadline.
    source = S.SUBMITTED if S.SUBMITTED in transition.sources else sorted(transition.sources)[0]
    allowed = set()
    for role in ROLES:
        proposal = _put(submitted, source, users)
        events = ProposalEvent.objects.count()
        try:
            proposal_transition(proposal=proposal, action=action, actor=users[role], reason="Because.")
        except PermissionDenied:
            proposal.refresh_from_db()
            assert proposal.state == source
            assert ProposalEvent.objects.count() == events
            continue
        allowed.add(role)
        proposal.refresh_from_db()
        assert proposal.state == transition.target
        event = ProposalEvent.objects.latest("pk")
        assert (event.action, event.from_state, event.to_state, event.actor) == (
            action,
            source,
            transition.target,
            users[role],
        )
        audit = AuditEvent.objects.latest("seq")
        assert (audit.action, audit.before, audit.after) == (
            f"proposal.{action}",
            {"state": source},
            {"state": transition.target},
        )
    assert allowed == ALLOWED[action]


@pytest.mark.integration
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_transition_refused_from_every_other_state(action, submitted, users):
    transition = TRANSITIONS[action]
    actor = users[sorted(ALLOWED[action])[0]]
    for state in sorted(set(S) - transition.sources):
        proposal = _put(submitted, state, users)
        with pytest.raises((TransitionConflict, PermissionDenied)):
            proposal_transition(proposal=proposal, action=action, actor=actor, reason="Because.")
        proposal.refresh_from_db()
        assert proposal.state == state


@pytest.mark.integration
def test_transition_changes_nothing_when_the_state_changed_under_it(submitted, users):
    proposal = _put(submitted, S.SCREENING, users)
    stale = Proposal.objects.get(pk=proposal.pk)
    proposal_transition(proposal=proposal, action="pass_screening", actor=users[Role.SECRETARIAT])
    with pytest.raises(TransitionConflict):
        proposal_transition(
            proposal=stale, action="mark_ineligible", actor=users[Role.SECRETARIAT], reason="Not eligible."
        )
    stale.refresh_from_db()
    assert stale.state == S.IN_REVIEW


@pytest.mark.integration
def test_transition_records_its_step_as_given_with_the_state_change_and_none_when_refused(submitted, users):
    """The state change and the step on the timeline are written together (one statement on PostgreSQL): the step
    keeps every value as given, and a transition that finds the state changed under it writes no step."""
    from datetime import UTC, datetime

    proposal = _put(submitted, S.SCREENING, users)
    stale = Proposal.objects.get(pk=proposal.pk)
    steps = ProposalEvent.objects.filter(proposal=proposal).count()
    reason = 'Out of scope: «not AI» — it\'s "robotics"; 100% hardware\nSee §2.'
    when = datetime(2026, 11, 29, 7, 30, 15, 123456, tzinfo=UTC)
    secretariat = users[Role.SECRETARIAT]
    proposal_transition(proposal=proposal, action="mark_ineligible", actor=secretariat, reason=reason, now=when)
    step = proposal.last_event
    assert ProposalEvent.objects.filter(proposal=proposal).count() == steps + 1
    stored = ProposalEvent.objects.get(pk=step.pk)
    assert (stored.proposal_id, stored.actor_id, stored.action) == (proposal.pk, secretariat.pk, "mark_ineligible")
    assert (stored.from_state, stored.to_state, stored.reason) == (S.SCREENING, S.INELIGIBLE, reason)
    assert (stored.created_at, stored.visible_to_applicant) == (
        when,
        TRANSITIONS["mark_ineligible"].visible_to_applicant,
    )
    proposal.refresh_from_db()
    assert (proposal.state, proposal.updated_at) == (S.INELIGIBLE, when)
    with pytest.raises(TransitionConflict):
        proposal_transition(proposal=stale, action="pass_screening", actor=secretariat)
    assert ProposalEvent.objects.filter(proposal=proposal).count() == steps + 1
    assert not AuditEvent.objects.filter(action="proposal.pass_screening").exists()


@pytest.mark.integration
def test_transition_with_reason_required_refuses_an_empty_reason(submitted, users):
    from django.core.exceptions import ValidationError

    proposal = _put(submitted, S.SCREENING, users)
    with pytest.raises(ValidationError):
        proposal_transition(proposal=proposal, action="mark_ineligible", actor=users[Role.SECRETARIAT], reason=" ")
    proposal.refresh_from_db()
    assert proposal.state == S.SCREENING


@pytest.mark.integration
def test_transition_to_another_of_its_targets(submitted, users):
    proposal = _put(submitted, S.RECOMMENDED, users)
    proposal_transition(
        proposal=proposal,
        action="revise_recommendation",
        actor=users[Role.COMMITTEE_CHAIR],
        reason="Duplicates a funded project.",
        target=S.NOT_RECOMMENDED,
    )
    proposal.refresh_from_db()
    assert proposal.state == S.NOT_RECOMMENDED
    event = ProposalEvent.objects.latest("pk")
    assert (event.action, event.from_state, event.to_state, event.visible_to_applicant) == (
        "revise_recommendation",
        S.RECOMMENDED,
        S.NOT_RECOMMENDED,
        False,
    )
    audit = AuditEvent.objects.latest("seq")
    assert (audit.action, audit.before, audit.after) == (
        "proposal.revise_recommendation",
        {"state": S.RECOMMENDED},
        {"state": S.NOT_RECOMMENDED},
    )


@pytest.mark.integration
def test_transition_refuses_a_target_its_row_does_not_have(submitted, users):
    proposal = _put(submitted, S.SCREENING, users)
    with pytest.raises(ValueError, match="pass_screening does not lead to 'approved'"):
        proposal_transition(
            proposal=proposal, action="pass_screening", actor=users[Role.SECRETARIAT], target=S.APPROVED
        )
    proposal.refresh_from_db()
    assert proposal.state == S.SCREENING
