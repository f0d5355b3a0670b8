"""Factories for allocation tests: approved proposals with a frozen version, compute requests and a committee
score, made directly (fast); runs made through the real services."""

import itertools
from decimal import Decimal

import factory
from django.utils import timezone

from portal.accounts.enums import Role
from portal.allocations.models import AllocationRun, UsageImport, UsageImportStatus, UsageJob, UsageQuarter
from portal.allocations.sacct import MAX_ELAPSED_SECONDS
from portal.calls.models import Quarter, ResourcePool
from portal.proposals.enums import ProposalState
from portal.proposals.models import ComputeRequest, Proposal, ProposalVersion
from portal.reviews.models import Consensus

from .accounts import OrganisationFactory, UserFactory

_numbers = itertools.count(1)


def allocatable_proposal(
    call,
    *,
    hours: dict[tuple[str, str], int] | None = None,
    min_share: str = "0.5",
    score: str | None = "4.00",
    organisation=None,
    state: str = ProposalState.APPROVED,
    reference: str | None = None,
) -> Proposal:
    """A proposal of ``call`` in ``state`` with a submitted version requesting ``hours`` ((pool code, quarter code)
    -> GPU-hours; default 100,000 in each of the call's first two quarters) and a consensus score."""
    organisation = organisation or OrganisationFactory()
    user = UserFactory()
    number = next(_numbers)
    proposal = Proposal.objects.create(
        call=call,
        organisation=organisation,
        created_by=user,
        state=state,
        reference=reference or f"AISS-2026-{number:04d}",
        title=f"Project {number}",
        submitted_at=timezone.now(),
    )
    if hours is None:
        pool = call.pools.order_by("code").first()
        quarters = list(call.quarters.order_by("starts_on")[:2])
        hours = {(pool.code, q.code): 100_000 for q in quarters}
    pools = {p.code: p for p in ResourcePool.objects.filter(code__in={k[0] for k in hours})}
    quarters = {q.code: q for q in Quarter.objects.filter(code__in={k[1] for k in hours})}
    total = sum(hours.values())
    price = next(iter(pools.values())).list_price
    version = ProposalVersion.objects.create(
        proposal=proposal,
        number=1,
        content={"schema": 1},
        sha256="0" * 64,
        submitted_by=user,
        submitted_at=timezone.now(),
        min_share=Decimal(min_share),
        total_hours=total,
        cost=total * price,
        subsidy=total * price * call.subsidy_rate,
    )
    ComputeRequest.objects.bulk_create(
        ComputeRequest(version=version, pool=pools[p], quarter=quarters[q], gpu_hours=h) for (p, q), h in hours.items()
    )
    Proposal.objects.filter(pk=proposal.pk).update(current_version=version)
    proposal.current_version = version
    if score is not None:
        Consensus.objects.create(
            proposal=proposal,
            score=Decimal(score),
            feedback="Strong proposal.",
            recorded_by=UserFactory(role=Role.COMMITTEE_CHAIR),
        )
    return proposal


def usage(proposal, *, quarter: str, hours: int, partition: str = "h800", job_id: str | None = None) -> UsageJob:
    """A Slurm job of ``proposal``'s account worth ``hours`` GPU-hours, all in ``quarter``."""
    record = UsageImport.objects.create(filename="test.txt", sha256="0" * 64, status=UsageImportStatus.COMPLETED)
    start = timezone.now()
    # Spread a large amount over more GPUs, so that the job's elapsed time stays within what Slurm can report.
    gpus = next(g for g in (1, 8, 16, 3600) if hours * 3600 // g <= MAX_ELAPSED_SECONDS)
    job = UsageJob.objects.create(
        job_id=job_id or f"job-{next(_numbers)}",
        account=proposal.account_code or "unknown",
        partition=partition,
        gpus=gpus,
        elapsed_seconds=hours * 3600 // gpus,
        start=start,
        end=start,
        state="COMPLETED",
        gpu_seconds=hours * 3600,
        gpu_hours=Decimal(hours),
        proposal=proposal,
        imported_in=record,
    )
    UsageQuarter.objects.create(job=job, quarter=quarter, gpu_seconds=hours * 3600, gpu_hours=Decimal(hours))
    return job


class AllocationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllocationRun

    policy = "rank"
    inputs = factory.LazyFunction(dict)
    started_by = factory.SubFactory(UserFactory, role=Role.SECRETARIAT)


def lock(call, run, *, proposer, approver) -> AllocationRun:
    """Lock ``run`` the four-eyes way: ``proposer`` proposes with the totals shown, ``approver`` approves them."""
    from portal.allocations import services

    confirmed = services.lock_fingerprint(services.lock_totals(run))
    services.allocation_lock_propose(run=run, actor=proposer, confirmed=confirmed)
    return services.allocation_lock(call=call, run=run, actor=approver, confirmed=confirmed)
