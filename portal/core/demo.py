"""Demo data for ``manage.py seed_demo``: the scheme, calls, pool, organisations, one account per role and
proposals in several states. Safe to run again: what exists is kept."""

import io
from base64 import b32encode
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.functional import cached_property
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.enums import MembershipRole, Role
from portal.accounts.models import PICS_VERSION, ConsentRecord, Membership, Organisation, User
from portal.accounts.security import second_factor_required
from portal.calls.models import Call, CallQuestion, PoolCapacity, Quarter, ResourcePool, RubricCriterion, Scheme
from portal.core.formatting import HONG_KONG
from portal.proposals import services as proposal_services
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal, ProposalEvent

from .demo_projects import BATCH_ONE, HKU, OPEN_BATCH, ORGANISATIONS, DemoProject

DEMO_PASSWORD = "aiss-demo-2026"  # noqa: S105 - printed on purpose: these are demo accounts
# Officials sign in with a second factor: every demo official has an authenticator with this published secret
# (hex, as django-otp keeps it; base32 for an app in DEMO_TOTP_SECRET). `manage.py demo_totp EMAIL` shows the code.
DEMO_TOTP_KEY = b"aiss-demo-totp-2026!".hex()
DEMO_TOTP_SECRET = b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode("ascii")
EXTRA_REVIEWERS = [
    ("reviewer4@demo.aiss.hk", "Dr Chow Hiu Tung", "Hong Kong Polytechnic University"),
    ("reviewer5@demo.aiss.hk", "Prof Mak Wai Lun", "City University of Hong Kong"),
    ("reviewer6@demo.aiss.hk", "Dr Fung Yuet Ming", None),
]

RUBRIC = [
    (
        1,
        "Alignment with Hong Kong's innovation-and-technology and AI development needs",
        "配合香港創新科技及人工智能發展需要",
        25,
        None,
    ),
    (2, "Reasonableness of the compute request (sized to model, data and schedule)", "算力需求的合理性", 20, 3),
    (3, "Technical and financial capability of the team", "團隊的技術及財務能力", 20, None),
    (4, "Implementation plan and schedule for using the compute", "使用算力的實施計劃及時間表", 20, None),
    (5, "Deliverables, KPIs and wider impact", "成果、關鍵績效指標及更廣泛的影響", 15, None),
]

CALL_GUIDANCE = (
    "Request GPU-hours per quarter for the work you can do in that quarter, and give the smallest share of the "
    "request with which the project can still go ahead.\n\n"
    "Attach the technical proposal as a PDF. Budgets are worked out for you from the centre's list price and the "
    "call's subsidy rate."
)
CALL_GUIDANCE_ZH = (
    "請按每季可完成的工作申請該季的 GPU 小時，並註明項目仍可進行的最低申請比例。\n\n"
    "請以 PDF 格式附上技術建議書。預算會按中心牌價及本徵集的資助比率自動計算。"
)
CALL_FAQ = [
    (
        "May a start-up apply?",
        "初創企業可以申請嗎？",
        "Yes, an enterprise with an 8-digit Business Registration number may apply.",
        "可以，持有八位數字商業登記號碼的企業均可申請。",
    ),
    (
        "Can I change my proposal after submitting it?",
        "提交申請後可以修改嗎？",
        "Yes, until the deadline: reopen it, amend it and submit it again. Each submission has its own receipt.",
        "可以，截止時間前您可重新開啟申請、作出修改並再次提交。每次提交均有收據。",
    ),
]


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: str
    organisation: str | None = None


ACCOUNTS = [
    DemoAccount("applicant@demo.aiss.hk", "Dr Chan Tai Man", Role.APPLICANT, "University of Hong Kong"),
    DemoAccount("applicant2@demo.aiss.hk", "Ms Wong Mei Ling", Role.APPLICANT, "Harbour Vision AI Limited"),
    DemoAccount("reviewer1@demo.aiss.hk", "Prof Lee Ka Yan", Role.REVIEWER, "Chinese University of Hong Kong"),
    DemoAccount(
        "reviewer2@demo.aiss.hk", "Dr Ho Wing Sze", Role.REVIEWER, "Hong Kong University of Science and Technology"
    ),
    DemoAccount("reviewer3@demo.aiss.hk", "Prof Cheung Siu Fung", Role.REVIEWER, None),
    DemoAccount("secretariat@demo.aiss.hk", "Mr Lau Chi Keung", Role.SECRETARIAT),
    DemoAccount("committee@demo.aiss.hk", "Ms Yip Hoi Yan", Role.COMMITTEE_MEMBER),
    DemoAccount("chair@demo.aiss.hk", "Prof Tang Kwok Wai", Role.COMMITTEE_CHAIR),
    DemoAccount("auditor@demo.aiss.hk", "Ms Ng Suk Han", Role.AUDITOR),
]


def _quarter(year: int, q: int) -> Quarter:
    start = date(year, 3 * (q - 1) + 1, 1)
    end = (date(year + (q == 4), (3 * q) % 12 + 1, 1)) - timedelta(days=1)
    quarter, _created = Quarter.objects.get_or_create(code=f"{year}Q{q}", defaults={"starts_on": start, "ends_on": end})
    return quarter


def _next_quarters(today: date, n: int) -> list[tuple[int, int]]:
    year, q = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(n):
        q += 1
        if q == 5:
            year, q = year + 1, 1
        out.append((year, q))
    return out


def _pdf(title: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _hkt(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=HONG_KONG)


EXPERTISE = [
    ("Natural language processing", "自然語言處理"),
    ("Computer vision", "電腦視覺"),
    ("Medical imaging", "醫學影像"),
    ("Large-scale training", "大規模訓練"),
    ("Robotics", "機械人"),
    ("Forecasting", "預測"),
]


class DemoSeeder:
    def __init__(self, out):
        self.out = out
        self.now = timezone.now()
        # Every demo account has the same password: hash it once (hashing is slow on purpose).
        self.password_hash = make_password(DEMO_PASSWORD)
        self.past_review_deadlines: list = []

    @transaction.atomic
    def run(self) -> None:
        scheme, _ = Scheme.objects.get_or_create(
            code="aiss",
            defaults={
                "name": "AI Subsidy Scheme",
                "name_zh": "人工智能資助計劃",
                "total_budget": Decimal("3000000000.00"),
            },
        )
        pool, _ = ResourcePool.objects.get_or_create(
            code="h800",
            defaults={
                "name": "AISC H800",
                "name_zh": "人工智能超算中心 H800",
                "gpu_type": "NVIDIA H800",
                "list_price": Decimal("25.00"),
                "held_back_share": Decimal("0.100"),
                "target_utilisation": Decimal("0.900"),
            },
        )
        past_quarters = [_quarter(2026, q) for q in range(1, 5)]
        future_quarters = [_quarter(y, q) for y, q in _next_quarters(timezone.localtime(self.now).date(), 4)]
        for quarter in {*past_quarters, *future_quarters}:
            PoolCapacity.objects.get_or_create(pool=pool, quarter=quarter, defaults={"gpu_hours": 1_300_000})

        today = timezone.localtime(self.now).date()
        first_call = self._call(
            scheme,
            pool,
            past_quarters,
            reference="aiss-2026-b1",
            title="AISS 2026 Batch 1",
            title_zh="人工智能資助計劃 2026 第一批",
            opens=_hkt(date(2025, 10, 2), time(9)),
            closes=_hkt(date(2025, 11, 28), time(17)),
        )
        open_call = self._call(
            scheme,
            pool,
            future_quarters,
            reference=f"aiss-{future_quarters[0].code[:4]}-b1",
            title=f"AISS {future_quarters[0].code[:4]} Batch 1",
            title_zh=f"人工智能資助計劃 {future_quarters[0].code[:4]} 第一批",
            opens=_hkt(today - timedelta(days=14), time(9)),
            closes=_hkt(today + timedelta(days=60), time(17)),
        )
        organisations = {}
        for name, name_zh, org_type, br in ORGANISATIONS:
            organisations[name], _ = Organisation.objects.get_or_create(
                name=name, defaults={"name_zh": name_zh, "org_type": org_type, "br_number": br}
            )
        users = {}
        for account in ACCOUNTS:
            user, created = User.objects.get_or_create(
                email=account.email,
                defaults={"full_name": account.name, "role": account.role, "email_verified_at": self.now},
            )
            if created:
                user.password = self.password_hash
                user.save()
                ConsentRecord.objects.create(user=user, pics_version=PICS_VERSION)
            if account.organisation:
                Membership.objects.get_or_create(
                    user=user,
                    organisation=organisations[account.organisation],
                    defaults={
                        "role": MembershipRole.ADMIN if account.role == Role.APPLICANT else MembershipRole.MEMBER
                    },
                )
            users[account.email] = user
            if second_factor_required(user) and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(user=user, name="demo authenticator", key=DEMO_TOTP_KEY, confirmed=True)

        if Proposal.objects.exists():
            self.out.write("Demo proposals already exist; kept as they are.")
            return
        applicants = self._project_applicants(organisations, users)
        self.reviewers = self._reviewers()
        self._batch_one(first_call, organisations, applicants)
        for project in OPEN_BATCH:
            self._proposal(open_call, organisations[project.organisation], applicants[project.organisation], project)
        draft = proposal_services.proposal_create(
            call=open_call, organisation=organisations[HKU], user=users["applicant@demo.aiss.hk"]
        )
        proposal_services.proposal_save_draft(
            proposal=draft,
            raw={
                "title": "Typhoon nowcasting with diffusion models",
                "title_zh": "以擴散模型作颱風臨近預報",
                "summary": "Half-written draft: the compute request is still missing.",
            },
            user=users["applicant@demo.aiss.hk"],
        )
        # A past round's deadline is set once its reviews are in, as it stood when they were written.
        from portal.reviews.models import CallReviewSettings

        for call_id, deadline in self.past_review_deadlines:
            CallReviewSettings.objects.filter(call_id=call_id).update(review_deadline=deadline)

    def _call(self, scheme, pool, quarters, *, reference, title, title_zh, opens, closes) -> Call:
        call, created = Call.objects.get_or_create(
            reference=reference,
            defaults={
                "scheme": scheme,
                "title": title,
                "title_zh": title_zh,
                "opens_at": opens,
                "closes_at": closes,
                "subsidy_rate": Decimal("0.700"),
                "budget": Decimal("300000000.00"),
                "max_subsidy_per_proposal": Decimal("50000000.00"),
                "description": "Subsidised GPU time at the AI Supercomputing Centre.",
                "description_zh": "人工智能超算中心的資助 GPU 時間。",
                "guidance": CALL_GUIDANCE,
                "guidance_zh": CALL_GUIDANCE_ZH,
                "contact_email": "aiss@demo.aiss.hk",
                "contact_phone": "+852 3000 0000",
            },
        )
        if created:
            call.pools.add(pool)
            call.quarters.add(*quarters)
            for number, (question, question_zh, answer, answer_zh) in enumerate(CALL_FAQ, start=1):
                CallQuestion.objects.create(
                    call=call,
                    number=number,
                    question=question,
                    question_zh=question_zh,
                    answer=answer,
                    answer_zh=answer_zh,
                )
            for number, name, name_zh, weight, minimum in RUBRIC:
                RubricCriterion.objects.create(
                    call=call, number=number, name=name, name_zh=name_zh, weight=Decimal(weight), min_to_pass=minimum
                )
            # Reviews are due three weeks after the call closes (reviewers see it; reminders go out around it). A
            # deadline already past is set after the demo's reviews are written (see run).
            deadline = closes + timedelta(days=21)
            if deadline < self.now:
                self.past_review_deadlines.append((call.pk, deadline))
                deadline = None
            from portal.reviews.models import CallReviewSettings

            CallReviewSettings.objects.get_or_create(call=call, defaults={"review_deadline": deadline})
        return call

    def _project_applicants(self, organisations, users) -> dict[str, User]:
        """One applicant per organisation: the demo applicants for theirs, a made-up member for the others."""
        applicants = {}
        for name, org in organisations.items():
            member = (
                Membership.objects.filter(organisation=org, user__role=Role.APPLICANT).select_related("user").first()
            )
            if member is None:
                slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
                user = User.objects.create(
                    email=f"lead.{slug}@demo.aiss.hk",
                    password=self.password_hash,
                    full_name=f"Project lead, {name}",
                    role=Role.APPLICANT,
                    email_verified_at=self.now,
                )
                Membership.objects.create(user=user, organisation=org, role=MembershipRole.ADMIN)
                applicants[name] = user
            else:
                applicants[name] = member.user
        return applicants

    @cached_property
    def pdf(self) -> bytes:
        return _pdf("Technical proposal")

    def _draft(self, call, title, title_zh, hours, min_share) -> dict[str, str]:
        raw = {
            "title": title,
            "title_zh": title_zh,
            "summary": f"{title}: a project that needs GPU time at the AI Supercomputing Centre.",
            "objectives": "Build and openly evaluate a model that serves Hong Kong users.",
            "lead_name": "Project lead",
            "lead_position": "Principal investigator",
            "lead_email": "lead@example.hk",
            "model_size": "13 billion parameters",
            "dataset_size": "400 billion tokens",
            "workload": "training",
            "precision": "bf16",
            "technical_approach": "Pre-training on curated local data, then fine-tuning.",
            "implementation_plan": "Data preparation in the first quarter, training in the next two, evaluation last.",
            "deliverables": "Model, evaluation report, open benchmark.",
            "kpis": "Benchmark accuracy; adoption by partners.",
            "min_share": str(min_share),
            "compute_justification": "Estimated with 6·N·D FLOPs at 40% utilisation.",
            "other_funding": "0",
            "ethics_statement": "Only licensed and public data are used.",
            "data_declaration": "on",
            "accuracy_confirm": "on",
            "pics_consent": "on",
        }
        for pool in call.pools.all():
            for quarter in call.quarters.all():
                raw[f"hours__{pool.code}__{quarter.code}"] = str(hours)
        return raw

    def _proposal(self, call, organisation, user, project: DemoProject, *, submitted_at=None, until=None):
        """A proposal filed, submitted and taken along the real workflow to ``until`` (default: its state)."""
        started = (submitted_at or timezone.now()) - timedelta(days=1)
        proposal = Proposal.objects.create(
            call=call, organisation=organisation, created_by=user, draft={}, created_at=started
        )
        ProposalEvent.objects.create(
            proposal=proposal, actor=user, action="create", to_state=ProposalState.DRAFT, created_at=started
        )
        raw = self._draft(call, project.title, project.title_zh, project.hours, project.min_share)
        proposal_services.proposal_save_draft(proposal=proposal, raw=raw, user=user)
        proposal_services.attachment_add(
            proposal=proposal,
            upload=SimpleUploadedFile("technical-proposal.pdf", self.pdf),
            kind="technical",
            user=user,
        )
        proposal_services.proposal_submit(proposal=proposal, user=user, now=submitted_at)
        proposal.refresh_from_db()
        self._advance(proposal, until or project.state)
        if project.account_code:
            Proposal.objects.filter(pk=proposal.pk).update(account_code=project.account_code)
            proposal.account_code = project.account_code
        return proposal

    def _reviewers(self) -> list[User]:
        """The demo reviewers (three with logins in the README, three more to share the load), with profiles and
        expertise."""
        from portal.reviews.models import ExpertiseTag, ReviewerProfile

        for email, name, organisation in EXTRA_REVIEWERS:
            user, created = User.objects.get_or_create(
                email=email,
                defaults={
                    "full_name": name,
                    "role": Role.REVIEWER,
                    "email_verified_at": self.now,
                    "password": self.password_hash,
                },
            )
            if created and organisation:
                Membership.objects.create(
                    user=user, organisation=Organisation.objects.get(name=organisation), role=MembershipRole.MEMBER
                )
        tags = [ExpertiseTag.objects.get_or_create(name=name, defaults={"name_zh": zh})[0] for name, zh in EXPERTISE]
        reviewers = list(User.objects.filter(role=Role.REVIEWER, email__endswith="@demo.aiss.hk").order_by("email"))
        for i, reviewer in enumerate(reviewers):
            profile, _ = ReviewerProfile.objects.get_or_create(
                user=reviewer,
                defaults={"organisation": reviewer.organisations.first(), "max_per_call": 20},
            )
            profile.expertise.set(tags[i % len(tags) :: 2])
        return reviewers

    def _advance(self, proposal, state) -> None:
        """Take a submitted proposal to ``state`` through the real workflow: screening (or a clarification
        request, or ineligibility), reviews by demo reviewers without a conflict, the committee's recommendation
        and the chair's decision."""
        from portal.decisions import services as decisions
        from portal.reviews import services as reviews

        S = ProposalState
        officer = User.objects.get(email="secretariat@demo.aiss.hk")
        member = User.objects.get(email="committee@demo.aiss.hk")
        chair = User.objects.get(email="chair@demo.aiss.hk")
        if state == S.SUBMITTED:
            return
        if state == S.WITHDRAWN:
            proposal_services.proposal_withdraw(
                proposal=proposal, user=proposal.created_by, reason="The project found funding elsewhere."
            )
            return
        proposal_services.proposal_transition(proposal=proposal, action="start_screening", actor=officer)
        if state == S.SCREENING:
            return
        if state == S.CLARIFICATION_REQUESTED:
            decisions.clarification_request(
                proposal=proposal,
                actor=officer,
                questions="Please explain how the three languages are evaluated, and who owns the training data.",
                due_at=timezone.now() + timedelta(days=10),
            )
            return
        items = decisions.screening_checklist_ensure(call=proposal.call)
        if state == S.INELIGIBLE:
            decisions.screening_record(
                proposal=proposal,
                actor=officer,
                answers={item.pk: item.number != 1 for item in items},
                reasons="Trading models for a single firm's own account are outside the scheme's purpose.",
            )
            return
        decisions.screening_record(proposal=proposal, actor=officer, answers={item.pk: True for item in items})
        proposal.refresh_from_db()
        criteria = list(proposal.call.criteria.values_list("number", flat=True))
        weak = state in (S.REJECTED, S.NOT_RECOMMENDED)
        wanted = proposal.call.reviewers_per_proposal
        assigned = 0
        # Each proposal gets its own three reviewers in turn, skipping any with a conflict of interest.
        start = proposal.pk % len(self.reviewers)
        for reviewer in self.reviewers[start:] + self.reviewers[:start]:
            if assigned == wanted:
                break
            try:
                assignment = reviews.assignment_create(proposal=proposal, reviewer=reviewer, actor=officer)
            except ValidationError:  # a conflict of interest: the next reviewer
                continue
            reviews.assignment_declare(assignment=assignment, user=reviewer, conflicted=False)
            if state != S.IN_REVIEW or assigned == 0:
                harsh = self.reviewers.index(reviewer) % 3 == 2
                base = (2 if weak else 3) + (proposal.pk % 3 == 0) - harsh
                data = reviews.ReviewInput(
                    scores={n: (max(0, min(5, base + (n % 2))), "Well argued.") for n in criteria},
                    recommendation="do_not_fund" if weak else "fund",
                    comments_applicant="A clear plan; justify the second-quarter hours in more detail.",
                    comments_committee="Strong team; compute request is on the high side.",
                )
                reviews.review_submit(assignment=assignment, user=reviewer, data=data)
            assigned += 1
        if state == S.IN_REVIEW:
            return
        proposal_services.proposal_transition(proposal=proposal, action="close_review", actor=officer)
        proposal.refresh_from_db()
        if state == S.REVIEWED:
            return
        if weak:
            decisions.recommendation_make(
                proposal=proposal,
                actor=member,
                recommended=False,
                rationale="Below the pass mark: the plan does not show how the hours would be used.",
            )
            proposal.refresh_from_db()
            decisions.decision_make(
                proposal=proposal, actor=chair, approved=False, reason="Not recommended by the committee."
            )
            return
        hours = {(r.pool_id, r.quarter_id): r.gpu_hours for r in proposal.current_version.compute_requests.all()}
        decisions.recommendation_make(
            proposal=proposal,
            actor=member,
            recommended=True,
            hours=hours,
            conditions="Publish an evaluation report within three months of the last quarter.",
            rationale="Scores above the pass mark; the request is sized to the model and data.",
        )
        proposal.refresh_from_db()
        if state == S.RECOMMENDED:
            return
        decisions.decision_make(proposal=proposal, actor=chair, approved=True, reason="As recommended.")
        proposal.refresh_from_db()

    def _batch_one(self, call, organisations, applicants) -> None:
        """Last year's batch, decided: ten approved projects hold a locked award of their whole request (about 90%
        of the centre's capacity), two were not approved, one was ineligible and one withdrawn."""
        from portal.allocations.demo import demo_allocation_lock

        chair = User.objects.get(email="chair@demo.aiss.hk")
        funded = []
        for days, project in enumerate(BATCH_ONE, start=1):
            allocated = project.state in (ProposalState.ALLOCATED, ProposalState.ACTIVE)
            proposal = self._proposal(
                call,
                organisations[project.organisation],
                applicants[project.organisation],
                project,
                submitted_at=call.closes_at - timedelta(days=days, hours=days),
                until=ProposalState.APPROVED if allocated else None,
            )
            if allocated:
                funded.append((proposal, project))
        demo_allocation_lock(
            call=call,
            proposals=[proposal for proposal, _project in funded],
            actor=User.objects.get(email="secretariat@demo.aiss.hk"),
            approver=chair,
        )
        for proposal, project in funded:  # taken when the chair approves a lock (four-eyes)
            proposal_services.proposal_transition(proposal=proposal, action="allocate", actor=chair)
            if project.state == ProposalState.ACTIVE:
                proposal_services.proposal_transition(proposal=proposal, action="activate", actor=chair)
        # After the award: progress reports, imported usage, an accepted report and a statement (issue 11).
        from portal.projects.demo import demo_project_life

        demo_project_life(call=call, secretariat=User.objects.get(email="secretariat@demo.aiss.hk"), chair=chair)


def print_logins(out) -> None:
    out.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for account in ACCOUNTS:
        out.write(f"  {account.role:<18} {account.email}")
    out.write(
        "Officials (secretariat, committee, chair, auditor) also give a code from an authenticator app. Either add\n"
        f"  the demo secret {DEMO_TOTP_SECRET} to an app (Google Authenticator, FreeOTP, ...),\n"
        "  or print the current code with:  .venv/bin/python manage.py demo_totp secretariat@demo.aiss.hk"
    )
    out.write("Set up calls: /calls/manage/ (log in as secretariat@demo.aiss.hk)")
    out.write(f"Django admin: /{settings.PORTAL_ADMIN_PATH} for superusers (manage.py createsuperuser)")
