from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.accounts.enums import Role
from portal.allocations import services
from portal.allocations.models import AllocationRun, Award, AwardHours, RunStatus, Tranche, TrancheCondition
from portal.calls.models import Quarter, ResourcePool
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import UserFactory, open_call
from tests.factories.allocations import allocatable_proposal, lock


@pytest.fixture
def call(db):
    return open_call()


@pytest.fixture
def officer(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Ms Chan Siu Ming")


@pytest.fixture
def chair(db):
    return UserFactory(role=Role.COMMITTEE_CHAIR, full_name="Dr Wong Tai Man")


def locked_project(
    call, *, account: str, hours: dict[tuple[str, str], int], rate: str = "0.700", subsidy: str | None = None
) -> Proposal:
    """An active project with account ``account`` and a locked award of ``hours`` ((pool, quarter) -> GPU-hours)
    at ``rate``, its subsidy worked from the pools' list prices unless ``subsidy`` says otherwise; tranche 1
    released, tranche 2 held for the first progress report."""
    proposal = allocatable_proposal(call, hours=hours, state=ProposalState.ACTIVE)
    Proposal.objects.filter(pk=proposal.pk).update(account_code=account)
    proposal.account_code = account
    run = AllocationRun.objects.filter(call=call, locked_at__isnull=False).first()
    if run is None:
        run = AllocationRun.objects.create(
            call=call,
            policy="rank",
            status=RunStatus.SUCCEEDED,
            inputs={},
            started_by=UserFactory(role=Role.SECRETARIAT),
            locked_at=datetime(2025, 12, 20, tzinfo=UTC),
        )
    pools = {p.code: p for p in ResourcePool.objects.all()}
    quarters = {q.code: q for q in Quarter.objects.all()}
    worked = sum(
        (Decimal(h) * pools[p].list_price * Decimal(rate) for (p, _q), h in hours.items()), Decimal("0")
    ).quantize(Decimal("0.01"))
    award = Award.objects.create(
        run=run,
        proposal=proposal,
        score=Decimal("4"),
        min_share=Decimal("0.5"),
        share=Decimal("1"),
        subsidy_rate=Decimal(rate),
        subsidy=Decimal(subsidy) if subsidy is not None else worked,
    )
    for (pool, quarter), gpu_hours in hours.items():
        AwardHours.objects.create(
            award=award, pool=pools[pool], quarter=quarters[quarter], requested=gpu_hours, gpu_hours=gpu_hours
        )
    Tranche.objects.create(
        award=award, number=1, share=Decimal("0.5"), condition=TrancheCondition.START, released_at=timezone.now()
    )
    Tranche.objects.create(award=award, number=2, share=Decimal("0.5"), condition=TrancheCondition.PROGRESS_REPORT)
    return proposal


@pytest.fixture
def locked(call, officer, chair, django_capture_on_commit_callbacks):
    """Two projects locked at 100,000 GPU-hours in each quarter of 2026 (pool h800, HK$25.00, 70%), both active."""
    year = {("h800", f"2026Q{q}"): 100_000 for q in range(1, 5)}
    idle = allocatable_proposal(call, hours=year, score="4.5", min_share="1")
    busy = allocatable_proposal(call, hours=year, score="4.4", min_share="1")
    with django_capture_on_commit_callbacks(execute=True):
        run = services.allocation_run_start(call=call, policy="rank", actor=officer)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        lock(call, run, proposer=officer, approver=chair)
    run.refresh_from_db()
    for proposal in (idle, busy):
        proposal.refresh_from_db()
    return {"idle": idle, "busy": busy, "run": run}
