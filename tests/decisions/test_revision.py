"""Revising the committee's recommendation before the decision."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.decisions import services
from portal.notifications.models import Notification
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal, ProposalEvent
from portal.proposals.services import TransitionConflict
from portal.reviews import services as review_services
from tests.factories import UserFactory

from .conftest import advance

pytestmark = pytest.mark.integration


@pytest.fixture
def colleague(db):
    """A second committee member, who revises what ``member`` recommended."""
    return UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Committee Member Lee")


def _cells(proposal):
    return {(r.pool_id, r.quarter_id): r.gpu_hours for r in proposal.current_version.compute_requests.all()}


def _halved(proposal):
    return {cell: hours // 2 for cell, hours in _cells(proposal).items()}


def _revise(proposal, actor, **overrides):
    values = {
        "recommended": True,
        "hours": _halved(proposal),
        "subsidy_rate": Decimal("0.700"),
        "rate_reason": "",
        "conditions": "Publish the weights and the evaluation code.",
        "rationale": "",
        "reason": "The second quarter's hours are not justified by the plan.",
    }
    values.update(overrides)
    return services.recommendation_revise(proposal=proposal, actor=actor, **values)


# ---- The service --------------------------------------------------------------------------------------------------


def test_revision_replaces_the_current_recommendation_and_keeps_the_old_one(recommended, member, colleague):
    old = recommended.recommendations.get()
    new = _revise(recommended, colleague)
    recommended.refresh_from_db()
    assert recommended.state == S.RECOMMENDED
    rows = list(recommended.recommendations.order_by("pk").values_list("pk", "is_current", "recommended_by"))
    assert rows == [(old.pk, False, member.pk), (new.pk, True, colleague.pk)]
    assert {(h.pool_id, h.quarter_id): h.gpu_hours for h in new.hours.all()} == _halved(recommended)
    assert old.hours.count() == len(_cells(recommended))
    assert new.conditions == "Publish the weights and the evaluation code."
    event = ProposalEvent.objects.filter(proposal=recommended).latest("pk")
    assert (event.action, event.from_state, event.to_state, event.actor, event.reason, event.visible_to_applicant) == (
        "revise_recommendation",
        S.RECOMMENDED,
        S.RECOMMENDED,
        colleague,
        "The second quarter's hours are not justified by the plan.",
        False,
    )
    audit = AuditEvent.objects.latest("seq")
    assert (audit.action, audit.object_id, audit.reason) == (
        "recommendation.revise",
        str(new.pk),
        "The second quarter's hours are not justified by the plan.",
    )
    assert audit.before == {
        "recommendation": old.pk,
        "state": "recommended",
        "recommended": True,
        "recommended_by": member.pk,
        "subsidy_rate": "0.700",
        "rate_reason": "",
        "conditions": "Publish the weights.",
        "rationale": "",
        "hours": {f"{p}:{q}": h for (p, q), h in sorted(_cells(recommended).items())},
    }
    assert audit.after == {
        "recommendation": new.pk,
        "state": "recommended",
        "recommended": True,
        "recommended_by": colleague.pk,
        "subsidy_rate": "0.700",
        "rate_reason": "",
        "conditions": "Publish the weights and the evaluation code.",
        "rationale": "",
        "hours": {f"{p}:{q}": h for (p, q), h in sorted(_halved(recommended).items())},
    }


def test_revision_requires_a_reason(recommended, colleague):
    with pytest.raises(ValidationError) as excinfo:
        _revise(recommended, colleague, reason="  ")
    assert excinfo.value.message_dict == {"reason": ["Give the reason for revising the recommendation."]}
    assert list(recommended.recommendations.values_list("is_current", flat=True)) == [True]


def test_revision_checks_the_rate_as_a_recommendation_does(recommended, colleague):
    with pytest.raises(ValidationError) as excinfo:
        _revise(recommended, colleague, subsidy_rate=Decimal("0.800"))
    assert excinfo.value.message_dict == {"rate_reason": ["Give a reason for a subsidy rate above the call's 70%."]}
    with pytest.raises(ValidationError) as excinfo:
        _revise(recommended, colleague, subsidy_rate=Decimal("0.950"), rate_reason="Public good.")
    assert excinfo.value.message_dict == {"subsidy_rate": ["The subsidy rate may be at most 90%."]}
    revised = _revise(recommended, colleague, subsidy_rate=Decimal("0.800"), rate_reason="Public good.")
    assert (revised.subsidy_rate, revised.rate_reason) == (Decimal("0.800"), "Public good.")


def test_revision_is_refused_after_a_decision(recommended, colleague, chair):
    stale = Proposal.objects.get(pk=recommended.pk)
    services.decision_make(proposal=recommended, actor=chair, approved=True)
    with pytest.raises(ValidationError) as excinfo:
        _revise(recommended, colleague)
    assert excinfo.value.messages == ["The proposal has been decided; its recommendation can no longer be revised."]
    with pytest.raises(TransitionConflict):
        _revise(stale, colleague)
    assert recommended.recommendations.count() == 1
    assert services.recommendation_revisable(proposal=recommended) is None


def test_revision_is_refused_to_a_conflicted_committee_member(recommended, colleague, secretariat):
    review_services.conflict_record(
        proposal=recommended, user=colleague, reason="Former student of the lead", actor=secretariat
    )
    with pytest.raises(PermissionDenied):
        _revise(recommended, colleague)
    assert recommended.recommendations.count() == 1


@pytest.mark.parametrize("role", ["member", "outsider", Role.REVIEWER, Role.SECRETARIAT, Role.AUDITOR])
def test_revision_is_refused_to_roles_outside_the_committee(role, recommended, users):
    with pytest.raises(PermissionDenied):
        _revise(recommended, users[role])
    assert recommended.recommendations.count() == 1


def test_four_eyes_follows_the_revision(submitted, secretariat, users):
    officer, chair = users[Role.APPROVING_OFFICER], users[Role.COMMITTEE_CHAIR]
    proposal = advance(submitted, S.RECOMMENDED, secretariat=secretariat, member=officer)
    assert officer.has_perm("portal.proposals.decide_proposal", proposal) is False
    _revise(proposal, chair)
    # The chair made the current recommendation and so may not decide; the officer, no longer its author, may.
    assert chair.has_perm("portal.proposals.decide_proposal", proposal) is False
    with pytest.raises(PermissionDenied) as excinfo:
        services.decision_make(proposal=proposal, actor=chair, approved=True)
    assert str(excinfo.value) == "You made the recommendation, so someone else must decide (four-eyes rule)."
    decision = services.decision_make(proposal=proposal, actor=officer, approved=True)
    assert decision.recommendation == proposal.recommendations.get(is_current=True)
    assert decision.recommendation.recommended_by == chair


def test_revision_to_not_recommended_moves_the_state_and_back(
    recommended, colleague, member, users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        revised = _revise(
            recommended, colleague, recommended=False, rationale="Duplicates a funded project.", reason="New facts."
        )
    recommended.refresh_from_db()
    assert recommended.state == S.NOT_RECOMMENDED
    assert (revised.recommended, revised.hours.count()) == (False, 0)
    event = ProposalEvent.objects.filter(proposal=recommended).latest("pk")
    assert (event.action, event.from_state, event.to_state) == (
        "revise_recommendation",
        S.RECOMMENDED,
        S.NOT_RECOMMENDED,
    )
    told = set(Notification.objects.filter(key=f"work-waiting:{event.pk}").values_list("user__email", flat=True))
    assert told == {users[Role.COMMITTEE_CHAIR].email, users[Role.APPROVING_OFFICER].email}
    assert not Notification.objects.filter(key=f"proposal-event:{event.pk}").exists()
    _revise(recommended, member, reason="The duplicate was withdrawn.")
    recommended.refresh_from_db()
    assert recommended.state == S.RECOMMENDED
    assert list(recommended.events.filter(action="revise_recommendation").values_list("to_state", flat=True)) == [
        S.NOT_RECOMMENDED,
        S.RECOMMENDED,
    ]
    assert recommended.recommendations.filter(is_current=True).get().recommended_by == member


def test_revision_to_not_recommended_needs_a_rationale(recommended, colleague):
    with pytest.raises(ValidationError) as excinfo:
        _revise(recommended, colleague, recommended=False)
    assert excinfo.value.message_dict == {"rationale": ["Give the reason for not recommending the proposal."]}
    recommended.refresh_from_db()
    assert recommended.state == S.RECOMMENDED


# ---- The page ----------------------------------------------------------------------------------------------------


def test_decision_panel_links_to_the_revision_page(client, recommended, colleague):
    client.force_login(colleague)
    html = client.get(reverse("proposals:detail", args=[recommended.pk])).content.decode()
    assert f'href="{reverse("decisions:revise", args=[recommended.pk])}"' in html


def test_revision_page_is_prefilled_with_the_current_recommendation(client, recommended, colleague):
    client.force_login(colleague)
    form = client.get(reverse("decisions:revise", args=[recommended.pk])).context["form"]
    hours = {name: form[name].value() for name in form.fields if name.startswith("hours_")}
    cells = _cells(recommended)
    assert hours == {
        f"hours_{pool.pk}_{quarter.pk}": cells.get((pool.pk, quarter.pk), 0) for pool, quarter, _ in form.cells
    }
    assert (form["recommended"].value(), form["subsidy_rate"].value(), form["conditions"].value()) == (
        "yes",
        Decimal("70.0"),
        "Publish the weights.",
    )
    assert form["reason"].value() is None


def test_revision_page_keeps_the_input_and_ties_errors_to_fields(client, recommended, colleague):
    client.force_login(colleague)
    url = reverse("decisions:revise", args=[recommended.pk])
    form = client.get(url).context["form"]
    data = {name: "0" for name in form.fields if name.startswith("hours_")}
    data.update(recommended="yes", subsidy_rate="80", rate_reason="", conditions="Quarterly demos.", reason="")
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["Give the reason for revising the recommendation."]}
    html = response.content.decode()
    assert "Quarterly demos." in html
    assert 'value="80"' in html
    data["reason"] = "Lower the hours."
    response = client.post(url, data)
    first_cell = next(name for name in form.fields if name.startswith("hours_"))
    assert response.context["form"].errors == {
        "rate_reason": ["Give a reason for a subsidy rate above the call's 70%."],
    }
    data["rate_reason"] = "Public-good model."
    response = client.post(url, data)
    assert response.context["form"].errors == {first_cell: ["Recommend some GPU-hours."]}
    assert "Public-good model." in response.content.decode()
    assert recommended.recommendations.count() == 1


def test_revision_page_records_the_revision(client, recommended, colleague):
    client.force_login(colleague)
    url = reverse("decisions:revise", args=[recommended.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields if name.startswith("hours_")}
    data.update(
        recommended="no", subsidy_rate="70", rate_reason="", conditions="", rationale="Weak plan.", reason="Re-read."
    )
    response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("proposals:detail", args=[recommended.pk])
    recommended.refresh_from_db()
    assert recommended.state == S.NOT_RECOMMENDED
    current = recommended.recommendations.get(is_current=True)
    assert (current.recommended, current.rationale, current.recommended_by) == (False, "Weak plan.", colleague)


@pytest.mark.parametrize(
    ("role", "status"),
    # Who may not see the proposal at all is not told it exists.
    [("member", 403), (Role.SECRETARIAT, 403), (Role.AUDITOR, 403), (Role.REVIEWER, 404), ("outsider", 404)],
)
def test_revision_page_is_refused_outside_the_committee(role, status, client, recommended, users):
    client.force_login(users[role])
    assert client.get(reverse("decisions:revise", args=[recommended.pk])).status_code == status


def test_revision_page_sends_back_once_decided(client, recommended, colleague, chair):
    services.decision_make(proposal=recommended, actor=chair, approved=True)
    client.force_login(colleague)
    response = client.get(reverse("decisions:revise", args=[recommended.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("proposals:detail", args=[recommended.pk])
    html = client.get(reverse("proposals:detail", args=[recommended.pk])).content.decode()
    assert reverse("decisions:revise", args=[recommended.pk]) not in html


def test_decision_on_a_recommendation_revised_meanwhile_is_refused(recommended, colleague, chair):
    read = recommended.recommendations.get(is_current=True)
    _revise(recommended, colleague)
    with pytest.raises(TransitionConflict):
        services.decision_make(proposal=recommended, actor=chair, approved=True, recommendation_id=read.pk)
    assert recommended.decisions.count() == 0


def test_decision_page_refuses_a_recommendation_revised_meanwhile(client, recommended, colleague, chair):
    client.force_login(chair)
    url = reverse("decisions:decide", args=[recommended.pk])
    form = client.get(url).context["form"]
    assert form["recommendation"].value() == recommended.recommendations.get(is_current=True).pk
    _revise(recommended, colleague)
    data = {"recommendation": form["recommendation"].value(), "decision": "approve", "reason": ""}
    response = client.post(url, data)
    assert response.status_code == 302
    assert recommended.decisions.count() == 0
    data["recommendation"] = recommended.recommendations.get(is_current=True).pk
    assert client.post(url, data).status_code == 302
    recommended.refresh_from_db()
    assert recommended.state == S.APPROVED


def test_decision_panel_offers_no_revision_outside_the_committee(client, recommended, secretariat):
    client.force_login(secretariat)
    page = client.get(reverse("proposals:detail", args=[recommended.pk])).content.decode()
    assert reverse("decisions:revise", args=[recommended.pk]) not in page
