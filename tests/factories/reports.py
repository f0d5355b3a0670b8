"""A whole call as the approval report sees it, made in bulk (fast enough for 1,000 proposals): submitted
proposals with reviews and scores, recommendations, decisions and a locked allocation with tranches.

Every tenth proposal from 0: indexes 0-4 approved (funded in rank order while the pool has room), 5 recommended
but not approved, 6 not recommended and not approved, 7 reviewed and waiting, 8 ineligible, 9 withdrawn."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from portal.accounts.enums import OrganisationType, Role
from portal.accounts.models import Membership, Organisation, User
from portal.allocations.models import (
    AllocationRun,
    Award,
    AwardHours,
    RunStatus,
    Tranche,
    TrancheCondition,
)
from portal.calls.models import Call, PoolCapacity
from portal.decisions.models import Decision, Recommendation, RecommendedHours
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import ComputeRequest, Proposal, ProposalVersion
from portal.reviews.enums import AssignmentStatus, ReviewState
from portal.reviews.figures import figures_invalidate
from portal.reviews.models import Assignment, Consensus, Review, Score

from .calls import open_call

CENT = Decimal("0.01")
ORG_NAMES = [
    ("University of Kowloon", "九龍大學"),
    ("Victoria Harbour Institute of Technology", "維港科技學院"),
    ("Lantau AI Research Centre", "大嶼山人工智能研究中心"),
    ("Sha Tin Robotics Limited", "沙田機械人有限公司"),
    ("Department of Digital Policy", "數字政策署"),
]
TITLES = [
    ("Cantonese large language model", "粵語大型語言模型"),
    ("Protein structure prediction for drug discovery", "用於藥物研發的蛋白質結構預測"),
    ("Traffic forecasting for the New Territories", "新界交通預測"),
    ("Medical imaging foundation model", "醫學影像基礎模型"),
    ("Typhoon track ensemble forecasting", "颱風路徑集合預報"),
]
STATE_BY_SLOT = {
    0: S.APPROVED,
    1: S.APPROVED,
    2: S.APPROVED,
    3: S.APPROVED,
    4: S.APPROVED,
    5: S.REJECTED,
    6: S.REJECTED,
    7: S.REVIEWED,
    8: S.INELIGIBLE,
    9: S.WITHDRAWN,
}


@dataclass
class ReportCall:
    call: Call
    proposals: list[Proposal]
    chair: User
    member: User
    reviewers: list[User]
    run: AllocationRun


def report_call(
    n: int = 10,
    *,
    seed: int = 1,
    call: Call | None = None,
    hours_per_quarter: int = 60_000,
    title_prefix: str = "",
    chair: User | None = None,
) -> ReportCall:
    """A call with ``n`` submitted proposals in the states above (see the module docstring)."""
    rng = random.Random(seed)
    call = call or open_call(
        title="AISS 2026 first call", title_zh="人工智能資助計劃 2026 年第一輪", budget=Decimal("300000000.00")
    )
    now = timezone.now()
    pool = call.pools.order_by("code").first()
    quarters = list(call.quarters.order_by("starts_on"))
    criteria = list(call.criteria.order_by("number"))
    stamp = f"{call.pk}-{seed}"
    chair = chair or User.objects.create(
        email=f"chair-{stamp}@gov.example.hk",
        full_name="Dr Cheung Wing Sze",
        role=Role.COMMITTEE_CHAIR,
        password="!",
        email_verified_at=now,
    )
    member = User.objects.create(
        email=f"member-{stamp}@example.hk", full_name="Prof Ho Ka Ming", role=Role.COMMITTEE_MEMBER, password="!"
    )
    reviewers = User.objects.bulk_create(
        User(email=f"reviewer{i}-{stamp}@example.hk", full_name=f"Reviewer {i}", role=Role.REVIEWER, password="!")
        for i in range(6)
    )
    organisations = Organisation.objects.bulk_create(
        Organisation(
            name=ORG_NAMES[k % 5][0] + ("" if k < 5 else f" {k}"),
            name_zh=ORG_NAMES[k % 5][1],
            org_type=OrganisationType.UNIVERSITY,
        )
        for k in range(max(5, n // 20))
    )
    applicants = User.objects.bulk_create(
        User(email=f"lead{i}-{stamp}@example.hk", full_name=f"Lead Applicant {i}", password="!")
        for i in range(len(organisations))
    )
    Membership.objects.bulk_create(
        Membership(user=u, organisation=o, role="admin") for u, o in zip(applicants, organisations, strict=True)
    )
    proposals = Proposal.objects.bulk_create(
        Proposal(
            call=call,
            organisation=organisations[i % len(organisations)],
            created_by=applicants[i % len(organisations)],
            state=STATE_BY_SLOT[i % 10],
            reference=f"AISS-{call.pk:02d}{seed:02d}-{i + 1:04d}",
            title=f"{title_prefix}{TITLES[i % 5][0]} ({i + 1})",
            submitted_at=now - timedelta(days=40),
        )
        for i in range(n)
    )
    requests = [{q.pk: rng.choice((1, 2, 3, 4)) * hours_per_quarter // 2 for q in quarters[:2]} for _ in range(n)]
    versions = ProposalVersion.objects.bulk_create(
        ProposalVersion(
            proposal=p,
            number=1,
            content={"fields": {"title": p.title, "title_zh": f"{TITLES[i % 5][1]} {i + 1}"}},
            sha256=f"{i:064x}",
            submitted_by=p.created_by,
            submitted_at=p.submitted_at,
            min_share=Decimal("0.5"),
            total_hours=sum(requests[i].values()),
            cost=sum(requests[i].values()) * pool.list_price,
            subsidy=(sum(requests[i].values()) * pool.list_price * call.subsidy_rate).quantize(CENT),
        )
        for i, p in enumerate(proposals)
    )
    ComputeRequest.objects.bulk_create(
        ComputeRequest(version=v, pool=pool, quarter_id=q, gpu_hours=h)
        for i, v in enumerate(versions)
        for q, h in requests[i].items()
    )
    for p, v in zip(proposals, versions, strict=True):
        p.current_version = v
    Proposal.objects.bulk_update(proposals, ["current_version"])

    # Reviews: three reviewers each, with some harsher than others, for every proposal that reached review.
    reviewed = [p for i, p in enumerate(proposals) if i % 10 < 8]
    assignments = Assignment.objects.bulk_create(
        Assignment(
            proposal=p,
            reviewer=reviewers[(j + k) % len(reviewers)],
            status=AssignmentStatus.ACCEPTED,
            assigned_by=member,
        )
        for j, p in enumerate(reviewed)
        for k in range(3)
    )
    by_pk = {p.pk: p for p in proposals}
    reviews = Review.objects.bulk_create(
        Review(
            assignment=a,
            version=by_pk[a.proposal_id].current_version,
            state=ReviewState.SUBMITTED,
            recommendation="fund",
            comments_applicant=f"Point {k % 3 + 1}: the schedule for {by_pk[a.proposal_id].reference} needs more detail.",
            comments_committee="Confidential remark for the committee.",
            submitted_at=now - timedelta(days=20),
        )
        for k, a in enumerate(assignments)
    )
    Score.objects.bulk_create(
        Score(
            review=r,
            criterion=c,
            score=max(0, min(5, rng.choice((2, 3, 3, 4, 4, 5)) - (1 if r.assignment.reviewer == reviewers[0] else 0))),
        )
        for r in reviews
        for c in criteria
    )
    figures_invalidate(call_ids=[call.pk])  # bulk_create sends no signal: the call's stored figures are stale

    # Recommendations and decisions: slots 0-5 recommended, 6 not; 0-4 approved, 5-6 not approved.
    decided = [(i, p) for i, p in enumerate(proposals) if i % 10 <= 6]
    recommendations = Recommendation.objects.bulk_create(
        Recommendation(
            proposal=p,
            version=p.current_version,
            recommended=i % 10 <= 5,
            subsidy_rate=call.subsidy_rate,
            conditions="Quarterly progress reports to the Secretariat." if i % 10 == 0 else "",
            rationale="Committee view.",
            recommended_by=member,
            created_at=now - timedelta(days=10),
        )
        for i, p in decided
    )
    RecommendedHours.objects.bulk_create(
        RecommendedHours(recommendation=r, pool=pool, quarter_id=q, gpu_hours=h)
        for (i, _p), r in zip(decided, recommendations, strict=True)
        for q, h in requests[i].items()
        if r.recommended
    )
    Decision.objects.bulk_create(
        Decision(
            proposal=p,
            recommendation=r,
            approved=i % 10 <= 4,
            decided_by=chair,
            reason="",
            decided_at=now - timedelta(days=5),
        )
        for (i, p), r in zip(decided, recommendations, strict=True)
    )
    Consensus.objects.bulk_create(
        Consensus(
            proposal=p,
            score=Decimal("3.50"),
            feedback="The committee asks for a clearer schedule for the use of compute.",
            recorded_by=member,
        )
        for i, p in enumerate(proposals)
        if i % 10 == 6
    )

    # A locked allocation: approved proposals funded in full in the order of their index while the pool has room.
    run = AllocationRun.objects.create(
        call=call,
        policy="rank",
        status=RunStatus.SUCCEEDED,
        progress=100,
        inputs={},
        started_by=member,
        finished_at=now - timedelta(days=3),
        locked_at=now - timedelta(days=3),
        locked_by=chair,
    )
    room = {
        c.quarter_id: int(c.gpu_hours * (1 - pool.held_back_share))
        for c in PoolCapacity.objects.filter(pool=pool, quarter__in=quarters)
    }
    funded: list[tuple[int, Proposal, bool]] = []
    for i, p in enumerate(proposals):
        if i % 10 > 4:
            continue
        fits = all(room[q] >= h for q, h in requests[i].items())
        if fits:
            for q, h in requests[i].items():
                room[q] -= h
        funded.append((i, p, fits))
    awards = Award.objects.bulk_create(
        Award(
            run=run,
            proposal=p,
            score=Decimal("4"),
            min_share=Decimal("0.5"),
            share=Decimal(1) if fits else Decimal(0),
            subsidy_rate=call.subsidy_rate,
            subsidy=(
                (sum(requests[i].values()) * pool.list_price * call.subsidy_rate).quantize(CENT, ROUND_HALF_UP)
                if fits
                else Decimal(0)
            ),
            reason="funded" if fits else "capacity",
        )
        for i, p, fits in funded
    )
    AwardHours.objects.bulk_create(
        AwardHours(award=a, pool=pool, quarter_id=q, requested=h, gpu_hours=h if fits else 0)
        for a, (i, _p, fits) in zip(awards, funded, strict=True)
        for q, h in requests[i].items()
    )
    Tranche.objects.bulk_create(
        Tranche(
            award=a,
            number=number,
            share=Decimal("0.5"),
            condition=condition,
            released_at=run.locked_at if number == 1 else None,
            released_by=chair if number == 1 else None,
        )
        for a, (_i, _p, fits) in zip(awards, funded, strict=True)
        if fits
        for number, condition in ((1, TrancheCondition.START), (2, TrancheCondition.PROGRESS_REPORT))
    )
    active = [p.pk for _i, p, fits in funded if fits]
    Proposal.objects.filter(pk__in=active).update(state=S.ACTIVE)
    for p in proposals:
        if p.pk in active:
            p.state = S.ACTIVE
    return ReportCall(call=call, proposals=proposals, chair=chair, member=member, reviewers=reviewers, run=run)
