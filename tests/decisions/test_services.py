from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.enums import OrganisationType, Role
from portal.audit.models import AuditEvent
from portal.decisions import services
from portal.decisions.diff import version_diff
from portal.decisions.models import ClarificationRequest, Decision, Recommendation
from portal.decisions.selectors import current_recommendations, screening_queue
from portal.notifications.models import Notification, OutboundEmail
from portal.proposals import services as proposal_services
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import ProposalEvent
from tests.factories import UserFactory
from tests.factories.decisions import RecommendationFactory

from .conftest import advance, make_submitted

pytestmark = pytest.mark.integration


def _answers(call, **overrides):
    items = services.screening_checklist_ensure(call=call)
    return {item.pk: overrides.get(item.kind, True) for item in items}


def _hours(proposal):
    return {(r.pool_id, r.quarter_id): r.gpu_hours for r in proposal.current_version.compute_requests.all()}


# ---- Screening -------------------------------------------------------------------------------------------------


def test_screening_checklist_default_has_the_four_checks(call):
    items = services.screening_checklist_ensure(call=call)
    assert [i.kind for i in items] == ["applicant_type", "br_number", "documents", "budget_cap"]
    assert services.screening_checklist_ensure(call=call) == items


def test_screening_suggestions_come_from_the_submission(submitted, call):
    call.eligible_org_types = [OrganisationType.ENTERPRISE]
    call.max_subsidy_per_proposal = Decimal("1000.00")
    call.save()
    items = services.screening_checklist_ensure(call=call)
    suggested = [services.screening_suggest(call=call, version=submitted.current_version, item=i)[0] for i in items]
    assert suggested == [False, True, True, False]


def test_screening_all_met_sends_the_proposal_to_review(submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    screening = services.screening_record(proposal=proposal, actor=secretariat, answers=_answers(proposal.call))
    proposal.refresh_from_db()
    assert proposal.state == S.IN_REVIEW
    assert screening.eligible is True
    assert screening.answers.count() == 4


def test_screening_ineligible_ends_the_proposal_with_reasons_the_applicant_sees(
    submitted, secretariat, member, applicant, django_capture_on_commit_callbacks
):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    with django_capture_on_commit_callbacks(execute=True):
        services.screening_record(
            proposal=proposal,
            actor=secretariat,
            answers=_answers(proposal.call, budget_cap=False),
            reasons="The subsidy requested exceeds the cap.",
        )
    proposal.refresh_from_db()
    assert proposal.state == S.INELIGIBLE
    event = proposal.events.latest("pk")
    assert (event.action, event.reason, event.visible_to_applicant) == (
        "mark_ineligible",
        "The subsidy requested exceeds the cap.",
        True,
    )
    email = OutboundEmail.objects.get(to=applicant.email, key__startswith="proposal-event:")
    assert "The subsidy requested exceeds the cap." in email.body
    assert Notification.objects.filter(user=applicant, key=f"proposal-event:{event.pk}").count() == 1


def test_screening_ineligible_without_reasons_is_refused(submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    with pytest.raises(ValidationError):
        services.screening_record(
            proposal=proposal, actor=secretariat, answers=_answers(proposal.call, documents=False)
        )
    proposal.refresh_from_db()
    assert proposal.state == S.SCREENING
    assert proposal.screenings.count() == 0


def test_screening_by_a_committee_member_is_refused(submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    with pytest.raises(PermissionDenied):
        services.screening_record(proposal=proposal, actor=member, answers=_answers(proposal.call))


# ---- Clarification ---------------------------------------------------------------------------------------------


def test_clarification_goes_back_to_the_applicant_and_resubmission_answers_it(
    submitted, secretariat, member, applicant, soon, call
):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    request = services.clarification_request(
        proposal=proposal, actor=secretariat, questions="Justify the hours in 2026Q2.", due_at=soon
    )
    proposal.refresh_from_db()
    assert proposal.state == S.CLARIFICATION_REQUESTED
    from tests.factories.proposals import complete_draft

    proposal_services.proposal_save_draft(
        proposal=proposal,
        raw=complete_draft(
            call,
            compute_justification="Scaling law estimate, 6ND.",
            summary="Revised summary.",
            clarification_reply="The 2026Q2 hours are for the second training run.",
        ),
        user=applicant,
    )
    version = proposal_services.proposal_submit(proposal=proposal, user=applicant)
    proposal.refresh_from_db()
    request.refresh_from_db()
    assert proposal.state == S.SCREENING
    assert version.number == 2
    assert request.answered_version == version
    changes = version_diff(proposal.versions.get(number=1).content, version.content)
    assert [(c.path, c.label, c.before, c.after) for c in changes] == [
        ("fields.summary", "Summary", "Train a 70B Cantonese model.", "Revised summary."),
        (
            "fields.compute_justification",
            "Justification of the compute request",
            "6ND FLOPs estimate.",
            "Scaling law estimate, 6ND.",
        ),
    ]


def test_clarification_past_its_due_date_is_flagged(submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    now = timezone.now()
    request = services.clarification_request(
        proposal=proposal, actor=secretariat, questions="Q?", due_at=now + timedelta(days=1), now=now
    )
    assert request.is_overdue(now) is False
    assert request.is_overdue(now + timedelta(days=2)) is True
    row = screening_queue().get(pk=proposal.pk)
    assert row.clarification_due_at == request.due_at


def test_clarification_due_in_the_past_is_refused(submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    with pytest.raises(ValidationError):
        services.clarification_request(
            proposal=proposal, actor=secretariat, questions="Q?", due_at=timezone.now() - timedelta(hours=1)
        )
    assert ClarificationRequest.objects.count() == 0


def test_version_diff_lists_compute_and_attachment_changes():
    before = {"compute": {"min_share": "0.5", "requests": [{"pool": "h800", "quarter": "2026Q1", "gpu_hours": 1000}]}}
    after = {"compute": {"min_share": "0.4", "requests": [{"pool": "h800", "quarter": "2026Q1", "gpu_hours": 2000}]}}
    changes = version_diff(before, after)
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("compute.min_share", "50%", "40%"),
        ("compute.requests", "h800 2026Q1: 1,000", "h800 2026Q1: 2,000"),
    ]
    assert version_diff(before, before) == []


def test_version_diff_shows_only_what_changed_with_money_formatted():
    requests = [
        {"pool": "h800", "quarter": "2026Q1", "gpu_hours": 1000},
        {"pool": "h800", "quarter": "2026Q2", "gpu_hours": 3000},
    ]
    budget = {"cost": "75000.00", "subsidy": "52500.00", "subsidy_rate": "0.700", "total_hours": "3000"}
    before = {"fields": {"title": "Same", "other_funding": "1000"}, "compute": {"requests": requests}, "budget": budget}
    after = {
        "fields": {"title": "Same", "other_funding": "250000.5"},
        "compute": {"requests": [requests[0], {**requests[1], "gpu_hours": 4000}]},
        "budget": {**budget, "cost": "100000.00", "subsidy": "1234567.891", "total_hours": "4000"},
    }
    changes = version_diff(before, after)
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("fields.other_funding", "HK$1,000.00", "HK$250,000.50"),
        ("compute.requests", "h800 2026Q2: 3,000", "h800 2026Q2: 4,000"),
        ("budget.cost", "HK$75,000.00", "HK$100,000.00"),
        ("budget.subsidy", "HK$52,500.00", "HK$1,234,567.89"),
        ("budget.total_hours", "3,000", "4,000"),
    ]
    reordered = {**before, "compute": {"requests": list(reversed(requests))}}
    assert version_diff(before, reordered) == []


# ---- Recommendation --------------------------------------------------------------------------------------------


def test_recommendation_records_hours_rate_and_conditions(submitted, secretariat, member):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    rec = services.recommendation_make(
        proposal=proposal,
        actor=member,
        recommended=True,
        hours=_hours(proposal),
        conditions="Quarterly progress reports.",
    )
    proposal.refresh_from_db()
    assert proposal.state == S.RECOMMENDED
    assert rec.subsidy_rate == Decimal("0.700")
    assert sorted(h.gpu_hours for h in rec.hours.all()) == [100_000, 100_000]
    assert list(current_recommendations(call=proposal.call)) == [rec]
    assert AuditEvent.objects.filter(action="recommendation.make", object_id=str(rec.pk)).count() == 1
    assert proposal.events.latest("pk").visible_to_applicant is False


def test_recommendation_above_the_call_rate_needs_a_reason(submitted, secretariat, member):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    with pytest.raises(ValidationError) as exc:
        services.recommendation_make(
            proposal=proposal, actor=member, recommended=True, hours=_hours(proposal), subsidy_rate=Decimal("0.8")
        )
    assert list(exc.value.error_dict) == ["rate_reason"]
    rec = services.recommendation_make(
        proposal=proposal,
        actor=member,
        recommended=True,
        hours=_hours(proposal),
        subsidy_rate=Decimal("0.8"),
        rate_reason="Open-source public-good model.",
    )
    assert rec.subsidy_rate == Decimal("0.800")


def test_recommendation_above_ninety_percent_is_refused(submitted, secretariat, member):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    with pytest.raises(ValidationError) as exc:
        services.recommendation_make(
            proposal=proposal,
            actor=member,
            recommended=True,
            hours=_hours(proposal),
            subsidy_rate=Decimal("0.95"),
            rate_reason="Exceptional.",
        )
    assert list(exc.value.error_dict) == ["subsidy_rate"]
    proposal.refresh_from_db()
    assert proposal.state == S.REVIEWED


def test_recommendation_rate_above_ninety_percent_is_refused_by_the_database(recommended):
    with pytest.raises(IntegrityError), transaction.atomic():
        Recommendation.objects.filter(proposal=recommended).update(subsidy_rate=Decimal("0.910"))


def test_recommendation_only_one_current_per_proposal_in_the_database(recommended, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationFactory(proposal=recommended, recommended_by=member)


def test_not_recommending_needs_a_rationale(submitted, secretariat, member):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    with pytest.raises(ValidationError):
        services.recommendation_make(proposal=proposal, actor=member, recommended=False)
    rec = services.recommendation_make(proposal=proposal, actor=member, recommended=False, rationale="Weak plan.")
    proposal.refresh_from_db()
    assert proposal.state == S.NOT_RECOMMENDED
    assert rec.hours.count() == 0


# ---- Decision and the four-eyes rule ---------------------------------------------------------------------------


def test_four_eyes_the_recommender_may_not_approve(submitted, secretariat, chair):
    proposal = advance(submitted, S.RECOMMENDED, secretariat=secretariat, member=chair)
    with pytest.raises(PermissionDenied):
        services.decision_make(proposal=proposal, actor=chair, approved=True)
    proposal.refresh_from_db()
    assert proposal.state == S.RECOMMENDED
    assert Decision.objects.count() == 0
    assert chair.has_perm("portal.proposals.decide_proposal", proposal) is False
    other_chair = UserFactory(role=Role.APPROVING_OFFICER)
    decision = services.decision_make(proposal=proposal, actor=other_chair, approved=True)
    proposal.refresh_from_db()
    assert proposal.state == S.APPROVED
    assert decision.recommendation.recommended_by == chair


def test_decision_reject_records_the_reason(recommended, chair):
    decision = services.decision_make(proposal=recommended, actor=chair, approved=False, reason="Budget exhausted.")
    recommended.refresh_from_db()
    assert recommended.state == S.REJECTED
    assert recommended.events.latest("pk").reason == "Budget exhausted."
    assert decision.approved is False


def test_decision_approving_a_not_recommended_proposal_is_refused(submitted, secretariat, member, chair):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    services.recommendation_make(proposal=proposal, actor=member, recommended=False, rationale="Weak.")
    with pytest.raises(ValidationError):
        services.decision_make(proposal=proposal, actor=chair, approved=True)
    proposal.refresh_from_db()
    assert proposal.state == S.NOT_RECOMMENDED


def test_decision_by_a_committee_member_is_refused(recommended):
    other_member = UserFactory(role=Role.COMMITTEE_MEMBER)
    with pytest.raises(PermissionDenied):
        services.decision_make(proposal=recommended, actor=other_member, approved=True)


def test_bulk_approval_makes_one_decision_step_and_audit_record_per_proposal(
    call, organisation, applicant, secretariat, member, chair
):
    proposals = [
        advance(make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=m)
        for m in (member, member, chair)
    ]
    audit_before = AuditEvent.objects.filter(action="proposal.approve").count()
    result = services.decision_make_bulk(proposals=proposals, actor=chair, approved=True, reason="Batch 1.")
    assert [d.proposal for d in result.decided] == proposals[:2]
    assert [(p, reason) for p, reason in result.refused] == [
        (proposals[2], "You made the recommendation, so someone else must decide (four-eyes rule).")
    ]
    for proposal in proposals[:2]:
        proposal.refresh_from_db()
        assert proposal.state == S.APPROVED
        assert proposal.decisions.count() == 1
        assert ProposalEvent.objects.filter(proposal=proposal, action="approve").count() == 1
    assert AuditEvent.objects.filter(action="proposal.approve").count() == audit_before + 2
    proposals[2].refresh_from_db()
    assert proposals[2].state == S.RECOMMENDED


# ---- Notifications ---------------------------------------------------------------------------------------------


def test_officials_hear_of_work_waiting_and_applicants_of_their_state(
    submitted, secretariat, member, chair, applicant, users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        proposal = advance(submitted, S.RECOMMENDED, secretariat=secretariat, member=member)
    # Recommended: the chair and the approving officer (not the recommender) are told there is a decision waiting.
    event = proposal.events.latest("pk")
    told = set(Notification.objects.filter(key=f"work-waiting:{event.pk}").values_list("user__email", flat=True))
    assert told == {chair.email, users[Role.APPROVING_OFFICER].email}
    # The applicant was not told of the committee's recommendation (not on their timeline).
    assert not Notification.objects.filter(user=applicant, key=f"proposal-event:{event.pk}").exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.decision_make(proposal=proposal, actor=chair, approved=True)
    approve = proposal.events.latest("pk")
    note = Notification.objects.get(user=applicant, key=f"proposal-event:{approve.pk}")
    assert note.message == f"{proposal.reference} is now “Approved”"
    assert [m.to for m in mail.outbox if m.subject == note.message] == [[applicant.email]]


def test_applicant_email_is_in_their_language(
    submitted, secretariat, member, applicant, django_capture_on_commit_callbacks
):
    applicant.preferred_language = "zh-hant"
    applicant.save()
    with django_capture_on_commit_callbacks(execute=True):
        advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    event = submitted.events.latest("pk")
    email = OutboundEmail.objects.get(key=f"proposal-event:{event.pk}:{applicant.pk}")
    assert email.language == "zh-hant"
    assert email.subject == f"{submitted.reference} 現為「審查資格中」"
