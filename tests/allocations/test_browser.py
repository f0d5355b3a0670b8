"""An officer runs an allocation in Chromium, compares policies, adjusts one award and locks."""

import re

import pytest
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.allocations.models import AllocationRun
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.browser.helpers import log_in_with_form
from tests.factories import UserFactory, open_call
from tests.factories.allocations import allocatable_proposal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_officer_runs_compares_adjusts_and_locks(page, live_server):
    call = open_call(title="AISS 2026 Batch 1")
    for score, min_share in (("4.60", "0.5"), ("4.20", "0.5"), ("3.90", "0.7"), ("3.10", "0.5")):
        allocatable_proposal(call, hours={("h800", "2026Q1"): 400_000}, score=score, min_share=min_share)
    UserFactory(email="officer@aiss.example.hk", role=Role.SECRETARIAT, full_name="Mr Lau Chi Keung")
    UserFactory(email="chair@aiss.example.hk", role=Role.COMMITTEE_CHAIR, full_name="Prof Tang Kwok Wai")

    log_in_with_form(page, "officer@aiss.example.hk")
    page.get_by_role("link", name="Allocations").click()
    page.get_by_role("link", name="AISS 2026 Batch 1").click()
    page.shot("call")

    page.get_by_label("Policy").select_option("rank")
    page.get_by_role("button", name="Run the optimiser").click()
    expect(page.get_by_role("heading", name=re.compile(r"Run #\d+: Rank order"))).to_be_visible()
    expect(page.get_by_text("Funded in full.").first).to_be_visible()
    page.shot("rank-run")

    page.get_by_label("Policy").select_option("optimal")
    page.get_by_role("button", name="Run again").click()
    expect(page.get_by_role("heading", name=re.compile(r"Run #\d+: Optimal"))).to_be_visible()
    page.shot("optimal-run")

    page.get_by_role("link", name="AISS 2026 Batch 1").click()
    for run in AllocationRun.objects.all():
        page.get_by_label(f"Compare run #{run.pk}").check()
    page.get_by_role("button", name="Compare the chosen runs").click()
    expect(page.get_by_role("heading", name="Compare runs side by side")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Projects funded"))).to_contain_text("3 / 4")
    page.shot("compare")

    optimal = AllocationRun.objects.get(policy="optimal")
    page.goto(f"/allocations/runs/{optimal.pk}/")
    first = Proposal.objects.order_by("reference").first()
    page.get_by_role("link", name=f"Adjust the award of {first.reference}").click()
    page.get_by_label("GPU-hours in AISC H800, 2026Q1").fill("300000")
    page.get_by_role("button", name="Save the adjustment").click()
    expect(
        page.get_by_text("Give the reason for the adjustment.").or_(page.get_by_text("This field is required."))
    ).to_be_visible()
    page.shot("adjust-error")
    page.get_by_label("Reason for the adjustment").fill("Technical advice: the model is smaller than planned.")
    page.get_by_role("button", name="Save the adjustment").click()
    expect(page.get_by_text(f"The award of {first.reference} is adjusted.")).to_be_visible()
    expect(page.locator(f"#award-{optimal.awards.get(proposal=first).pk}")).to_contain_text("Adjusted by hand to 75.0%")
    page.shot("adjusted")

    page.get_by_role("link", name="Check the totals and propose the lock").click()
    expect(page.locator("#lock-totals")).to_contain_text("HK$")
    page.get_by_label(re.compile("I have checked these totals")).check()
    page.get_by_role("button", name="Propose the lock").click()
    expect(page.get_by_text("The lock is proposed; an approving official is asked to approve it.")).to_be_visible()
    page.shot("proposed")
    page.get_by_role("button", name="Log out").click()

    log_in_with_form(page, "chair@aiss.example.hk")
    page.goto(f"/allocations/runs/{optimal.pk}/")
    page.get_by_role("link", name="Check the totals and approve the lock").click()
    page.get_by_label(re.compile("I have checked these totals")).check()
    page.get_by_role("button", name="Approve and lock the allocation").click()
    expect(page.get_by_text("The allocation is locked and the projects are told.")).to_be_visible()
    page.shot("locked")

    first.refresh_from_db()
    assert first.state == ProposalState.ACTIVE
    assert AllocationRun.objects.get(locked_at__isnull=False) == optimal
    page.goto(f"/allocations/projects/{first.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Award and usage"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("GPU-hours awarded and used per quarter"))).to_be_visible()
    page.shot("project")
    page.goto("/allocations/pools/h800/")
    expect(
        page.get_by_role("cell", name="300,000").or_(page.get_by_role("cell", name="1,070,000")).first
    ).to_be_visible()
    page.shot("pool")
