"""Two officials lock at the same moment, in two threads with their own database connections: the row locks on
the pool capacity rows serialise them, so the pool is never over-allocated (PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from portal.allocations import services
from portal.allocations.models import AllocationRun
from portal.allocations.selectors import locked_hours
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import UserFactory, open_call
from tests.factories.allocations import allocatable_proposal

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _race(jobs):
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def work(index, job):
        try:
            barrier.wait(timeout=10)
            job()
            outcomes[index] = "locked"
        except ValidationError as exc:
            outcomes[index] = exc.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _confirmed(run) -> str:
    return services.lock_fingerprint(services.lock_totals(run))


@pytest.mark.parametrize("attempt", range(2))
def test_concurrent_locks_never_over_allocate_a_pool(attempt):
    from portal.accounts.enums import Role

    officers = [UserFactory(role=Role.SECRETARIAT), UserFactory(role=Role.SECRETARIAT)]
    approvers = [UserFactory(role=Role.COMMITTEE_CHAIR), UserFactory(role=Role.APPROVING_OFFICER)]
    calls = [open_call(), open_call()]
    runs = []
    for call, officer in zip(calls, officers, strict=True):
        allocatable_proposal(call, hours={("h800", "2026Q1"): 700_000}, score="4.0")
        run = services.allocation_run_start(call=call, policy="rank", actor=officer)
        services.allocation_run_execute(run_id=run.pk)
        run = AllocationRun.objects.get(pk=run.pk)
        services.allocation_lock_propose(run=run, actor=officer, confirmed=_confirmed(run))
        runs.append(run)

    outcomes = _race(
        [
            lambda c=call, r=run, o=approver: services.allocation_lock(call=c, run=r, actor=o, confirmed=_confirmed(r))
            for call, run, approver in zip(calls, runs, approvers, strict=True)
        ]
    )

    assert sorted(outcomes) == [
        "AISC H800 in 2026Q1: 700,000 GPU-hours more would make 1,400,000, above the 1,170,000 that may be awarded.",
        "locked",
    ]
    assert list(locked_hours().values()) == [Decimal("700000.000000")]
    assert Proposal.objects.filter(state=ProposalState.ACTIVE).count() == 1
    assert AllocationRun.objects.filter(locked_at__isnull=False).count() == 1


def test_concurrent_locks_of_two_runs_of_one_call_lock_one():
    from portal.accounts.enums import Role

    officer = UserFactory(role=Role.SECRETARIAT)
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    approver = UserFactory(role=Role.APPROVING_OFFICER)
    call = open_call()
    allocatable_proposal(call, hours={("h800", "2026Q1"): 100_000}, score="4.0")
    runs = []
    for policy in ("rank", "optimal"):
        run = services.allocation_run_start(call=call, policy=policy, actor=officer)
        services.allocation_run_execute(run_id=run.pk)
        run = AllocationRun.objects.get(pk=run.pk)
        services.allocation_lock_propose(run=run, actor=officer, confirmed=_confirmed(run))
        runs.append(run)

    outcomes = _race(
        [
            lambda: services.allocation_lock(call=call, run=runs[0], actor=chair, confirmed=_confirmed(runs[0])),
            lambda: services.allocation_lock(call=call, run=runs[1], actor=approver, confirmed=_confirmed(runs[1])),
        ]
    )

    assert sorted(outcomes) == ["Another run of this call has been locked meanwhile.", "locked"]
    assert list(locked_hours().values()) == [Decimal("100000.000000")]
