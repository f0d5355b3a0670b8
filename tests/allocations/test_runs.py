"""Allocation runs from the database: the problem built from a call, runs through the Celery task, reasons,
repeats, failures, hand adjustments, locking, tranches."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from portal.allocations import services
from portal.allocations.explain import award_reason
from portal.allocations.models import AllocationRun, Award, AwardHours, RunStatus, Tranche
from portal.allocations.selectors import allocation_problem, run_summaries
from portal.audit.models import AuditEvent
from portal.decisions.models import Recommendation, RecommendedHours
from portal.notifications.models import Notification
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import MembershipFactory, PoolCapacityFactory, UserFactory, open_call
from tests.factories.allocations import allocatable_proposal

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def start(call, officer, django_capture_on_commit_callbacks, policy="rank") -> AllocationRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = services.allocation_run_start(call=call, policy=policy, actor=officer)
    run.refresh_from_db()
    return run


def test_allocation_problem_from_compute_requests_and_scores(call):
    proposal = allocatable_proposal(call, score="4.20", min_share="0.6")

    problem = allocation_problem(call=call).problem

    assert problem == {
        "pools": {
            "h800": {
                "price": "25.00",
                "capacity": {"2026Q1": 1170000, "2026Q2": 1170000, "2026Q3": 1170000, "2026Q4": 1170000},
            }
        },
        "subsidy_rate": "0.700",
        "budget": "300000000.00",
        "org_cap": "0.250",
        "tiers": ["4.0", "3.0"],
        "projects": [
            {
                "id": proposal.reference,
                "org": f"org-{proposal.organisation_id}",
                "score": "4.20",
                "min_share": "0.6",
                "request": {"h800": {"2026Q1": 100000, "2026Q2": 100000}},
            }
        ],
    }


def test_allocation_problem_prefers_current_recommendation_hours_and_rate(call, chair):
    proposal = allocatable_proposal(call, state=ProposalState.RECOMMENDED)
    recommendation = Recommendation.objects.create(
        proposal=proposal,
        version=proposal.current_version,
        recommended=True,
        subsidy_rate=Decimal("0.850"),
        rate_reason="Exceptional public value.",
        recommended_by=chair,
    )
    q3 = call.quarters.get(code="2026Q3")
    RecommendedHours.objects.create(recommendation=recommendation, pool=call.pools.get(), quarter=q3, gpu_hours=50_000)
    allocatable_proposal(call, state=ProposalState.IN_REVIEW)  # not allocatable

    projects = allocation_problem(call=call).problem["projects"]

    assert projects == [
        {
            "id": proposal.reference,
            "org": f"org-{proposal.organisation_id}",
            "score": "4.00",
            "min_share": "0.5",
            "request": {"h800": {"2026Q3": 50000}},
            "subsidy_rate": "0.850",
        }
    ]


def test_run_rank_funds_in_score_order_with_reasons(call, officer, django_capture_on_commit_callbacks):
    big = {("h800", "2026Q1"): 700_000}
    first = allocatable_proposal(call, hours=big, score="4.50")
    second = allocatable_proposal(call, hours=big, score="4.00", min_share="0.5")
    third = allocatable_proposal(call, hours=big, score="3.50", min_share="0.9")

    run = start(call, officer, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED
    assert run.progress == 100
    awards = {a.proposal_id: a for a in run.awards.all()}
    assert awards[first.pk].share == Decimal("1")
    assert awards[second.pk].share == Decimal("0.671428")  # 470,000 of 700,000 left
    assert awards[third.pk].share == Decimal("0")
    assert AwardHours.objects.get(award=awards[first.pk]).gpu_hours == Decimal("700000")
    assert awards[first.pk].subsidy == Decimal("12250000.00")
    names = {"h800": "AISC H800"}
    assert award_reason(awards[first.pk], pool_names=names, org_names={}) == "Funded in full."
    assert (
        award_reason(awards[second.pk], pool_names=names, org_names={})
        == "Cut to 67.1% of its request by the capacity of AISC H800 in 2026Q1."
    )
    assert award_reason(awards[third.pk], pool_names=names, org_names={}) == (
        "Not funded: what was left for it was less than its minimum viable share of 90.0% of its request."
    )


def test_run_repeat_reproduces_the_same_result(call, officer, django_capture_on_commit_callbacks):
    for score in ("4.5", "3.9", "3.1"):
        allocatable_proposal(call, hours={("h800", "2026Q1"): 500_000}, score=score)
    run = start(call, officer, django_capture_on_commit_callbacks, policy="optimal")
    allocatable_proposal(call, score="5.0")  # a later change to the call does not touch the stored inputs

    with django_capture_on_commit_callbacks(execute=True):
        again = services.allocation_run_repeat(run=run, actor=officer)
    again.refresh_from_db()

    assert again.inputs == run.inputs
    assert again.repeat_of == run
    assert again.result["awards"] == run.result["awards"]
    assert again.result["objective"] == run.result["objective"]


def test_run_comparison_summaries(call, officer, django_capture_on_commit_callbacks):
    allocatable_proposal(call, hours={("h800", "2026Q1"): 800_000}, score="4.0", min_share="0.5")
    allocatable_proposal(call, hours={("h800", "2026Q1"): 600_000}, score="3.9", min_share="0.7")
    rank = start(call, officer, django_capture_on_commit_callbacks, policy="rank")
    optimal = start(call, officer, django_capture_on_commit_callbacks, policy="optimal")

    by_rank, by_optimal = run_summaries(runs=[rank, optimal])

    assert (by_rank.funded, by_rank.hours) == (1, Decimal("800000"))
    assert by_rank.value == Decimal("4.000000")
    assert by_optimal.funded == 2
    assert by_optimal.value >= by_rank.value
    assert by_optimal.cells[("h800", "2026Q1")] <= Decimal("1170000")
    assert by_optimal.used_share(("h800", "2026Q1")) == by_optimal.cells[("h800", "2026Q1")] / Decimal("1170000")


def test_run_failure_is_reported_and_last_good_run_kept(call, officer, django_capture_on_commit_callbacks):
    allocatable_proposal(call)
    good = start(call, officer, django_capture_on_commit_callbacks)
    bad = AllocationRun.objects.create(
        call=call, policy="optimal", inputs={"pools": {}}, started_by=officer, time_limit=1.0
    )

    result = services.allocation_run_execute(run_id=bad.pk)

    assert result.status == RunStatus.FAILED
    assert result.error == "The problem was refused: pools: must name at least one pool"
    assert services.allocation_run_execute(run_id=bad.pk).status == RunStatus.FAILED  # idempotent
    from portal.allocations.selectors import last_good_run

    assert last_good_run(call=call) == good


def test_run_start_refused_for_non_official_and_empty_call(call, officer):
    with pytest.raises(PermissionDenied):
        services.allocation_run_start(call=call, policy="rank", actor=UserFactory())
    with pytest.raises(ValidationError) as info:
        services.allocation_run_start(call=call, policy="rank", actor=officer)
    assert info.value.messages == ["No recommended or approved proposal with GPU-hours to allocate."]


# ---- Hand adjustment ---------------------------------------------------------------------------------------------


@pytest.fixture
def finished_run(call, officer, django_capture_on_commit_callbacks):
    allocatable_proposal(call, score="4.5", min_share="0.5")
    allocatable_proposal(call, score="4.0", min_share="0.5")
    return start(call, officer, django_capture_on_commit_callbacks)


def test_award_adjust_sets_hours_share_subsidy_and_audits(finished_run, officer):
    award = finished_run.awards.order_by("-score").first()
    cells = list(award.hours.order_by("quarter__starts_on"))

    services.award_adjust(
        award=award,
        hours={cells[0].pk: Decimal("80000"), cells[1].pk: Decimal("60000")},
        reason="Technical advice: the Q2 training run is smaller.",
        actor=officer,
    )

    award.refresh_from_db()
    assert award.share == Decimal("0.700000")
    assert award.subsidy == Decimal("2450000.00")  # 140,000 x 25.00 x 0.70
    assert award.adjusted_by == officer
    assert [c.gpu_hours for c in award.hours.order_by("quarter__starts_on")] == [Decimal("80000"), Decimal("60000")]
    event = AuditEvent.objects.get(action="allocation.award_adjust")
    assert event.reason == "Technical advice: the Q2 training run is smaller."
    assert award_reason(award, pool_names={}, org_names={}) == (
        "Adjusted by hand to 70.0% (“Technical advice: the Q2 training run is smaller.”). "
        "Before the adjustment: Funded in full."
    )


def test_award_adjust_refuses_missing_reason_above_request_and_below_minimum(finished_run, officer):
    award = finished_run.awards.first()
    cell = award.hours.order_by("quarter__starts_on").first()
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={}, reason=" ", actor=officer)
    assert info.value.message_dict == {"reason": ["Give the reason for the adjustment."]}
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("100001")}, reason="More", actor=officer)
    assert info.value.message_dict == {f"cell_{cell.pk}": ["Between 0 and the 100,000 GPU-hours requested."]}
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("-1")}, reason="Less", actor=officer)
    assert info.value.message_dict == {f"cell_{cell.pk}": ["Between 0 and the 100,000 GPU-hours requested."]}
    others = list(award.hours.all())
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={c.pk: Decimal("10000") for c in others}, reason="Cut", actor=officer)
    assert info.value.messages == [
        "That is 10.0% of the request, below the minimum viable share of 50.0%: award nothing or at least the minimum."
    ]


def test_award_hours_database_refuses_negative_and_above_request(finished_run):
    cell = AwardHours.objects.filter(award__run=finished_run).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=cell.requested + 1)


# ---- Lock ----------------------------------------------------------------------------------------------------------


def test_allocation_lock_moves_proposals_releases_first_tranche_and_tells_projects(
    call, officer, django_capture_on_commit_callbacks
):
    proposal = allocatable_proposal(call, score="4.5")
    member = MembershipFactory(organisation=proposal.organisation).user
    unfunded = allocatable_proposal(call, hours={("h800", "2026Q1"): 1_200_000}, score="1.0", min_share="1")
    run = start(call, officer, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.allocation_lock(call=call, run=run, actor=officer)

    proposal.refresh_from_db()
    unfunded.refresh_from_db()
    assert proposal.state == ProposalState.ACTIVE
    assert proposal.account_code == "aiss-2026-" + proposal.reference[-4:]
    assert unfunded.state == ProposalState.APPROVED
    assert list(proposal.events.values_list("action", flat=True))[-2:] == ["allocate", "activate"]
    award = Award.objects.get(run=run, proposal=proposal)
    assert [(t.number, t.share, t.released_at is not None) for t in award.tranches.all()] == [
        (1, Decimal("0.500"), True),
        (2, Decimal("0.500"), False),
    ]
    assert Notification.objects.get(user=member).message == f"{proposal.reference} is awarded 200,000 GPU-hours."
    assert [m.subject for m in mail.outbox if m.to == [member.email]] == [f"{proposal.reference}: your GPU-hour award"]
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=officer)
    assert info.value.messages == ["This run is already locked."]


def test_allocation_lock_refuses_over_capacity_across_calls(call, officer, django_capture_on_commit_callbacks):
    other = open_call()
    allocatable_proposal(call, hours={("h800", "2026Q1"): 700_000}, score="4.0")
    allocatable_proposal(other, hours={("h800", "2026Q1"): 700_000}, score="4.0")
    first = start(call, officer, django_capture_on_commit_callbacks)
    second = start(other, officer, django_capture_on_commit_callbacks)
    services.allocation_lock(call=call, run=first, actor=officer)

    with pytest.raises(services.CapacityExceeded) as info:
        services.allocation_lock(call=other, run=second, actor=officer)

    assert info.value.messages == [
        "AISC H800 in 2026Q1: 700,000 GPU-hours more would make 1,400,000, above the 1,170,000 that may be awarded."
    ]
    second.refresh_from_db()
    assert second.locked_at is None
    assert Proposal.objects.filter(call=other, state=ProposalState.APPROVED).count() == 1


def test_allocation_lock_refuses_unapproved_and_second_lock(call, officer, django_capture_on_commit_callbacks):
    recommended = allocatable_proposal(call, state=ProposalState.RECOMMENDED)
    run = start(call, officer, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=officer)
    assert info.value.messages == [
        f"Only approved proposals can be allocated; not yet approved (or no longer): {recommended.reference}."
    ]
    Proposal.objects.filter(pk=recommended.pk).update(state=ProposalState.APPROVED)
    again = start(call, officer, django_capture_on_commit_callbacks)
    services.allocation_lock(call=call, run=again, actor=officer)
    with pytest.raises(ValidationError):
        services.allocation_run_start(call=call, policy="rank", actor=officer)
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=officer)
    assert info.value.messages == ["Another run of this call has been locked meanwhile."]


def test_allocation_lock_refuses_missing_capacity_row(officer, django_capture_on_commit_callbacks):
    call = open_call()
    PoolCapacityFactory._meta.model.objects.filter(quarter__code="2026Q2").update(gpu_hours=0)
    allocatable_proposal(call, hours={("h800", "2026Q1"): 10_000}, score="4.0")
    run = start(call, officer, django_capture_on_commit_callbacks)
    services.allocation_lock(call=call, run=run, actor=officer)
    assert run.awards.get().hours.get().gpu_hours == Decimal("10000")


def test_tranche_release_after_progress_report(call, officer, django_capture_on_commit_callbacks):
    allocatable_proposal(call)
    run = start(call, officer, django_capture_on_commit_callbacks)
    services.allocation_lock(call=call, run=run, actor=officer)
    tranche = Tranche.objects.get(number=2)

    services.tranche_release(tranche=tranche, actor=officer)

    tranche.refresh_from_db()
    assert tranche.released_by == officer
    with pytest.raises(ValidationError):
        services.tranche_release(tranche=tranche, actor=officer)
    with pytest.raises(PermissionDenied):
        services.tranche_release(tranche=tranche, actor=UserFactory())
