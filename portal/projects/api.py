"""The centre's read-only JSON API (django-ninja): awards, usage summaries and Slurm limits, paginated, for clients
holding a token that the secretariat created (``Authorization: Bearer aiss_…``). Every use is audited. The OpenAPI
schema is at ``/api/centre/openapi.json``; no interactive docs page (it would load scripts from a CDN)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate
from ninja.security import HttpBearer

from portal.allocations.models import Award, AwardHours
from portal.allocations.usage import usage_by_account_quarter
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal

from .billing import hours_from_seconds, parse_quarter
from .centre import centre_client_authenticate, current_quarter, slurm_limits
from .models import AwardVersion

PAGE_SIZE = 50


class CentreToken(HttpBearer):
    def authenticate(self, request, token):
        return centre_client_authenticate(token=token, path=request.get_full_path())


api = NinjaAPI(
    title="AISS portal: the compute centre's API",
    version="1",
    description="Read-only: awards, usage summaries and Slurm account limits. Bearer tokens from the secretariat.",
    urls_namespace="centre_api",
    docs_url=None,
    auth=CentreToken(),
)


class Pagination(PageNumberPagination):
    def __init__(self, **kwargs):
        super().__init__(page_size=PAGE_SIZE, max_page_size=200, **kwargs)


def _quarter(value: str | None) -> str:
    if value is None:
        return current_quarter()
    try:
        parse_quarter(value)
    except ValueError:
        raise HttpError(400, "quarter must look like 2026Q1") from None
    return value


class AwardCell(Schema):
    pool: str
    quarter: str
    gpu_hours: int


class VersionOut(Schema):
    run: int = Field(..., description="the allocation run of the award")
    number: int = Field(
        ..., description="1 is the lock; every later change (claw-back, change request, completion) is the next"
    )
    kind: str = Field(..., description="lock, clawback, extension, supplement, reduction, early_end or completion")
    made_at: datetime
    gpu_hours: int
    subsidy: Decimal

    @staticmethod
    def resolve_run(obj) -> int:
        return obj.award.run_id

    @staticmethod
    def resolve_made_at(obj) -> datetime:
        return obj.created_at

    @staticmethod
    def resolve_gpu_hours(obj) -> int:
        return int(obj.gpu_hours)


class AwardOut(Schema):
    account: str = Field(..., description="the Slurm account")
    proposal: str
    title: str
    call: str
    state: str
    subsidy_rate: Decimal
    subsidy: Decimal = Field(..., description="approved subsidy, HK$")
    hours: list[AwardCell] = Field(..., description="awarded GPU-hours per pool and quarter, after claw-back")
    versions: list[VersionOut] = Field(..., description="the award's versions, oldest first: what changed and when")

    @staticmethod
    def resolve_account(obj: Proposal) -> str:
        return obj.account_code

    @staticmethod
    def resolve_proposal(obj: Proposal) -> str:
        return obj.reference

    @staticmethod
    def resolve_call(obj: Proposal) -> str:
        return obj.call.reference

    @staticmethod
    def resolve_subsidy_rate(obj: Proposal) -> Decimal:
        return obj.locked[0].subsidy_rate if obj.locked else Decimal(0)

    @staticmethod
    def resolve_subsidy(obj: Proposal) -> Decimal:
        return sum((a.subsidy for a in obj.locked), Decimal(0))

    @staticmethod
    def resolve_hours(obj: Proposal) -> list[dict]:
        cells: dict[tuple[str, str], int] = {}
        for award in obj.locked:
            for cell in award.hours.all():
                key = (cell.pool.code, cell.quarter.code)
                cells[key] = cells.get(key, 0) + int(cell.gpu_hours)
        return [
            {"pool": p, "quarter": q, "gpu_hours": h}
            for (p, q), h in sorted(cells.items(), key=lambda i: (i[0][1], i[0][0]))
        ]

    @staticmethod
    def resolve_versions(obj: Proposal) -> list:
        return [version for award in obj.locked for version in award.versions.all()]


def awarded_projects() -> QuerySet[Proposal]:
    """Projects with a locked, funded award (allocated, active or completed), by account; five queries a page."""
    locked = Award.objects.filter(run__locked_at__isnull=False, share__gt=0).prefetch_related(
        Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter")),
        Prefetch("versions", queryset=AwardVersion.objects.select_related("award").order_by("number")),
    )
    return (
        Proposal.objects.filter(
            state__in=[ProposalState.ALLOCATED, ProposalState.ACTIVE, ProposalState.COMPLETED],
            awards__run__locked_at__isnull=False,
            awards__share__gt=0,
        )
        .exclude(account_code="")
        .exclude(account_code__isnull=True)
        .distinct()
        .select_related("call")
        .prefetch_related(Prefetch("awards", queryset=locked.order_by("run__locked_at", "pk"), to_attr="locked"))
        .order_by("account_code")
    )


@api.get("/awards", response=list[AwardOut], summary="Awards of the projects, by Slurm account")
@paginate(Pagination)
def awards(request, account: str | None = None):
    projects = awarded_projects()
    if account:
        projects = projects.filter(account_code=account)
    return projects


class UsageOut(Schema):
    account: str
    quarter: str
    gpu_hours: Decimal = Field(..., description="GPU-hours imported from Slurm, to 0.01")

    @staticmethod
    def resolve_gpu_hours(obj: dict) -> Decimal:
        return hours_from_seconds(obj["gpu_seconds"])


@api.get("/usage", response=list[UsageOut], summary="GPU-hours used per account and quarter")
@paginate(Pagination)
def usage(request, account: str | None = None, quarter: str | None = None):
    rows = usage_by_account_quarter()
    if account:
        rows = rows.filter(job__account=account)
    if quarter:
        rows = rows.filter(quarter=_quarter(quarter))
    return rows


class LimitOut(Schema):
    account: str
    proposal: str
    quarter: str
    gpu_hours: int
    minutes: int = Field(..., description="GrpTRESMins=gres/gpu=MINUTES")
    pools: dict[str, int]


@api.get("/limits", response=list[LimitOut], summary="Slurm account limits (GPU-minutes) of a quarter")
@paginate(Pagination)
def limits(request, quarter: str | None = None):
    return [limit.as_json() for limit in slurm_limits(quarter=_quarter(quarter))]
