"""Done when of issue 12, in Chromium with the demo's data: the secretariat creates a call with its rubric and
pools in the portal (no Django admin), closes a review round, runs and compares the allocation policies and
proposes the lock, which the chair approves."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from portal.accounts.models import User
from portal.allocations.models import AllocationRun
from portal.calls.models import Call, PoolCapacity
from portal.decisions import services as decisions
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal
from portal.reviews import services as reviews
from portal.reviews.models import Assignment
from tests.browser.helpers import login
from tests.factories.reviews import ReviewerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def second_review(proposal: Proposal, secretariat: User) -> None:
    """Bring one proposal of the demo in review to its minimum of reviews, through the real services."""
    reviewer = ReviewerFactory(full_name="Dr Second Reviewer")
    assignment = reviews.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    reviews.assignment_declare(assignment=assignment, user=reviewer, conflicted=False)
    numbers = proposal.call.criteria.values_list("number", flat=True)
    data = reviews.ReviewInput(
        scores=dict.fromkeys(numbers, (4, "Sound.")),
        recommendation="fund",
        comments_applicant="Clear plan.",
        comments_committee="Strong team.",
    )
    reviews.review_submit(assignment=assignment, user=reviewer, data=data)


def test_secretariat_sets_up_a_call_closes_the_round_runs_compares_and_the_chair_locks(page, live_server):
    call_command("seed_demo", verbosity=0)
    secretariat = User.objects.get(email="secretariat@demo.aiss.hk")
    chair = User.objects.get(email="chair@demo.aiss.hk")
    open_call = Call.objects.filter(proposals__state=S.IN_REVIEW).distinct().get()
    in_review = list(Proposal.objects.filter(call=open_call, state=S.IN_REVIEW).order_by("reference"))
    second_review(in_review[0], secretariat)
    for proposal in Proposal.objects.filter(call=open_call, state=S.RECOMMENDED):  # the chair's decisions first
        decisions.decision_make(proposal=proposal, actor=chair, approved=True, reason="As recommended.")

    # 1. A new call with its rubric and pools, in the portal.
    login(page, live_server, secretariat)
    page.goto("/")
    page.get_by_role("link", name="Calls", exact=True).click()
    page.get_by_role("link", name="Set up calls").click()
    page.get_by_role("link", name="Create a call").click()
    page.locator('[name="call-reference"]').fill("aiss-2027-b9")
    page.locator('[name="call-title"]').fill("AISS 2027 Batch 1")
    page.locator('[name="call-title_zh"]').fill("人工智能資助計劃 2027 第一批")
    page.locator('[name="call-guidance"]').fill("Read the whole call before you start.")
    page.locator('[name="call-guidance_zh"]').fill("開始前請細閱整份徵集文件。")
    opens = timezone.localtime() + timedelta(days=30)
    page.locator('[name="call-opens_at"]').fill(opens.strftime("%Y-%m-%dT09:00"))
    page.locator('[name="call-closes_at"]').fill((opens + timedelta(days=60)).strftime("%Y-%m-%dT17:00"))
    page.locator('[name="call-budget"]').fill("250000000.00")
    page.locator('[name="call-quarters_text"]').fill("2027Q3, 2027Q4")
    page.locator('[name="review-review_deadline"]').fill((opens + timedelta(days=90)).strftime("%Y-%m-%dT17:00"))
    page.locator('[name="review-response_days"]').fill("10")
    page.locator('[name="capacities-0-pool"]').fill("h800")
    page.locator('[name="capacities-0-quarter"]').fill("2027Q3")
    page.locator('[name="capacities-0-gpu_hours"]').fill("1300000")
    page.locator('[name="capacities-1-pool"]').fill("h800")
    page.locator('[name="capacities-1-quarter"]').fill("2027Q4")
    page.locator('[name="capacities-1-gpu_hours"]').fill("1250000")
    page.locator('[name="criteria-0-weight"]').fill("30")
    page.locator('[name="criteria-1-weight"]').fill("15")
    page.shot("new-call")
    page.get_by_role("button", name="Create the call").click()
    expect(page.get_by_text("The call was created.")).to_be_visible()
    page.shot("created")
    call = Call.objects.get(reference="aiss-2027-b9")
    assert call.criteria.count() == open_call.criteria.count()
    assert sorted(call.criteria.values_list("weight", flat=True))[-1] == 30
    assert list(call.pools.values_list("code", flat=True)) == list(open_call.pools.values_list("code", flat=True))
    assert PoolCapacity.objects.get(pool__code="h800", quarter__code="2027Q4").gpu_hours == 1_250_000
    page.goto(f"/calls/{call.reference}/")
    expect(page.get_by_role("heading", name="AISS 2027 Batch 1")).to_be_visible()

    # 2. The demo's open call: close its review round.
    page.goto(f"/reviews/calls/{open_call.pk}/assignments/")
    page.get_by_role("link", name="Close the review round").click()
    expect(page.get_by_text("Ready to close")).to_be_visible()
    expect(page.get_by_text(re.compile("has not submitted a review")).first).to_be_visible()
    page.shot("round")
    page.get_by_role("button", name="Close the round").click()
    expect(
        page.get_by_text(f"The review of 1 proposals was closed; {len(in_review) - 1} remain in review.")
    ).to_be_visible()
    assert Proposal.objects.get(pk=in_review[0].pk).state == S.REVIEWED

    # 3. Run every policy on it, compare, and propose the lock of the optimal run.
    page.goto(f"/allocations/calls/{open_call.pk}/")
    page.get_by_role("button", name="Run every policy and compare").click()
    expect(page.get_by_role("heading", name="Compare runs side by side")).to_be_visible()
    page.shot("compare")
    optimal = AllocationRun.objects.filter(call=open_call, policy="optimal").latest("pk")
    page.goto(f"/allocations/runs/{optimal.pk}/")
    page.get_by_role("link", name="Check the totals and propose the lock").click()
    expect(page.locator("#lock-totals")).to_contain_text("HK$")
    page.get_by_label(re.compile("I have checked these totals")).check()
    page.get_by_role("button", name="Propose the lock").click()
    expect(page.get_by_text("The lock is proposed; an approving official is asked to approve it.")).to_be_visible()
    page.shot("proposed")

    # 4. The chair approves it.
    login(page, live_server, chair)
    page.goto(f"/allocations/runs/{optimal.pk}/")
    page.get_by_role("link", name="Check the totals and approve the lock").click()
    page.get_by_label(re.compile("I have checked these totals")).check()
    page.get_by_role("button", name="Approve and lock the allocation").click()
    expect(page.get_by_text("The allocation is locked and the projects are told.")).to_be_visible()
    page.shot("locked")
    optimal.refresh_from_db()
    assert optimal.locked_by == chair
    assert optimal.lock_proposed_by == secretariat
    assert Assignment.objects.filter(proposal=in_review[0]).count() >= 2
