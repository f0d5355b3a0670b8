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
