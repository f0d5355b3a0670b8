import hashlib
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.services import audit_verify
from portal.proposals import services
from portal.proposals.budget import budget_compute
from portal.proposals.enums import ProposalState
from portal.proposals.models import ComputeRequest, ProposalVersion
from tests.factories import MembershipFactory, OrganisationFactory
from tests.factories.proposals import complete_draft

pytestmark = pytest.mark.django_db


def test_budget_compute_is_exact_in_decimal():
    budget = budget_compute(
        hours={("h800", "2026Q1"): 100_000, ("h800", "2026Q2"): 33_333},
        prices={"h800": Decimal("25.00")},
        subsidy_rate=Decimal("0.700"),
        other_funding=Decimal("1000000"),
    )
    assert budget.total_hours == Decimal(133_333)
    assert budget.cost == Decimal("3333325.00")
    assert budget.subsidy == Decimal("2333327.50")
    assert budget.applicant_share == Decimal("999997.50")
    assert budget.subsidy + budget.applicant_share == budget.cost
    assert budget.own_funds == Decimal("0.00")


def test_proposal_save_draft_keeps_invalid_values_as_typed(draft, applicant):
    services.proposal_save_draft(
        proposal=draft,
        raw={"title": "  My <b>title</b>", "min_share": "lots", "lead_email": "not-an-email"},
        user=applicant,
    )
    draft.refresh_from_db()
    assert draft.draft["min_share"] == "lots"
    assert draft.draft["lead_email"] == "not-an-email"
    assert draft.draft["title"] == "  My <b>title</b>"
    assert draft.title == "My <b>title</b>"


def test_proposal_save_draft_by_outsider_is_refused(draft, outsider):
    with pytest.raises(PermissionDenied):
        services.proposal_save_draft(proposal=draft, raw={"title": "hijack"}, user=outsider)


def test_a_proposal_read_as_ones_own_needs_no_membership_query_and_counts_for_nobody_else(
    draft, applicant, outsider, django_assert_num_queries
):
    """proposals_visible_to reads an applicant's proposals through their memberships: the permission check then
    needs no query of its own, for that person only. Another person (an outsider handed the same object, or a
    member of the organisation since removed and read afresh) is checked against the database."""
    from portal.proposals.models import Proposal
    from portal.proposals.selectors import proposals_visible_to

    mine = proposals_visible_to(applicant).select_related("organisation").get(pk=draft.pk)
    with django_assert_num_queries(0):
        assert applicant.has_perm("portal.proposals.change_proposal", mine)
    with django_assert_num_queries(1):
        assert not outsider.has_perm("portal.proposals.change_proposal", mine)
    assert not proposals_visible_to(outsider).filter(pk=draft.pk).exists()
    plain = Proposal.objects.select_related("organisation").get(pk=draft.pk)
    with django_assert_num_queries(1):  # read without the person's memberships: the membership is asked for
        assert applicant.has_perm("portal.proposals.change_proposal", plain)
    applicant.memberships.all().delete()
    assert not proposals_visible_to(applicant).filter(pk=draft.pk).exists()
    assert not applicant.has_perm("portal.proposals.change_proposal", Proposal.objects.get(pk=draft.pk))


def test_proposal_submit_freezes_version_with_reference_and_digest(ready_draft, applicant, call):
    version = services.proposal_submit(proposal=ready_draft, user=applicant)
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.SUBMITTED
    assert ready_draft.reference == f"AISS-{ready_draft.submitted_at.astimezone().year}-0001"
    assert ready_draft.current_version == version
    assert version.number == 1
    canonical = json.dumps(version.content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert version.sha256 == hashlib.sha256(canonical).hexdigest()
    assert version.total_hours == Decimal(200_000)
    assert version.cost == Decimal("5000000.00")
    assert version.subsidy == Decimal("3500000.00")
    assert version.min_share == Decimal("0.500")
    cells = sorted((r.pool.code, r.quarter.code, r.gpu_hours) for r in ComputeRequest.objects.filter(version=version))
    assert cells == [("h800", "2026Q1", 100_000), ("h800", "2026Q2", 100_000)]
    assert version.content["attachments"][0]["sha256"] == ready_draft.attachments.get().sha256


def test_proposal_submit_writes_the_version_its_links_and_its_requests_as_built(ready_draft, applicant):
    """The version, its links to the attachments (a removed one not among them) and its compute requests are written
    together (one statement on PostgreSQL): what is read back is what was built, and nothing of another version."""
    from tests.factories.proposals import AttachmentFactory

    annex = AttachmentFactory(proposal=ready_draft, uploaded_by=applicant, kind="other", original_name="annex.pdf")
    AttachmentFactory(proposal=ready_draft, uploaded_by=applicant, removed_at=timezone.now())
    other = services.proposal_submit(proposal=ready_draft, user=applicant)  # a first version, then a second one
    services.proposal_reopen(proposal=ready_draft, user=applicant)
    ready_draft.refresh_from_db()
    version = services.proposal_submit(proposal=ready_draft, user=applicant)
    stored = ProposalVersion.objects.get(pk=version.pk)
    assert (stored.number, stored.proposal_id, stored.submitted_by_id) == (2, ready_draft.pk, applicant.pk)
    assert (stored.content, stored.sha256, stored.submitted_at) == (
        version.content,
        version.sha256,
        version.submitted_at,
    )
    assert (stored.min_share, stored.total_hours, stored.cost, stored.subsidy) == (
        version.min_share,
        version.total_hours,
        version.cost,
        version.subsidy,
    )
    current = {a.pk for a in services.current_attachments(ready_draft)}
    assert annex.pk in current
    assert len(current) == 2
    assert set(stored.attachments.values_list("pk", flat=True)) == current
    assert [a["id"] for a in stored.content["attachments"]] == sorted(current)
    cells = [(r.pool.code, r.quarter.code, r.gpu_hours) for r in stored.compute_requests.order_by("quarter__starts_on")]
    assert cells == [(r["pool"], r["quarter"], r["gpu_hours"]) for r in stored.content["compute"]["requests"]]
    assert other.compute_requests.count() == len(cells)
    assert other.attachments.count() == 2


def test_proposal_submit_sends_one_confirmation_email(ready_draft, applicant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_submit(proposal=ready_draft, user=applicant)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [applicant.email]
    assert ready_draft.reference in mail.outbox[0].subject
    assert ready_draft.current_version.sha256 in mail.outbox[0].body


def test_proposal_submit_tells_the_submitter_and_the_secretariat_by_one_task(
    ready_draft, applicant, django_capture_on_commit_callbacks
):
    """One message to the broker per submission: the submitter's receipt and the secretariat's work waiting."""
    from portal.accounts.enums import Role
    from portal.notifications.models import Notification
    from tests.factories import UserFactory

    secretariat = UserFactory(role=Role.SECRETARIAT)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.proposal_submit(proposal=ready_draft, user=applicant)
    assert [c.__qualname__ for c in callbacks if not c.__qualname__.startswith("email_queue")] == [
        "proposal_submit.<locals>.<lambda>"
    ]
    assert Notification.objects.filter(user=applicant, key__startswith="proposal-submitted:").count() == 1
    assert Notification.objects.filter(user=secretariat, key__startswith="work-waiting:").count() == 1
    assert not Notification.objects.filter(user=applicant, key__startswith="proposal-event:").exists()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([applicant.email, secretariat.email])


def test_proposal_submit_twice_makes_one_submission(ready_draft, applicant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.proposal_submit(proposal=ready_draft, user=applicant)
    stale = type(ready_draft).objects.get(pk=ready_draft.pk)
    stale.state = ProposalState.DRAFT  # a second tab that still shows the draft
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.AlreadySubmitted) as excinfo:
        services.proposal_submit(proposal=stale, user=applicant)
    assert excinfo.value.version == first
    assert ProposalVersion.objects.filter(proposal=ready_draft).count() == 1
    assert len(mail.outbox) == 1


def test_a_second_submit_reads_nothing_it_does_not_need(ready_draft, applicant, django_capture_on_commit_callbacks):
    """The second Submit of a double click waits on the proposal's row and answers from it: it reads no pool, no
    quarter, no attachment (the call's context is read only when the check needs it)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_submit(proposal=ready_draft, user=applicant)
    stale = type(ready_draft).objects.select_related("call").get(pk=ready_draft.pk)
    stale.state = ProposalState.DRAFT
    with CaptureQueriesContext(connection) as queries, pytest.raises(services.AlreadySubmitted):
        services.proposal_submit(proposal=stale, user=applicant)
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "calls_resourcepool" not in read
    assert "calls_quarter" not in read
    assert "proposals_attachment" not in read


def test_proposal_submit_one_second_late_is_refused_and_draft_kept(ready_draft, applicant, call):
    late = call.closes_at + timedelta(seconds=1)
    with pytest.raises(services.SubmissionRefused) as excinfo:
        services.proposal_submit(proposal=ready_draft, user=applicant, now=late)
    assert "call" in excinfo.value.check.problems
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.DRAFT
    assert ready_draft.draft["title"] == "Cantonese large language model"
    assert ProposalVersion.objects.count() == 0


@pytest.mark.parametrize("refusal", ["late", "draft changed"])
def test_a_refused_submit_leaves_no_trace(ready_draft, applicant, call, refusal):
    """The state changes first (its row lock makes a second Submit wait) and the check follows: a refusal rolls the
    change back, with its step on the timeline and its audit record, and the caller's object keeps its state."""
    from portal.proposals.models import ProposalEvent

    records = AuditEvent.objects.count()
    if refusal == "late":
        kwargs, error = {"now": call.closes_at + timedelta(seconds=1)}, services.SubmissionRefused
    else:
        kwargs, error = {"digest": "0" * 64}, services.DraftChanged
    with pytest.raises(error):
        services.proposal_submit(proposal=ready_draft, user=applicant, **kwargs)
    assert ready_draft.state == ProposalState.DRAFT
    ready_draft.refresh_from_db()
    assert (ready_draft.state, ready_draft.reference, ready_draft.current_version_id) == (
        ProposalState.DRAFT,
        None,
        None,
    )
    assert not ProposalEvent.objects.filter(proposal=ready_draft, action="submit").exists()
    assert AuditEvent.objects.count() == records
    assert audit_verify() is None
    version = services.proposal_submit(proposal=ready_draft, user=applicant)  # and it can still be submitted
    assert version.number == 1


def test_proposal_submit_at_the_deadline_is_accepted(ready_draft, applicant, call):
    version = services.proposal_submit(proposal=ready_draft, user=applicant, now=call.closes_at)
    assert version.submitted_at == call.closes_at


def test_proposal_submit_refused_lists_problems_per_section(draft, applicant, call):
    services.proposal_save_draft(
        proposal=draft, raw=complete_draft(call, summary="", min_share="150", hours__h800__2026Q1="abc"), user=applicant
    )
    with pytest.raises(services.SubmissionRefused) as excinfo:
        services.proposal_submit(proposal=draft, user=applicant)
    check = excinfo.value.check
    assert set(check.schema.errors) == {"summary", "min_share", "hours__h800__2026Q1"}
    assert check.problems == {"attachments": ["Attach the technical proposal as a PDF."]}


def test_proposal_submit_requires_some_hours(draft, applicant, call):
    raw = complete_draft(call, hours__h800__2026Q1="", hours__h800__2026Q2="0")
    services.proposal_save_draft(proposal=draft, raw=raw, user=applicant)
    check = services.proposal_check(proposal=draft, context=services.CallContext(call), user=applicant)
    assert check.schema.errors["hours__h800__2026Q1"] == ["Request GPU-hours in at least one quarter."]


def test_proposal_submit_refuses_ineligible_organisation_type(draft, applicant, call):
    call.eligible_org_types = ["university"]
    call.save()
    draft.organisation.org_type = "rnd_centre"
    draft.organisation.save()
    services.proposal_save_draft(proposal=draft, raw=complete_draft(call), user=applicant)
    check = services.proposal_check(proposal=draft, context=services.CallContext(call), user=applicant)
    assert check.problems["eligibility"] == [
        "Organisations of the type “Research institute / R&D centre” may not apply to this call."
    ]


def test_proposal_submit_records_timeline_and_audit(submitted, applicant):
    events = list(submitted.events.values_list("action", "from_state", "to_state"))
    assert events == [("create", "", "draft"), ("submit", "draft", "submitted")]
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["proposal.create", "attachment.add", "proposal.submit", "proposal.version"] or actions == [
        "proposal.create",
        "proposal.submit",
        "proposal.version",
    ]
    assert audit_verify() is None


def test_submitted_version_cannot_be_changed(submitted):
    version = submitted.current_version
    version.content = {"tampered": True}
    with pytest.raises(ValidationError):
        version.save()
    with pytest.raises(ValidationError):
        version.delete()


def _submit_new(call, organisation, applicant):
    from tests.factories.proposals import AttachmentFactory

    proposal = services.proposal_create(call=call, organisation=organisation, user=applicant)
    services.proposal_save_draft(proposal=proposal, raw=complete_draft(call), user=applicant)
    AttachmentFactory(proposal=proposal, uploaded_by=applicant)
    services.proposal_submit(proposal=proposal, user=applicant)
    given = proposal.reference
    proposal.refresh_from_db()
    assert given == proposal.reference  # the object the caller holds says what the row says
    return proposal


def test_reference_numbers_increase(call, applicant, organisation):
    references = [_submit_new(call, organisation, applicant).reference[-4:] for _ in range(2)]
    assert references == ["0001", "0002"]


def test_reference_numbers_keep_four_digits_at_least_past_9999(call, applicant, organisation, settings):
    """PostgreSQL writes the number in the counter's own statement; SQLite in Python: the same text either way."""
    from portal.proposals.models import ReferenceCounter

    year = timezone.localtime().year
    ReferenceCounter.objects.create(prefix=settings.PORTAL_REFERENCE_PREFIX, year=year, last=9998)
    references = [_submit_new(call, organisation, applicant).reference for _ in range(2)]
    assert references == [f"AISS-{year}-9999", f"AISS-{year}-10000"]


def test_proposal_withdraw_needs_reason_and_is_recorded(submitted, applicant):
    with pytest.raises(ValidationError):
        services.proposal_withdraw(proposal=submitted, user=applicant, reason="  ")
    services.proposal_withdraw(proposal=submitted, user=applicant, reason="Funded elsewhere")
    submitted.refresh_from_db()
    assert submitted.state == ProposalState.WITHDRAWN
    event = submitted.events.last()
    assert (event.action, event.reason, event.actor) == ("withdraw", "Funded elsewhere", applicant)


def test_proposal_withdraw_after_decision_is_refused(submitted, applicant):
    type(submitted).objects.filter(pk=submitted.pk).update(state=ProposalState.APPROVED)
    submitted.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.proposal_withdraw(proposal=submitted, user=applicant, reason="Too late")


def test_proposal_create_on_closed_call_is_refused(call, organisation, applicant):
    with pytest.raises(ValidationError):
        services.proposal_create(
            call=call, organisation=organisation, user=applicant, now=call.closes_at + timedelta(seconds=1)
        )


def test_proposal_create_for_another_organisation_is_refused(call, applicant):
    other = OrganisationFactory()
    with pytest.raises(PermissionDenied):
        services.proposal_create(call=call, organisation=other, user=applicant)


def test_co_applicant_organisations_are_recorded(draft, applicant, call):
    partner = OrganisationFactory(name="Partner Lab", org_type="rnd_centre")
    raw = complete_draft(call, co1_name="Prof Lee", co1_organisation=str(partner.pk), co1_email="lee@partner.hk")
    services.proposal_save_draft(proposal=draft, raw=raw, user=applicant)
    from tests.factories.proposals import AttachmentFactory

    AttachmentFactory(proposal=draft, uploaded_by=applicant)
    version = services.proposal_submit(proposal=draft, user=applicant)
    assert list(version.co_organisations.all()) == [partner]
    assert version.content["co_applicants"] == [
        {"name": "Prof Lee", "email": "lee@partner.hk", "organisation_id": partner.pk, "organisation": "Partner Lab"}
    ]


__all__ = ["MembershipFactory"]
