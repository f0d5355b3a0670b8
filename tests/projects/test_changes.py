"""Change requests (issue 11 point 3): the life (submitted -> recommended -> approved / refused, withdrawn), the
four-eyes rule, what an approved change does to the award (hours, share, subsidy, a new version, the audit log,
the applicant and the centre told), and the refusals: unused hours, capacity, the call's budget, conflicts."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.accounts.enums import Role
from portal.allocations.models import Award
from portal.audit.models import AuditEvent
from portal.audit.verification import records_verify
from portal.calls.models import Quarter
from portal.notifications.models import Notification
from portal.projects.centre import slurm_limits
from portal.projects.changes import change_request_submit, change_request_transition
from portal.projects.enums import AwardVersionKind, ChangeRequestState
from portal.projects.models import ChangeRequest
from portal.projects.versions import award_versions
from portal.reviews.models import Declaration
from tests.factories import MembershipFactory, UserFactory
from tests.factories.allocations import usage

D = Decimal
pytestmark = [pytest.mark.django_db, pytest.mark.integration]
JAN = timezone.make_aware(datetime(2026, 1, 10, 10))  # in 2026Q1: every quarter of the call is still open


@pytest.fixture
def idle(locked):
    proposal = locked["idle"]
    proposal.member = MembershipFactory(organisation=proposal.organisation).user
    usage(proposal, quarter="2026Q1", hours=5_000)
    return proposal


def q(code: str) -> Quarter:
    return Quarter.objects.get(code=code)


def cells_of(proposal) -> dict[str, tuple[Decimal, Decimal]]:
    award = Award.objects.get(proposal=proposal, run__locked_at__isnull=False)
    return {c.quarter.code: (c.gpu_hours, c.requested) for c in award.hours.select_related("quarter")}


def submit(proposal, kind, quarter, hours=0, to=None, reason="The data arrive later than planned."):
    return change_request_submit(
        proposal=proposal,
        kind=kind,
        pool=proposal.call.pools.get(),
        quarter=q(quarter),
        to_quarter=q(to) if to else None,
        gpu_hours=hours,
        reason=reason,
        actor=proposal.member,
        now=JAN,
    )


def approve(change, officer, chair, capture):
    with capture(execute=True):
        change_request_transition(request=change, action="recommend", actor=officer, note="Fits.", now=JAN)
        return change_request_transition(request=change, action="approve", actor=chair, now=JAN)


def test_extension_moves_unused_hours_makes_a_version_audits_and_tells_everyone(
    idle, officer, chair, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change = submit(idle, "extension", "2026Q1", 30_000, to="2026Q3")
    assert change.state == ChangeRequestState.SUBMITTED
    assert Notification.objects.filter(user=officer, key=f"change-submitted:{change.pk}").exists()

    change = approve(change, officer, chair, django_capture_on_commit_callbacks)

    assert change.state == ChangeRequestState.APPROVED
    assert cells_of(idle) == {
        "2026Q1": (D(70_000), D(70_000)),  # the request moves with the hours
        "2026Q2": (D(100_000), D(100_000)),
        "2026Q3": (D(130_000), D(130_000)),
        "2026Q4": (D(100_000), D(100_000)),
    }
    award = Award.objects.get(pk=change.award_id)
    assert (award.subsidy, award.share) == (D("7000000.00"), D("1.000000"))  # same hours, same price
    versions = list(award_versions(proposal=idle))
    assert [(v.number, v.kind, v.actor) for v in versions] == [
        (1, AwardVersionKind.LOCK, chair),
        (2, AwardVersionKind.EXTENSION, chair),
    ]
    assert (change.version, versions[1].reason) == (versions[1], "The data arrive later than planned.")
    actions = list(
        AuditEvent.objects.filter(object_type="projects.changerequest", object_id=str(change.pk))
        .order_by("seq")
        .values_list("action", "actor_id")
    )
    assert actions == [
        ("change_request.submit", idle.member.pk),
        ("change_request.recommend", officer.pk),
        ("change_request.approve", chair.pk),
    ]
    assert AuditEvent.objects.filter(action="allocation.award_changed", object_id=str(award.pk)).count() == 1
    problems, _counts = records_verify()
    assert [str(p) for p in problems if p.record.startswith("award")] == []
    # The applicant is told in the app and by email; the secretariat to export the Slurm limits.
    assert Notification.objects.get(user=idle.member, key=f"change-decided:{change.pk}").message == (
        f"{idle.reference}: your change request (Extension: move unused hours to a later quarter) is approved"
    )
    assert [m.subject for m in mail.outbox if m.to == [idle.member.email]] == [
        f"{idle.reference}: your change request (Extension: move unused hours to a later quarter) is approved"
    ]
    assert Notification.objects.filter(user=officer, key=f"award-version:{versions[1].pk}").exists()
    # The centre's limit for 2026Q3 follows the award.
    idle.account_code = "aiss-idle"
    idle.save(update_fields=["account_code"])
    assert {lim.account: lim.minutes for lim in slurm_limits(quarter="2026Q3")}["aiss-idle"] == 130_000 * 60


def test_extension_refused_beyond_the_unused_hours(idle):
    with pytest.raises(ValidationError) as refused:
        submit(idle, "extension", "2026Q1", 95_001, to="2026Q3")
    assert refused.value.message_dict == {
        "gpu_hours": ["At most 95,000 unused GPU-hours of AISC H800 in 2026Q1 can move."]
    }
    with pytest.raises(ValidationError) as refused:
        submit(idle, "extension", "2026Q3", 10, to="2026Q2")
    assert refused.value.message_dict == {
        "to_quarter": ["Choose a quarter after 2026Q3: hours move to a later quarter."]
    }
    assert not ChangeRequest.objects.exists()


def test_supplement_refused_beyond_the_pools_capacity_with_the_reason(idle):
    # 1,300,000 a quarter, 10% held back: 1,170,000 may be awarded; the two locked projects hold 200,000.
    with pytest.raises(ValidationError) as refused:
        submit(idle, "supplement", "2026Q4", 970_001)
    assert refused.value.message_dict == {
        "gpu_hours": [
            "Capacity: AISC H800 in 2026Q4: 970,001 GPU-hours more would make 1,170,001, above the 1,170,000 that "
            "may be awarded."
        ]
    }
    assert submit(idle, "supplement", "2026Q4", 970_000).state == ChangeRequestState.SUBMITTED


def test_supplement_refused_beyond_the_calls_budget(idle, call):
    call.budget = D("14500000.00")  # 14,000,000 committed by the two awards
    call.save(update_fields=["budget"])
    with pytest.raises(ValidationError) as refused:
        submit(idle, "supplement", "2026Q4", 40_000)  # 40,000 x HK$25.00 x 70% = HK$700,000.00
    assert refused.value.message_dict == {
        "gpu_hours": [
            "Budget: the change adds HK$700,000.00 of subsidy, which would commit HK$14,700,000.00 of the call's "
            "budget of HK$14,500,000.00 (HK$500,000.00 left)."
        ]
    }
    assert submit(idle, "supplement", "2026Q4", 28_571).state == ChangeRequestState.SUBMITTED  # HK$499,992.50


def test_approval_checks_capacity_again_under_the_row_locks(
    locked, idle, officer, chair, django_capture_on_commit_callbacks
):
    busy = locked["busy"]
    busy.member = MembershipFactory(organisation=busy.organisation).user
    first = submit(idle, "supplement", "2026Q4", 500_000)
    second = submit(busy, "supplement", "2026Q4", 500_000)
    change_request_transition(request=second, action="recommend", actor=UserFactory(role=Role.SECRETARIAT), now=JAN)
    approve(first, officer, chair, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as refused:
        change_request_transition(request=second, action="approve", actor=chair, now=JAN)
    assert refused.value.messages == [
        "Capacity: AISC H800 in 2026Q4: 500,000 GPU-hours more would make 1,200,000, above the 1,170,000 that may "
        "be awarded."
    ]
    second.refresh_from_db()
    assert second.state == ChangeRequestState.RECOMMENDED
    assert cells_of(busy)["2026Q4"] == (D(100_000), D(100_000))


def test_supplement_adds_hours_and_subsidy(idle, officer, chair, django_capture_on_commit_callbacks):
    change = approve(submit(idle, "supplement", "2026Q4", 40_000), officer, chair, django_capture_on_commit_callbacks)
    award = Award.objects.get(pk=change.award_id)
    assert cells_of(idle)["2026Q4"] == (D(140_000), D(140_000))
    assert (award.subsidy, award.share) == (D("7700000.00"), D("1.000000"))  # 440,000 x 25 x 0.7
    assert (change.version.number, change.version.gpu_hours, change.version.subsidy) == (
        2,
        D(440_000),
        D("7700000.00"),
    )


def test_reduction_gives_back_hours_and_subsidy(idle, officer, chair, django_capture_on_commit_callbacks):
    change = approve(submit(idle, "reduction", "2026Q2", 20_000), officer, chair, django_capture_on_commit_callbacks)
    award = Award.objects.get(pk=change.award_id)
    assert cells_of(idle)["2026Q2"] == (D(80_000), D(100_000))
    assert (award.subsidy, award.share) == (D("6650000.00"), D("0.950000"))  # 380,000 of 400,000
    with pytest.raises(ValidationError) as refused:
        submit(idle, "reduction", "2026Q1", 95_001)
    assert refused.value.message_dict == {
        "gpu_hours": ["At most the 95,000 unused GPU-hours of AISC H800 in 2026Q1 can be given back."]
    }


def test_early_end_returns_every_later_hour(idle, officer, chair, django_capture_on_commit_callbacks):
    change = change_request_submit(
        proposal=idle, kind="early_end", quarter=q("2026Q2"), reason="The model converged.", actor=idle.member, now=JAN
    )
    assert (change.pool, change.gpu_hours, change.to_quarter) == (None, 0, None)
    change = approve(change, officer, chair, django_capture_on_commit_callbacks)
    assert {k: v[0] for k, v in cells_of(idle).items()} == {
        "2026Q1": D(100_000),
        "2026Q2": D(100_000),
        "2026Q3": D(0),
        "2026Q4": D(0),
    }
    assert Award.objects.get(pk=change.award_id).subsidy == D("3500000.00")
    assert change.version.kind == AwardVersionKind.EARLY_END
    with pytest.raises(ValidationError) as refused:
        change_request_submit(
            proposal=idle, kind="early_end", quarter=q("2026Q3"), reason="Again.", actor=idle.member, now=JAN
        )
    assert refused.value.message_dict == {"quarter": ["The award has no hours after 2026Q3: there is nothing to end."]}


def test_four_eyes_the_recommender_may_not_approve(idle, officer, chair):
    change = submit(idle, "supplement", "2026Q4", 1_000)
    change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
    with pytest.raises(ValidationError) as refused:
        change_request_transition(request=change, action="approve", actor=officer, now=JAN)
    assert refused.value.messages == ["You recommended this change: another official must approve it (four-eyes rule)."]
    with pytest.raises(ValidationError) as refused:
        change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
    assert refused.value.messages == ["This change request is Recommended: it cannot be done now."]
    another = UserFactory(role=Role.SECRETARIAT)
    assert change_request_transition(request=change, action="approve", actor=another, now=JAN).state == "approved"


def test_only_the_secretariat_recommends_and_conflicted_officials_cannot_act(idle, chair):
    change = submit(idle, "supplement", "2026Q4", 1_000)
    with pytest.raises(PermissionDenied):
        change_request_transition(request=change, action="recommend", actor=chair, now=JAN)
    with pytest.raises(PermissionDenied):
        change_request_transition(request=change, action="recommend", actor=idle.member, now=JAN)
    conflicted = UserFactory(role=Role.SECRETARIAT)
    Declaration.objects.create(
        proposal=idle, user=conflicted, conflicted=True, reason="Co-author", recorded_by=conflicted
    )
    with pytest.raises(PermissionDenied):
        change_request_transition(request=change, action="recommend", actor=conflicted, now=JAN)
    with pytest.raises(PermissionDenied):
        change_request_transition(request=change, action="refuse", actor=conflicted, note="No.", now=JAN)


def test_refusal_needs_a_note_and_tells_the_applicant(idle, officer, django_capture_on_commit_callbacks):
    change = submit(idle, "supplement", "2026Q4", 1_000)
    with pytest.raises(ValidationError) as refused:
        change_request_transition(request=change, action="refuse", actor=officer, now=JAN)
    assert refused.value.message_dict == {"note": ["Give the reason."]}
    with django_capture_on_commit_callbacks(execute=True):
        change_request_transition(request=change, action="refuse", actor=officer, note="Not justified.", now=JAN)
    change.refresh_from_db()
    assert (change.state, change.decided_by, change.decision_note, change.version) == (
        "refused",
        officer,
        "Not justified.",
        None,
    )
    body = next(m.body for m in mail.outbox if m.to == [idle.member.email])
    assert "is refused" in body
    assert "Note: Not justified." in body
    assert cells_of(idle)["2026Q4"] == (D(100_000), D(100_000))


def test_applicant_withdraws_before_a_decision_only(idle, officer):
    change = submit(idle, "supplement", "2026Q4", 1_000)
    other_applicant = MembershipFactory().user
    with pytest.raises(PermissionDenied):
        change_request_transition(request=change, action="withdraw", actor=other_applicant, now=JAN)
    change_request_transition(request=change, action="withdraw", actor=idle.member, now=JAN)
    change.refresh_from_db()
    assert change.state == ChangeRequestState.WITHDRAWN
    with pytest.raises(ValidationError):
        change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
    assert AuditEvent.objects.filter(action="change_request.withdraw", object_id=str(change.pk)).count() == 1


def test_only_applicants_of_an_active_project_ask_and_need_a_reason(idle, officer):
    with pytest.raises(PermissionDenied):
        change_request_submit(proposal=idle, kind="supplement", quarter=q("2026Q4"), reason="x", actor=officer, now=JAN)
    with pytest.raises(ValidationError) as refused:
        submit(idle, "supplement", "2026Q4", 10, reason="   ")
    assert refused.value.message_dict == {"reason": ["Give the reason for the change."]}


def test_a_project_no_longer_active_cannot_have_its_change_approved(idle, officer, chair):
    from portal.proposals.models import Proposal

    change = submit(idle, "supplement", "2026Q4", 1_000)
    change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
    Proposal.objects.filter(pk=idle.pk).update(state="completed")
    with pytest.raises(ValidationError) as refused:
        change_request_transition(request=change, action="approve", actor=chair, now=JAN)
    assert refused.value.messages == ["The project is no longer active: refuse the change request instead."]
    assert change_request_transition(
        request=change, action="refuse", actor=chair, note="Completed.", now=JAN
    ).state == ("refused")
