import pytest
from django.core.management import call_command

from portal.accounts.models import User
from portal.calls.models import Call
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_every_role_and_states_and_is_idempotent(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), Proposal.objects.count(), Call.objects.count())
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert (User.objects.count(), Proposal.objects.count(), Call.objects.count()) == counts
    assert "Demo proposals already exist" in second
    for email in ("applicant@demo.aiss.hk", "reviewer1@demo.aiss.hk", "chair@demo.aiss.hk", "auditor@demo.aiss.hk"):
        assert email in first
    assert "aiss-demo-2026" in first
    states = set(Proposal.objects.values_list("state", flat=True))
    assert {ProposalState.DRAFT, ProposalState.SUBMITTED, ProposalState.ACTIVE, ProposalState.APPROVED} <= states
    assert sorted(Proposal.objects.exclude(account_code=None).values_list("account_code", flat=True)) == [
        "aiss-0007",
        "aiss-0012",
    ]
    open_calls = [c for c in Call.objects.all() if c.is_open()]
    assert len(open_calls) == 1
    assert open_calls[0].criteria.count() == 5
    assert User.objects.get(email="applicant@demo.aiss.hk").check_password("aiss-demo-2026")


def test_seed_demo_gives_the_active_projects_a_locked_award():
    from portal.allocations.models import Award

    call_command("seed_demo")
    awards = Award.objects.filter(run__locked_at__isnull=False, proposal__account_code__isnull=False)
    assert sorted(awards.values_list("proposal__account_code", flat=True)) == ["aiss-0007", "aiss-0012"]


def test_seed_demo_looks_like_the_scheme():
    from collections import Counter

    from django.db.models import Sum

    from portal.allocations.models import AwardHours
    from portal.calls.models import PoolCapacity

    call_command("seed_demo")
    proposals = Proposal.objects.select_related("organisation")
    assert proposals.count() > 20
    assert len({p.organisation_id for p in proposals}) >= 12
    states = Counter(p.state for p in proposals)
    funded = states[ProposalState.APPROVED] + states[ProposalState.ALLOCATED] + states[ProposalState.ACTIVE]
    assert 9 <= funded <= 12
    assert {ProposalState.REJECTED, ProposalState.INELIGIBLE, ProposalState.IN_REVIEW} <= set(states)
    # Chinese titles where applicants would give them, English alone where they would not.
    assert proposals.exclude(title_zh="").count() >= 18
    assert proposals.filter(title_zh="").exclude(state=ProposalState.DRAFT).exists()
    # The centre is about 90% booked in the quarters of last year's batch.
    booked = (
        AwardHours.objects.filter(award__run__locked_at__isnull=False)
        .values("quarter__code")
        .annotate(h=Sum("gpu_hours"))
    )
    assert booked
    for row in booked:
        capacity = PoolCapacity.objects.get(quarter__code=row["quarter__code"]).gpu_hours
        assert 0.85 <= row["h"] / capacity <= 0.95


def test_seed_demo_shows_a_project_life_after_the_award():
    """Issue 11 point 7: one active project with its reports due and usage imported (aiss-0007), one with its first
    report accepted, the held tranche released and a billing statement (aiss-0012)."""
    from portal.allocations.models import Tranche, UsageJob
    from portal.projects.enums import ReportState
    from portal.projects.models import BillingStatement, ChangeRequest, ProgressReport

    call_command("seed_demo")
    due = ProgressReport.objects.filter(proposal__account_code="aiss-0007").order_by("number")
    assert [r.state for r in due] == [ReportState.DUE] * 3
    assert UsageJob.objects.filter(account="aiss-0007").count() == 3
    accepted = ProgressReport.objects.get(proposal__account_code="aiss-0012", number=1)
    assert accepted.state == ReportState.ACCEPTED
    assert accepted.usage["used"] == "102400.00"  # the first export only, as it stood when the report was submitted
    assert accepted.screened_by.email == "secretariat@demo.aiss.hk"
    assert accepted.decided_by.email == "chair@demo.aiss.hk"
    assert Tranche.objects.get(award__proposal__account_code="aiss-0012", number=2).released_at is not None
    assert Tranche.objects.get(award__proposal__account_code="aiss-0007", number=2).released_at is None
    statement = BillingStatement.objects.get(account="aiss-0012", quarter="2026Q1")
    assert statement.lines.get().used_hours == 102400
    # A change request waits for the secretariat: aiss-0007 gives back hours of its last quarter.
    pending = ChangeRequest.objects.get(proposal__account_code="aiss-0007")
    assert (pending.kind, pending.state, pending.gpu_hours) == ("reduction", "submitted", 20_000)
