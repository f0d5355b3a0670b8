"""Claw-back: the arithmetic (pure), applying a checkpoint, telling projects before and after, and offering the
reclaimed hours to waitlisted projects by the same optimiser."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.allocations import services
from portal.allocations.clawback import clawback_hours, split_reclaim
from portal.allocations.models import AwardHours, CheckpointStatus, RunKind, RunStatus
from portal.allocations.selectors import locked_hours, reallocation_problem
from portal.notifications.models import Notification
from portal.proposals.enums import ProposalState
from tests.factories import MembershipFactory
from tests.factories.allocations import allocatable_proposal, lock, usage

D = Decimal


@pytest.mark.unit
@pytest.mark.parametrize(
    ("awarded", "used", "threshold", "share", "expected"),
    [
        (D(100_000), D(5_000), D("0.10"), D("0.25"), D(23_750)),  # 5% used: 25% of 95,000
        (D(100_000), D(10_000), D("0.10"), D("0.25"), D(0)),  # exactly 10% used: kept
        (D(100_000), D("9999.9"), D("0.10"), D("0.25"), D(22_500)),  # 25% of 90,000.1, rounded down
        (D(100_000), D(20_000), D("0.25"), D("0.50"), D(40_000)),  # second checkpoint: 50% of 80,000
        (D(100_000), D(0), D("0.25"), D("0.50"), D(50_000)),
        (D(0), D(0), D("0.10"), D("0.25"), D(0)),
    ],
)
def test_clawback_hours_arithmetic(awarded, used, threshold, share, expected):
    assert clawback_hours(awarded=awarded, used=used, threshold=threshold, reclaim_share=share) == expected


@pytest.mark.unit
def test_split_reclaim_proportional_remainder_from_latest():
    assert split_reclaim([("q3", D(30_000)), ("q4", D(10_000))], D(23_750)) == {"q3": D(17_812), "q4": D(5_938)}
    assert split_reclaim([("q3", D(1)), ("q4", D(1))], D(5)) == {"q3": D(1), "q4": D(1)}
    assert split_reclaim([("q3", D(7))], D(0)) == {"q3": D(0)}
    assert split_reclaim([], D(10)) == {}


@pytest.fixture
def allocated(call, officer, chair, django_capture_on_commit_callbacks):
    """Two projects locked at 100,000 GPU-hours in each quarter of 2026 (400,000 each); a third waitlisted."""
    year = {("h800", f"2026Q{q}"): 100_000 for q in range(1, 5)}
    idle = allocatable_proposal(call, hours=year, score="4.5", min_share="1")
    busy = allocatable_proposal(call, hours=year, score="4.4", min_share="1")
    waiting = allocatable_proposal(call, hours={("h800", "2026Q4"): 900_000}, score="3.0", min_share="0.05")
    with django_capture_on_commit_callbacks(execute=True):
        run = services.allocation_run_start(call=call, policy="rank", actor=officer)
    run.refresh_from_db()
    awarded = {a.proposal_id: a.share for a in run.awards.all()}
    assert awarded == {idle.pk: D(1), busy.pk: D(1), waiting.pk: D(1)}
    # Keep the waitlisted one out of the first allocation, as if the committee had not yet approved it.
    waiting_award = run.awards.get(proposal=waiting)
    services.award_adjust(
        award=waiting_award,
        hours={c.pk: D(0) for c in waiting_award.hours.all()},
        reason="Waitlisted by the committee",
        actor=officer,
    )
    lock(call, run, proposer=officer, approver=chair)
    for proposal in (idle, busy):
        proposal.refresh_from_db()
    usage(idle, quarter="2026Q1", hours=5_000)  # 1.25% used
    usage(busy, quarter="2026Q1", hours=90_000)  # 22.5% used
    return {"idle": idle, "busy": busy, "waiting": waiting, "run": run}


@pytest.mark.django_db
@pytest.mark.integration
def test_clawback_default_schedule(call, officer):
    from portal.audit.models import AuditEvent

    first, second = services.clawback_schedule(call=call, actor=officer)
    assert (first.due_on, first.threshold, first.reclaim_share) == (date(2026, 6, 30), D("0.100"), D("0.250"))
    assert (second.due_on, second.threshold, second.reclaim_share) == (date(2026, 9, 30), D("0.250"), D("0.500"))
    assert services.clawback_schedule(call=call, actor=officer) == [first, second]
    created = AuditEvent.objects.filter(action="config.create", object_type="allocations.clawbackcheckpoint")
    assert [(e.object_id, e.actor_id, e.after["threshold"]) for e in created.order_by("seq")] == [
        (str(first.pk), officer.pk, "0.100"),
        (str(second.pk), officer.pk, "0.250"),
    ]


@pytest.mark.django_db
@pytest.mark.integration
def test_clawback_warn_then_apply_reclaims_and_tells_projects(
    call, officer, allocated, django_capture_on_commit_callbacks
):
    idle = allocated["idle"]
    member = MembershipFactory(organisation=idle.organisation).user
    first, _second = services.clawback_schedule(call=call)
    after = timezone.make_aware(datetime(2026, 7, 2, 9))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.clawback_warn(checkpoint=first, actor=officer) == 1
    with pytest.raises(ValidationError):
        services.clawback_apply(checkpoint=first, actor=officer, now=timezone.make_aware(datetime(2026, 6, 1, 9)))
    with django_capture_on_commit_callbacks(execute=True):
        made = services.clawback_apply(checkpoint=first, actor=officer, now=after)

    # 400,000 awarded, 5,000 used: 25% of 395,000 = 98,750, taken from Q3 and Q4 (after 30 June), half each.
    assert [(c.award.proposal_id, c.awarded, c.used, c.reclaimed) for c in made] == [
        (idle.pk, D(400_000), D(5_000), D(98_750))
    ]
    cells = AwardHours.objects.filter(award__proposal=idle).order_by("quarter__starts_on")
    assert [(c.gpu_hours, c.reclaimed) for c in cells] == [
        (D(100_000), D(0)),
        (D(100_000), D(0)),
        (D(50_625), D(49_375)),
        (D(50_625), D(49_375)),
    ]
    q4 = call.quarters.get(code="2026Q4")
    assert locked_hours(quarter_ids=[q4.pk]) == {(call.pools.get().pk, q4.pk): D(150_625)}
    first.refresh_from_db()
    assert first.status == CheckpointStatus.APPLIED
    assert [n.message for n in Notification.objects.filter(user=member).order_by("pk")] == [
        f"{idle.reference}: unless usage rises, 98,750 unused GPU-hours will be reclaimed on 2026-06-30.",
        f"{idle.reference}: 98,750 unused GPU-hours were reclaimed at the checkpoint of 2026-06-30.",
    ]
    assert [m.subject for m in mail.outbox if m.to == [member.email]] == [
        f"{idle.reference}: unused GPU-hours may be reclaimed on 2026-06-30",
        f"{idle.reference}: 98,750 unused GPU-hours reclaimed",
    ]
    with pytest.raises(ValidationError):
        services.clawback_apply(checkpoint=first, actor=officer, now=after)


@pytest.mark.django_db
@pytest.mark.integration
def test_beat_warns_before_each_checkpoint_and_applies_it_on_its_date(
    call, allocated, settings, django_capture_on_commit_callbacks
):
    from portal.allocations.tasks import clawback_checkpoints
    from portal.audit.models import AuditEvent

    idle = allocated["idle"]
    member = MembershipFactory(organisation=idle.organisation).user
    first, second = services.clawback_schedule(call=call)
    settings.CLAWBACK_WARNING_DAYS = 30

    def run_on(day: datetime) -> dict[str, list[int]]:
        with django_capture_on_commit_callbacks(execute=True):
            return services.clawback_checkpoints_run(now=timezone.make_aware(day))

    assert run_on(datetime(2026, 5, 30, 8)) == {"warned": [], "applied": []}  # 31 days before 30 June
    assert run_on(datetime(2026, 5, 31, 8)) == {"warned": [first.pk], "applied": []}
    assert run_on(datetime(2026, 6, 15, 8)) == {"warned": [], "applied": []}  # warned once
    assert run_on(datetime(2026, 6, 30, 8)) == {"warned": [], "applied": [first.pk]}
    assert run_on(datetime(2026, 7, 1, 8)) == {"warned": [], "applied": []}  # applied once
    assert run_on(datetime(2026, 9, 1, 8)) == {"warned": [second.pk], "applied": []}
    # The task itself, on the real date (after both checkpoints): applies the second; then nothing is left.
    with django_capture_on_commit_callbacks(execute=True):
        assert clawback_checkpoints.apply().get() == {"warned": [], "applied": [second.pk]}
        assert clawback_checkpoints.apply().get() == {"warned": [], "applied": []}

    first.refresh_from_db()
    assert (first.status, first.applied_by, first.applied_at) == (
        CheckpointStatus.APPLIED,
        None,
        timezone.make_aware(datetime(2026, 6, 30, 8)),
    )
    assert [c.reclaimed for c in first.clawbacks.order_by("pk")] == [D(98_750)]
    events = AuditEvent.objects.filter(action__startswith="allocation.clawback_").order_by("seq")
    assert [(e.action, e.object_id, e.actor_id) for e in events] == [
        ("allocation.clawback_warn", str(first.pk), None),
        ("allocation.clawback_apply", str(first.pk), None),
        ("allocation.clawback_warn", str(second.pk), None),
        ("allocation.clawback_apply", str(second.pk), None),
    ]
    assert [n.message for n in Notification.objects.filter(user=member).order_by("pk")][:2] == [
        f"{idle.reference}: unless usage rises, 98,750 unused GPU-hours will be reclaimed on 2026-06-30.",
        f"{idle.reference}: 98,750 unused GPU-hours were reclaimed at the checkpoint of 2026-06-30.",
    ]


@pytest.mark.django_db
@pytest.mark.integration
def test_reclaimed_hours_offered_to_waitlisted_by_the_optimiser(
    call, officer, chair, allocated, django_capture_on_commit_callbacks
):
    first, _second = services.clawback_schedule(call=call)
    services.clawback_apply(checkpoint=first, actor=officer, now=timezone.make_aware(datetime(2026, 7, 2, 9)))

    problem = reallocation_problem(checkpoint=first).problem
    assert problem["pools"]["h800"]["capacity"] == {"2026Q3": 1_019_375, "2026Q4": 1_019_375}
    assert [(p["id"], p["request"], p["min_share"]) for p in problem["projects"]] == [
        (allocated["waiting"].reference, {"h800": {"2026Q4": 900_000}}, "0.05"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        run = services.reallocation_start(checkpoint=first, actor=officer)
    run.refresh_from_db()
    assert (run.kind, run.status, run.policy) == (RunKind.REALLOCATION, RunStatus.SUCCEEDED, "optimal")
    award = run.awards.get()
    # The organisation cap binds: 25% of the 2,038,750 GPU-hours left in Q3 and Q4.
    assert (award.share, award.reason) == (D("0.566319"), f"org_cap org-{allocated['waiting'].organisation_id} h800")
    lock(call, run, proposer=officer, approver=chair)
    allocated["waiting"].refresh_from_db()
    assert allocated["waiting"].state == ProposalState.ACTIVE
