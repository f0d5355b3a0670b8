"""Reads for reports and exports. :func:`approval_report_data` gathers everything the approval report, the ranking,
decisions and awards exports show for one call, in a fixed number of queries whatever the number of proposals;
the other selectors do the same for open data and for one proposal's letter and usage statement."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Sum

from portal.accounts.models import User
from portal.allocations.models import Award, AwardHours, Clawback, Tranche, TrancheCondition
from portal.allocations.selectors import call_settings, project_usage
from portal.calls.models import Call, PoolCapacity, Quarter, ResourcePool
from portal.decisions.models import Decision, Recommendation, Screening
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import ComputeRequest, Proposal
from portal.reviews.conflicts import conflicted_in_call_ids
from portal.reviews.models import Consensus
from portal.reviews.selectors import SORT_KEYS, RankingRow, applicant_feedback, call_figures

ZERO = Decimal(0)
# Bump when what the approval report shows changes, so stored reports of the old layout are not reused.
REPORT_FORMAT = 1
PAST_SCREENING = frozenset(
    {
        S.IN_REVIEW,
        S.REVIEWED,
        S.RESPONSE,
        S.RECOMMENDED,
        S.NOT_RECOMMENDED,
        S.APPROVED,
        S.REJECTED,
        S.ALLOCATED,
        S.ACTIVE,
        S.COMPLETED,
    }
)
NOT_COMPETING = frozenset({S.WITHDRAWN, S.INELIGIBLE})
FUNDED_STATES = (S.ALLOCATED, S.ACTIVE, S.COMPLETED)


@dataclass
class AwardFigures:
    """What the call's locked runs give one proposal, summed over the runs (a top-up adds to the first)."""

    cells: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    requested: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    reclaimed: Decimal = ZERO
    subsidy: Decimal = ZERO
    subsidy_rate: Decimal | None = None
    share: Decimal = ZERO

    @property
    def hours(self) -> Decimal:
        return sum(self.cells.values(), ZERO)

    @property
    def funded(self) -> bool:
        return self.hours > 0


@dataclass
class ReportRow:
    proposal: Proposal
    figures: RankingRow
    rank: int | None
    eligible: bool
    recommendation: Recommendation | None
    decision: Decision | None
    award: AwardFigures | None

    @property
    def recommended(self) -> bool | None:
        return None if self.recommendation is None else self.recommendation.recommended

    @property
    def approved(self) -> bool | None:
        return None if self.decision is None else self.decision.approved

    @property
    def requested_hours(self) -> Decimal:
        version = self.proposal.current_version
        return version.total_hours if version else ZERO


@dataclass
class PoolQuarter:
    pool: ResourcePool
    quarter: Quarter
    capacity: int
    awardable: Decimal
    requested: Decimal
    awarded: Decimal

    @property
    def oversubscription(self) -> Decimal | None:
        return (self.requested / self.awardable).quantize(Decimal("0.01")) if self.awardable else None

    @property
    def awarded_share(self) -> Decimal | None:
        return self.awarded / self.awardable if self.awardable else None


@dataclass
class PoolFigures:
    pool: ResourcePool
    quarters: list[PoolQuarter]

    @property
    def awardable(self) -> Decimal:
        return sum((q.awardable for q in self.quarters), ZERO)

    @property
    def requested(self) -> Decimal:
        return sum((q.requested for q in self.quarters), ZERO)

    @property
    def awarded(self) -> Decimal:
        return sum((q.awarded for q in self.quarters), ZERO)

    @property
    def oversubscription(self) -> Decimal | None:
        return (self.requested / self.awardable).quantize(Decimal("0.01")) if self.awardable else None


@dataclass
class Counts:
    applications: int = 0
    eligible: int = 0
    reviewed: int = 0
    recommended: int = 0
    approved: int = 0
    rejected: int = 0
    funded: int = 0
    withdrawn: int = 0


@dataclass
class ApprovalReportData:
    call: Call
    pools: list[PoolFigures]
    quarters: list[Quarter]
    rows: list[ReportRow]
    counts: Counts
    subsidy_committed: Decimal
    approvers: list[User]

    @property
    def budget_share(self) -> Decimal | None:
        return self.subsidy_committed / self.call.budget if self.call.budget else None

    @property
    def budget_left(self) -> Decimal:
        return self.call.budget - self.subsidy_committed

    @property
    def hours_awarded(self) -> Decimal:
        return sum((p.awarded for p in self.pools), ZERO)

    @property
    def cell_keys(self) -> list[tuple[str, str]]:
        return [(p.pool.code, q.quarter.code) for p in self.pools for q in p.quarters]

    def fingerprint(self) -> str:
        """SHA-256 of every figure and name the report shows; the same data gives the same fingerprint."""
        return hashlib.sha256(
            json.dumps(_fingerprint_payload(self), sort_keys=True, default=_plain, ensure_ascii=False).encode()
        ).hexdigest()


def _plain(value) -> str:
    """The same text for equal values, however the database returned them (``Decimal('1.50')`` and
    ``Decimal('1.5')`` alike)."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _fingerprint_payload(data: ApprovalReportData) -> dict:
    call = data.call
    return {
        "format": REPORT_FORMAT,
        "call": [call.reference, call.title, call.title_zh, call.budget, call.subsidy_rate, call.pass_mean],
        "counts": vars(data.counts),
        "committed": data.subsidy_committed,
        "approvers": [(u.pk, u.full_name, u.role) for u in data.approvers],
        "pools": [
            (
                p.pool.code,
                p.pool.name,
                [(q.quarter.code, q.capacity, q.awardable, q.requested, q.awarded) for q in p.quarters],
            )
            for p in data.pools
        ],
        "rows": [
            (
                r.proposal.pk,
                r.proposal.reference,
                r.proposal.title,
                r.proposal.state,
                r.proposal.organisation.name,
                r.proposal.organisation.name_zh,
                r.proposal.current_version_id,
                r.rank,
                r.eligible,
                r.figures.review_count,
                r.figures.raw_mean,
                r.figures.calibrated_mean,
                r.figures.consensus,
                r.figures.spread,
                r.figures.disagreement,
                r.figures.passes,
                r.recommendation and (r.recommendation.pk, r.recommendation.subsidy_rate, r.recommendation.conditions),
                r.decision and (r.decision.pk, r.decision.approved, r.decision.decided_by_id, r.decision.decided_at),
                r.award and (sorted((k, v) for k, v in r.award.cells.items()), r.award.subsidy, r.award.reclaimed),
            )
            for r in data.rows
        ],
    }


def _ranked(rows: dict[int, RankingRow]) -> list[RankingRow]:
    """Best score first (consensus, else calibrated mean), as on the committee's ranking page; unscored last."""
    key = SORT_KEYS["score"]
    ordered = sorted(rows.values(), key=lambda r: (key(r) is None, -(key(r) or 0), r.proposal.reference or ""))
    rank = 0
    for row in ordered:
        if key(row) is not None:
            rank += 1
            row.rank = rank
    return ordered


def report_proposals(*, call: Call) -> QuerySet[Proposal]:
    """Every submitted proposal of the call, with whether it passed screening."""
    eligible = Screening.objects.filter(proposal=OuterRef("pk"), eligible=True)
    return (
        Proposal.objects.filter(call=call, current_version__isnull=False)
        .select_related("organisation", "current_version")
        # what the report shows of a proposal: not the applicant's draft nor the submitted text (issue 14)
        .defer("draft", "current_version__content")
        .annotate(screened_eligible=Exists(eligible))
        .order_by("reference")
    )


def _awards_by_proposal(call: Call) -> dict[int, AwardFigures]:
    awards: dict[int, AwardFigures] = defaultdict(AwardFigures)
    locked = Award.objects.filter(run__call=call, run__locked_at__isnull=False).order_by("run__locked_at", "pk")
    for award in locked.only("proposal_id", "subsidy", "subsidy_rate", "share"):
        figures = awards[award.proposal_id]
        figures.subsidy += award.subsidy
        if figures.subsidy_rate is None:  # a reallocation adds to the first award, at its rate
            figures.subsidy_rate = award.subsidy_rate
        figures.share = max(figures.share, award.share)
    for row in (
        AwardHours.objects.filter(award__run__call=call, award__run__locked_at__isnull=False)
        .values("award__proposal_id", "pool__code", "quarter__code")
        .annotate(hours=Sum("gpu_hours"), requested=Sum("requested"), reclaimed=Sum("reclaimed"))
        .order_by()
    ):
        figures = awards[row["award__proposal_id"]]
        key = (row["pool__code"], row["quarter__code"])
        figures.cells[key] += row["hours"]
        figures.requested[key] += row["requested"]
        figures.reclaimed += row["reclaimed"]
    return awards


def approval_report_data(*, call: Call) -> ApprovalReportData:
    """Everything the approval report and the official exports show for ``call``, in a fixed number of queries."""
    proposals = report_proposals(call=call)
    figures = call_figures(call=call, proposals=proposals)
    # The report shows whether a proposal is recommended, with its rate and conditions, not the hours recommended
    # (the award's hours are what counts): a call's recommended hours are thousands of rows (issue 14).
    recommendations = {r.proposal_id: r for r in Recommendation.objects.filter(proposal__call=call, is_current=True)}
    decisions = {
        d.proposal_id: d
        for d in Decision.objects.filter(proposal__call=call, recommendation__is_current=True)
        .select_related("decided_by")
        .order_by("decided_at", "pk")
    }
    awards = _awards_by_proposal(call)
    pools = list(call.pools.order_by("code"))
    quarters = list(call.quarters.order_by("starts_on"))
    capacity = {
        (c.pool_id, c.quarter_id): c
        for c in PoolCapacity.objects.filter(pool__in=pools, quarter__in=quarters).select_related("pool")
    }
    requested: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    competing_versions = [
        r.proposal.current_version_id for r in figures.values() if r.proposal.state not in NOT_COMPETING
    ]
    for row in (
        ComputeRequest.objects.filter(version_id__in=competing_versions)
        .values("pool_id", "quarter_id")
        .annotate(hours=Sum("gpu_hours"))
        .order_by()
    ):
        requested[(row["pool_id"], row["quarter_id"])] = Decimal(row["hours"])
    awarded: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for award in awards.values():
        for key, hours in award.cells.items():
            awarded[key] += hours
    pool_figures = []
    for pool in pools:
        cells = []
        for quarter in quarters:
            row = capacity.get((pool.pk, quarter.pk))
            can_award = (
                (Decimal(row.gpu_hours) * (1 - pool.held_back_share)).quantize(Decimal(1), rounding=ROUND_FLOOR)
                if row
                else ZERO
            )
            cells.append(
                PoolQuarter(
                    pool=pool,
                    quarter=quarter,
                    capacity=row.gpu_hours if row else 0,
                    awardable=can_award,
                    requested=requested.get((pool.pk, quarter.pk), ZERO),
                    awarded=awarded.get((pool.code, quarter.code), ZERO),
                )
            )
        pool_figures.append(PoolFigures(pool=pool, quarters=cells))
    counts = Counts()
    rows = []
    approvers: dict[int, tuple[User, int]] = {}
    for ranking_row in _ranked(figures):
        proposal = ranking_row.proposal
        eligible = proposal.state in PAST_SCREENING or proposal.screened_eligible
        recommendation = recommendations.get(proposal.pk)
        decision = decisions.get(proposal.pk)
        award = awards.get(proposal.pk)
        counts.applications += 1
        counts.eligible += eligible
        counts.withdrawn += proposal.state == S.WITHDRAWN
        counts.reviewed += (ranking_row.review_count or 0) >= max(call.min_reviewers, 1)
        counts.recommended += bool(recommendation and recommendation.recommended)
        if decision is not None:
            counts.approved += decision.approved
            counts.rejected += not decision.approved
            if decision.approved:
                user, n = approvers.get(decision.decided_by_id, (decision.decided_by, 0))
                approvers[decision.decided_by_id] = (user, n + 1)
        counts.funded += bool(award and award.funded)
        rows.append(
            ReportRow(
                proposal=proposal,
                figures=ranking_row,
                rank=ranking_row.rank,
                eligible=eligible,
                recommendation=recommendation,
                decision=decision,
                award=award,
            )
        )
    return ApprovalReportData(
        call=call,
        pools=pool_figures,
        quarters=quarters,
        rows=rows,
        counts=counts,
        subsidy_committed=sum((a.subsidy for a in awards.values()), ZERO),
        approvers=[user for user, _n in sorted(approvers.values(), key=lambda item: (-item[1], item[0].full_name))],
    )


# ---- Who may export a call -----------------------------------------------------------------------------------------


def conflicted_in_call(*, user, call: Call) -> bool:
    """Whether ``user`` has a conflict of interest on any submitted proposal of ``call`` (one query)."""
    return bool(conflicted_in_call_ids(user=user, call_id=call.pk, submitted_only=True))


def report_calls() -> QuerySet[Call]:
    """Calls with submitted proposals, newest first."""
    submitted = Proposal.objects.filter(call=OuterRef("pk"), current_version__isnull=False)
    return Call.objects.filter(Exists(submitted)).order_by("-opens_at")


def latest_documents(*, call: Call) -> QuerySet:
    from .models import GeneratedDocument

    return GeneratedDocument.objects.filter(call=call).select_related("requested_by").order_by("-created_at", "-pk")


# ---- Open data -------------------------------------------------------------------------------------------------------


@dataclass
class OpenDataRow:
    call: str
    reference: str
    title: str
    title_zh: str
    organisation: str
    organisation_zh: str
    organisation_type: str
    gpu_hours: Decimal
    subsidy: Decimal


def open_data_rows(*, call: Call | None = None) -> list[OpenDataRow]:
    """Approved projects with a locked award: title, organisation, GPU-hours and subsidy. No personal data:
    no names, emails or user ids are read. Three queries."""
    proposals = (
        Proposal.objects.filter(state__in=FUNDED_STATES, awards__run__locked_at__isnull=False)
        .select_related("call", "organisation", "current_version")
        .only(
            "reference",
            "title",
            "call__reference",
            "organisation__name",
            "organisation__name_zh",
            "organisation__org_type",
            "current_version__content",
        )
        .distinct()
        .order_by("call__reference", "reference")
    )
    if call is not None:
        proposals = proposals.filter(call=call)
    proposals = list(proposals)
    ids = [p.pk for p in proposals]
    hours = {
        row["award__proposal_id"]: row["hours"]
        for row in AwardHours.objects.filter(award__proposal_id__in=ids, award__run__locked_at__isnull=False)
        .values("award__proposal_id")
        .annotate(hours=Sum("gpu_hours"))
        .order_by()
    }
    subsidy = {
        row["proposal_id"]: row["subsidy"]
        for row in Award.objects.filter(proposal_id__in=ids, run__locked_at__isnull=False)
        .values("proposal_id")
        .annotate(subsidy=Sum("subsidy"))
        .order_by()
    }
    rows = []
    for proposal in proposals:
        if not hours.get(proposal.pk):
            continue
        content = proposal.current_version.content if proposal.current_version else {}
        fields = content.get("fields") if isinstance(content, dict) else None
        title_zh = str((fields or {}).get("title_zh") or "")
        rows.append(
            OpenDataRow(
                call=proposal.call.reference,
                reference=proposal.reference or "",
                title=proposal.title,
                title_zh=title_zh,
                organisation=proposal.organisation.name,
                organisation_zh=proposal.organisation.name_zh,
                organisation_type=proposal.organisation.org_type,
                gpu_hours=hours[proposal.pk],
                subsidy=subsidy.get(proposal.pk, ZERO),
            )
        )
    return rows


# ---- One proposal: decision letter and usage statement ---------------------------------------------------------------


@dataclass
class TrancheLine:
    number: int
    share: Decimal
    hours: Decimal
    condition: str
    released_at: datetime | None


@dataclass
class LetterData:
    proposal: Proposal
    decision: Decision
    recommendation: Recommendation
    cells: list[tuple[ResourcePool, Quarter, Decimal]]
    hours: Decimal
    subsidy_rate: Decimal
    subsidy: Decimal
    cost: Decimal
    allocated: bool
    tranches: list[TrancheLine]
    feedback: list[str]
    consensus: Consensus | None


def letter_proposals() -> QuerySet[Proposal]:
    return Proposal.objects.select_related("call", "organisation", "current_version", "created_by")


def decision_letter_data(*, proposal: Proposal) -> LetterData | None:
    """What the decision letter of ``proposal`` says, or None while no decision has been taken on its current
    recommendation. Approved: the awarded hours (locked runs) or, before allocation, the recommended ones."""
    decision = (
        Decision.objects.filter(proposal=proposal, recommendation__is_current=True)
        .select_related("decided_by", "recommendation__version")
        .order_by("-decided_at", "-pk")
        .first()
    )
    if decision is None:
        return None
    recommendation = decision.recommendation
    consensus = Consensus.objects.filter(proposal=proposal).first()
    if not decision.approved:
        comments = [r.comments_applicant.strip() for r in applicant_feedback(proposal=proposal)]
        return LetterData(
            proposal=proposal,
            decision=decision,
            recommendation=recommendation,
            cells=[],
            hours=ZERO,
            subsidy_rate=recommendation.subsidy_rate,
            subsidy=ZERO,
            cost=ZERO,
            allocated=False,
            tranches=[],
            feedback=[c for c in comments if c],
            consensus=consensus,
        )
    awards = list(
        Award.objects.filter(proposal=proposal, run__locked_at__isnull=False, share__gt=0)
        .prefetch_related(
            Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter")),
            Prefetch("tranches", queryset=Tranche.objects.order_by("number")),
        )
        .order_by("run__locked_at", "pk")
    )
    cells: dict[tuple[int, int], list] = {}
    tranches: list[TrancheLine] = []
    if awards:
        subsidy = ZERO
        for award in awards:
            subsidy += award.subsidy
            total = ZERO
            for cell in award.hours.all():
                entry = cells.setdefault((cell.pool_id, cell.quarter_id), [cell.pool, cell.quarter, ZERO])
                entry[2] += cell.gpu_hours
                total += cell.gpu_hours
            for tranche in award.tranches.all():
                tranches.append(
                    TrancheLine(
                        number=len(tranches) + 1,
                        share=tranche.share,
                        hours=(tranche.share * total).quantize(Decimal("0.01")),
                        condition=TrancheCondition(tranche.condition).label,  # lazy: in the letter's language
                        released_at=tranche.released_at,
                    )
                )
        rate = awards[-1].subsidy_rate
    else:
        for cell in recommendation.hours.select_related("pool", "quarter"):
            cells[(cell.pool_id, cell.quarter_id)] = [cell.pool, cell.quarter, Decimal(cell.gpu_hours)]
        rate = recommendation.subsidy_rate
        subsidy = sum((pool.list_price * hours * rate for pool, _q, hours in cells.values()), ZERO).quantize(
            Decimal("0.01")
        )
    ordered = sorted(cells.values(), key=lambda c: (c[0].code, c[1].starts_on))
    total_hours = sum((c[2] for c in ordered), ZERO)
    if not awards:
        first = call_settings(call=proposal.call).first_tranche_share

        tranches = [
            TrancheLine(1, first, (first * total_hours).quantize(Decimal("0.01")), TrancheCondition.START.label, None)
        ]
        if first < 1:
            tranches.append(
                TrancheLine(
                    2,
                    1 - first,
                    total_hours - tranches[0].hours,
                    TrancheCondition.PROGRESS_REPORT.label,
                    None,
                )
            )
    cost = sum((pool.list_price * hours for pool, _q, hours in ordered), ZERO).quantize(Decimal("0.01"))
    return LetterData(
        proposal=proposal,
        decision=decision,
        recommendation=recommendation,
        cells=[tuple(c) for c in ordered],
        hours=total_hours,
        subsidy_rate=rate,
        subsidy=subsidy,
        cost=cost,
        allocated=bool(awards),
        tranches=tranches,
        feedback=[],
        consensus=consensus,
    )


@dataclass
class UsageStatementData:
    proposal: Proposal
    usage: object
    clawbacks: list[Clawback]
    today: date


def usage_statement_data(*, proposal: Proposal, today: date) -> UsageStatementData:
    usage = project_usage(proposal=proposal, today=today)
    clawbacks = list(
        Clawback.objects.filter(award__proposal=proposal, award__run__locked_at__isnull=False, reclaimed__gt=0)
        .select_related("checkpoint")
        .order_by("checkpoint__due_on", "pk")
    )
    return UsageStatementData(proposal=proposal, usage=usage, clawbacks=clawbacks, today=today)
