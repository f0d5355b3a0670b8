"""The demo's locked allocation for the active projects, and a run executed by a real Celery worker."""

import time
from decimal import Decimal

import pytest

from portal.allocations import services
from portal.allocations.demo import demo_allocation_lock
from portal.allocations.models import AllocationRun, RunStatus
from portal.allocations.selectors import project_usage
from portal.proposals.enums import ProposalState
from tests.factories import UserFactory, open_call
from tests.factories.allocations import allocatable_proposal, usage


@pytest.mark.django_db
@pytest.mark.integration
def test_demo_allocation_lock_awards_active_projects(call, officer):
    proposals = []
    for code in ("aiss-0007", "aiss-0012"):
        proposal = allocatable_proposal(call, state=ProposalState.ACTIVE)
        proposal.account_code = code
        proposal.save(update_fields=["account_code"])
        proposals.append(proposal)

    run = demo_allocation_lock(call=call, proposals=proposals, actor=officer)

    assert run.locked_at is not None
    assert sorted(a.share for a in run.awards.all()) == [Decimal(1), Decimal(1)]
    usage(proposals[0], quarter="2026Q1", hours=640)
    figures = project_usage(proposal=proposals[0], today=run.locked_at.date())
    assert (figures.awarded, figures.used, figures.released) == (Decimal(200_000), Decimal("640.0"), Decimal(100_000))
    assert demo_allocation_lock(call=call, proposals=proposals, actor=officer) is None


@pytest.mark.integration
def test_run_executed_by_real_celery_worker(celery_worker):
    from portal.accounts.enums import Role

    call = open_call()
    allocatable_proposal(call)
    run = services.allocation_run_start(call=call, policy="optimal", actor=UserFactory(role=Role.SECRETARIAT))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            break
        time.sleep(0.2)
    assert run.status == RunStatus.SUCCEEDED
    assert AllocationRun.objects.get(pk=run.pk).awards.get().share == Decimal(1)
