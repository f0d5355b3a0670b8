"""Allocation runs from the database: the problem built from a call, runs through the Celery task, reasons,
repeats, failures, hand adjustments, locking, tranches."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from portal.accounts.enums import Role
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
from tests.factories.allocations import allocatable_proposal, lock

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


def test_award_adjust_refuses_missing_reason_above_request_fractions(finished_run, officer):
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
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("90000.5")}, reason="Less", actor=officer)
    assert info.value.message_dict == {f"cell_{cell.pk}": ["Awards are in whole GPU-hours."]}


def test_award_adjust_below_minimum_share_needs_a_reason_and_is_flagged(finished_run, officer):
    award = finished_run.awards.first()
    cells = list(award.hours.all())
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={c.pk: Decimal("10000") for c in cells}, reason="Cut", actor=officer)
    assert info.value.message_dict == {
        "limit_reason": [
            "Minimum share: 20,000 GPU-hours is 10.0% of the request, below the project's minimum viable share of "
            "50.0% (100,000 GPU-hours).",
            "To go past a soft limit, give the reason; the chair approves it when approving the lock.",
        ]
    }

    services.award_adjust(
        award=award,
        hours={c.pk: Decimal("10000") for c in cells},
        reason="Cut",
        limit_reason="The applicant confirmed a pilot can run on 20,000 GPU-hours.",
        actor=officer,
    )

    award.refresh_from_db()
    assert (award.share, award.soft_limits) == (Decimal("0.100000"), ["min_share"])
    assert award.soft_limit_reason == "The applicant confirmed a pilot can run on 20,000 GPU-hours."
    assert award_reason(award, pool_names={}, org_names={}).startswith(
        "Adjusted by hand to 10.0% (“Cut”). Past the project's minimum viable share (“The applicant confirmed a "
        "pilot can run on 20,000 GPU-hours.”), for the approving official to approve. Before the adjustment: "
    )
    event = AuditEvent.objects.filter(action="allocation.award_adjust").last()
    assert (event.before["h800 2026Q1"], event.after["h800 2026Q1"], event.after["soft_limits"]) == (
        "100000.000000",
        "10000",
        ["min_share"],
    )


def test_award_adjust_refuses_capacity_and_budget(call, officer, django_capture_on_commit_callbacks):
    big = allocatable_proposal(call, hours={("h800", "2026Q1"): 1_000_000}, score="4.5", min_share="1")
    small = allocatable_proposal(call, hours={("h800", "2026Q1"): 400_000}, score="4.0", min_share="0.1")
    run = start(call, officer, django_capture_on_commit_callbacks)
    award = run.awards.get(proposal=small)
    cell = award.hours.get()
    assert (cell.gpu_hours, run.awards.get(proposal=big).share) == (Decimal("170000"), Decimal(1))

    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("170001")}, reason="More", actor=officer)
    assert info.value.message_dict == {
        f"cell_{cell.pk}": [
            "Capacity: the run would award 1,170,001 GPU-hours of AISC H800 in 2026Q1, above the 1,170,000 "
            "available to it."
        ]
    }


def test_award_adjust_refuses_the_budget(officer, django_capture_on_commit_callbacks):
    call = open_call(budget=Decimal("1000000.00"))
    proposal = allocatable_proposal(call, hours={("h800", "2026Q1"): 100_000}, score="4.5", min_share="0.1")
    run = start(call, officer, django_capture_on_commit_callbacks)
    award = run.awards.get(proposal=proposal)
    cell = award.hours.get()
    # 1,000,000 / (100,000 x 25.00 x 0.70) = 0.571428: 57,142 whole GPU-hours, HK$999,985.00.
    assert (award.reason, cell.gpu_hours, award.subsidy) == ("budget", Decimal("57142"), Decimal("999985.00"))

    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("57143")}, reason="More", actor=officer)

    assert info.value.messages == [
        "Budget: the run's subsidy would be HK$1,000,002.50, above the budget of HK$1,000,000.00 it was solved with;"
        " this award may add at most HK$15.00."
    ]


def test_award_adjust_over_organisation_cap_needs_a_reason(call, officer, django_capture_on_commit_callbacks):
    from tests.factories import OrganisationFactory

    organisation = OrganisationFactory(name="University of Hong Kong")
    first = allocatable_proposal(call, hours={("h800", "2026Q1"): 600_000}, organisation=organisation, score="4.5")
    second = allocatable_proposal(call, hours={("h800", "2026Q2"): 600_000}, organisation=organisation, score="4.0")
    run = start(call, officer, django_capture_on_commit_callbacks)
    # 25% of 4 x 1,170,000 = 1,170,000 for the organisation: 600,000 + 570,000.
    award = run.awards.get(proposal=second)
    cell = award.hours.get()
    assert (cell.gpu_hours, award.reason) == (Decimal("570000"), f"org_cap org-{organisation.pk} h800")
    assert run.awards.get(proposal=first).share == Decimal(1)

    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={cell.pk: Decimal("580000")}, reason="Strategic", actor=officer)
    assert info.value.message_dict == {
        "limit_reason": [
            "Organisation cap: University of Hong Kong would hold 1,180,000 GPU-hours of AISC H800 in this run, above "
            "its cap of 25.0% (1,170,000 GPU-hours).",
            "To go past a soft limit, give the reason; the chair approves it when approving the lock.",
        ]
    }
    services.award_adjust(
        award=award,
        hours={cell.pk: Decimal("580000")},
        reason="Strategic",
        limit_reason="A national priority project.",
        actor=officer,
    )
    award.refresh_from_db()
    assert award.soft_limits == [f"org_cap org-{organisation.pk} h800"]
    # Taking hours away is never held against a limit.
    services.award_adjust(award=award, hours={cell.pk: Decimal("575000")}, reason="Less", actor=officer)
    award.refresh_from_db()
    assert (award.soft_limits, award.soft_limit_reason) == ([], "")


def test_award_hours_database_refuses_negative_and_above_request(finished_run):
    cell = AwardHours.objects.filter(award__run=finished_run).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=cell.requested + 1)


# ---- Whole GPU-hours ---------------------------------------------------------------------------------------------


def test_awards_are_whole_gpu_hours_below_the_optimiser_and_subsidy_follows(
    call, officer, django_capture_on_commit_callbacks
):
    # Tier >= 4.0: three projects of 390,001 GPU-hours in 2026Q1 against 1,170,000: common share
    # 1,170,000 / 1,170,003 -> 0.999997, so the optimiser gives each 0.999997 x 390,001 = 389,999.829997 hours.
    proposals = [
        allocatable_proposal(call, hours={("h800", "2026Q1"): 390_001}, score="4.5", min_share="0.5") for _ in range(3)
    ]
    run = start(call, officer, django_capture_on_commit_callbacks, policy="tiers")

    for proposal in proposals:
        award = run.awards.get(proposal=proposal)
        assert run.result["awards"][proposal.reference]["hours"] == {"h800": {"2026Q1": 389999.829997}}
        assert run.result["awards"][proposal.reference]["subsidy"] == "6824997.02"
        assert award.share == Decimal("0.999997")
        assert award.hours.get().gpu_hours == Decimal("389999")
        assert award.subsidy == Decimal("6824982.50")  # 389,999 x 25.00 x 0.70
    assert run_summaries(runs=[run])[0].hours == Decimal("1169997")


def test_award_hours_database_refuses_fractions(finished_run):
    cell = AwardHours.objects.filter(award__run=finished_run).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=Decimal("1.5"))


def test_tiers_reason_names_the_limit_that_bound_and_its_organisation(
    call, officer, django_capture_on_commit_callbacks
):
    from portal.allocations.models import CallAllocationSettings
    from tests.factories import OrganisationFactory

    CallAllocationSettings.objects.create(call=call, tiers=["4.0"])
    busy = OrganisationFactory(name="University of Hong Kong")
    other = OrganisationFactory(name="Harbour Vision AI Limited")
    # The organisation cap of HKU (1,170,000) binds the tier: 1,170,000 / 1,400,000 = 0.835714 (83.6%).
    mine = [
        allocatable_proposal(call, hours={("h800", quarter): 700_000}, organisation=busy, score="4.5")
        for quarter in ("2026Q1", "2026Q2")
    ]
    theirs = allocatable_proposal(call, hours={("h800", "2026Q3"): 100_000}, organisation=other, score="4.2")
    run = start(call, officer, django_capture_on_commit_callbacks, policy="tiers")
    pools = {"h800": "AISC H800"}
    orgs = {f"org-{busy.pk}": busy.name, f"org-{other.pk}": other.name}

    texts = {a.proposal_id: (a.reason, award_reason(a, pool_names=pools, org_names=orgs)) for a in run.awards.all()}

    assert texts[mine[0].pk] == (
        f"org_cap org-{busy.pk} h800",
        "Cut to 83.6% of its request by the organisation cap of University of Hong Kong in AISC H800.",
    )
    assert texts[theirs.pk] == (
        f"tier_share org_cap org-{busy.pk} h800",
        "Cut to 83.6% of its request: its tier shares one common share, which the organisation cap of University "
        "of Hong Kong in AISC H800 bound (a limit of others, not its own).",
    )


# ---- Four-eyes lock ------------------------------------------------------------------------------------------------


def confirmed(run) -> str:
    return services.lock_fingerprint(services.lock_totals(run))


def test_lock_totals_state_what_is_signed(finished_run, officer):
    totals = services.lock_totals(finished_run)

    assert totals == {
        "run": finished_run.pk,
        "projects": 2,
        "funded": 2,
        "hours": {"h800 2026Q1": "200000", "h800 2026Q2": "200000"},
        "total_hours": "400000",
        "subsidy": "7000000.00",
        "soft_limits": [],
    }


def test_lock_is_proposed_then_approved_by_another_official(call, officer, chair, django_capture_on_commit_callbacks):
    proposal = allocatable_proposal(call, score="4.5")
    run = start(call, officer, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=chair, confirmed=confirmed(run))
    assert info.value.messages == ["The lock must first be proposed by an allocation officer."]
    with pytest.raises(ValidationError) as info:
        services.allocation_lock_propose(run=run, actor=officer, confirmed="0" * 16)
    assert info.value.messages == [
        "The awards changed after the totals were shown to you; check the new totals and confirm again."
    ]
    with pytest.raises(PermissionDenied):
        services.allocation_lock_propose(run=run, actor=UserFactory(), confirmed=confirmed(run))

    with django_capture_on_commit_callbacks(execute=True):
        services.allocation_lock_propose(run=run, actor=officer, confirmed=confirmed(run))

    run.refresh_from_db()
    assert (run.lock_proposed_by, run.lock_totals["subsidy"], run.locked_at) == (officer, "3500000.00", None)
    assert Notification.objects.get(user=chair).message == (
        f"Mr Lau Chi Keung proposes to lock run #{run.pk} of {call.title}: 1 projects, 200,000 GPU-hours, "
        "subsidy HK$3,500,000.00. It waits for your approval."
    )
    award = run.awards.get()
    with pytest.raises(ValidationError) as info:
        services.award_adjust(award=award, hours={}, reason="Late change", actor=officer)
    assert info.value.messages == [
        "The lock of this run has been proposed: withdraw the proposal before adjusting an award."
    ]
    with pytest.raises(PermissionDenied):  # the secretariat cannot approve
        services.allocation_lock(call=call, run=run, actor=UserFactory(role=Role.SECRETARIAT), confirmed=confirmed(run))

    with django_capture_on_commit_callbacks(execute=True):
        services.allocation_lock(call=call, run=run, actor=chair, confirmed=confirmed(run))

    run.refresh_from_db()
    proposal.refresh_from_db()
    assert (run.locked_by, proposal.state) == (chair, ProposalState.ACTIVE)
    event = AuditEvent.objects.get(action="allocation.lock")
    assert (event.actor, event.after["proposed_by"]) == (chair, officer.pk)
    assert AuditEvent.objects.get(action="allocation.lock_propose").after == run.lock_totals


def test_lock_refused_to_its_proposer_and_to_whoever_passed_a_soft_limit(
    finished_run, call, chair, django_capture_on_commit_callbacks
):
    award = finished_run.awards.first()
    services.award_adjust(
        award=award,
        hours={c.pk: Decimal("10000") for c in award.hours.all()},
        reason="Pilot",
        limit_reason="Agreed with the applicant.",
        actor=chair,
    )
    services.allocation_lock_propose(run=finished_run, actor=chair, confirmed=confirmed(finished_run))
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=finished_run, actor=chair, confirmed=confirmed(finished_run))
    assert info.value.messages == [
        "You proposed this lock: another approving official must approve it (four-eyes rule)."
    ]
    other = UserFactory(role=Role.APPROVING_OFFICER)
    with django_capture_on_commit_callbacks(execute=True):
        services.allocation_lock(call=call, run=finished_run, actor=other, confirmed=confirmed(finished_run))
    event = AuditEvent.objects.get(action="allocation.lock")
    assert event.after["soft_limits_approved"] == {str(award.pk): ["min_share"]}


def test_soft_limit_adjuster_may_not_approve_lock(finished_run, call, officer, chair):
    award = finished_run.awards.first()
    services.award_adjust(
        award=award,
        hours={c.pk: Decimal("10000") for c in award.hours.all()},
        reason="Pilot",
        limit_reason="Agreed with the applicant.",
        actor=chair,
    )
    services.allocation_lock_propose(run=finished_run, actor=officer, confirmed=confirmed(finished_run))

    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=finished_run, actor=chair, confirmed=confirmed(finished_run))

    assert info.value.messages == [
        "You took an award of this run past a soft limit: another approving official must approve the lock."
    ]


def test_lock_sent_back_with_reason_then_adjustable(finished_run, call, officer, chair):
    services.allocation_lock_propose(run=finished_run, actor=officer, confirmed=confirmed(finished_run))
    with pytest.raises(ValidationError) as info:
        services.allocation_lock_cancel(run=finished_run, actor=chair, reason=" ")
    assert info.value.message_dict == {"reason": ["Give the reason."]}
    with pytest.raises(PermissionDenied):
        services.allocation_lock_cancel(run=finished_run, actor=UserFactory(role=Role.SECRETARIAT), reason="No")

    services.allocation_lock_cancel(run=finished_run, actor=chair, reason="Check the second project's hours.")

    finished_run.refresh_from_db()
    assert (finished_run.lock_proposed_at, finished_run.lock_totals) == (None, {})
    assert Notification.objects.get(user=officer).message == (
        f"The lock of run #{finished_run.pk} was sent back by {chair.full_name}: Check the second project's hours."
    )
    assert AuditEvent.objects.get(action="allocation.lock_return").reason == "Check the second project's hours."
    award = finished_run.awards.first()
    services.award_adjust(award=award, hours={}, reason="Checked", actor=officer)


def test_allocation_lock_moves_proposals_releases_first_tranche_and_tells_projects(
    call, officer, chair, django_capture_on_commit_callbacks
):
    proposal = allocatable_proposal(call, score="4.5")
    member = MembershipFactory(organisation=proposal.organisation).user
    unfunded = allocatable_proposal(call, hours={("h800", "2026Q1"): 1_200_000}, score="1.0", min_share="1")
    run = start(call, officer, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        lock(call, run, proposer=officer, approver=chair)

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
        services.allocation_lock(call=call, run=run, actor=chair, confirmed=confirmed(run))
    assert info.value.messages == ["This run is already locked."]


def test_allocation_lock_refuses_over_capacity_across_calls(call, officer, chair, django_capture_on_commit_callbacks):
    other = open_call()
    allocatable_proposal(call, hours={("h800", "2026Q1"): 700_000}, score="4.0")
    allocatable_proposal(other, hours={("h800", "2026Q1"): 700_000}, score="4.0")
    first = start(call, officer, django_capture_on_commit_callbacks)
    second = start(other, officer, django_capture_on_commit_callbacks)
    lock(call, first, proposer=officer, approver=chair)
    services.allocation_lock_propose(run=second, actor=officer, confirmed=confirmed(second))

    with pytest.raises(services.CapacityExceeded) as info:
        services.allocation_lock(call=other, run=second, actor=chair, confirmed=confirmed(second))

    assert info.value.messages == [
        "AISC H800 in 2026Q1: 700,000 GPU-hours more would make 1,400,000, above the 1,170,000 that may be awarded."
    ]
    second.refresh_from_db()
    assert second.locked_at is None
    assert Proposal.objects.filter(call=other, state=ProposalState.APPROVED).count() == 1


def test_allocation_lock_refuses_unapproved_and_second_lock(call, officer, chair, django_capture_on_commit_callbacks):
    recommended = allocatable_proposal(call, state=ProposalState.RECOMMENDED)
    run = start(call, officer, django_capture_on_commit_callbacks)
    services.allocation_lock_propose(run=run, actor=officer, confirmed=confirmed(run))
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=chair, confirmed=confirmed(run))
    assert info.value.messages == [
        f"Only approved proposals can be allocated; not yet approved (or no longer): {recommended.reference}."
    ]
    Proposal.objects.filter(pk=recommended.pk).update(state=ProposalState.APPROVED)
    again = start(call, officer, django_capture_on_commit_callbacks)
    lock(call, again, proposer=officer, approver=chair)
    with pytest.raises(ValidationError):
        services.allocation_run_start(call=call, policy="rank", actor=officer)
    with pytest.raises(ValidationError) as info:
        services.allocation_lock(call=call, run=run, actor=chair, confirmed=confirmed(run))
    assert info.value.messages == ["Another run of this call has been locked meanwhile."]


def test_allocation_lock_refuses_missing_capacity_row(officer, chair, django_capture_on_commit_callbacks):
    call = open_call()
    PoolCapacityFactory._meta.model.objects.filter(quarter__code="2026Q2").update(gpu_hours=0)
    allocatable_proposal(call, hours={("h800", "2026Q1"): 10_000}, score="4.0")
    run = start(call, officer, django_capture_on_commit_callbacks)
    lock(call, run, proposer=officer, approver=chair)
    assert run.awards.get().hours.get().gpu_hours == Decimal("10000")


def test_tranche_release_after_progress_report(call, officer, chair, django_capture_on_commit_callbacks):
    allocatable_proposal(call)
    run = start(call, officer, django_capture_on_commit_callbacks)
    lock(call, run, proposer=officer, approver=chair)
    tranche = Tranche.objects.get(number=2)
    # The lock scheduled the progress reports (the first due 2026-04-01): released before any is overdue.
    march = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

    services.tranche_release(tranche=tranche, actor=officer, now=march)

    tranche.refresh_from_db()
    assert (tranche.released_by, tranche.released_at) == (officer, march)
    with pytest.raises(ValidationError):
        services.tranche_release(tranche=tranche, actor=officer, now=march)
    with pytest.raises(PermissionDenied):
        services.tranche_release(tranche=tranche, actor=UserFactory())
