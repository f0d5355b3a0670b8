"""A reviewer's whole job in Debian's Chromium: log in, declare no conflict, score, save, leave, come back, submit."""

import pytest
from playwright.sync_api import expect

from portal.reviews import services
from portal.reviews.models import Review
from tests.factories import UserFactory, open_call
from tests.factories.reviews import ReviewerProfileFactory, submitted_proposal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reviewer_declares_scores_saves_and_submits(page, live_server):
    call = open_call(title="AISS 2027 Batch 1")
    proposal = submitted_proposal(call)
    reviewer = ReviewerProfileFactory(user__email="reviewer@example.hk", user__full_name="Dr Ho").user
    services.assignment_create(proposal=proposal, reviewer=reviewer, actor=UserFactory(role="secretariat"))

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("reviewer@example.hk")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="My reviews").click()
    page.shot("my-reviews")
    page.get_by_role("link", name=proposal.reference).click()
    expect(page.get_by_role("heading", name="Declare your interests")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Continued pre-training")
    page.shot("declare")
    page.get_by_label("I have no conflict of interest").check()
    page.get_by_role("button", name="Send my declaration").click()
    expect(page.locator("main")).to_contain_text("Continued pre-training")
    page.shot("proposal")

    page.get_by_role("link", name="Score this proposal").click()
    criteria = page.locator("section.card")
    for i, score in enumerate(["4 - Very good", "3 - Good", "4 - Very good"]):
        criteria.nth(i).get_by_label(score).check()
    page.get_by_label("Comments to the applicant").fill("A well-argued plan; the schedule is tight.")
    page.shot("draft")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("main")).to_contain_text("Draft saved")

    page.goto("/")  # leave, and come back later
    page.get_by_role("link", name="My reviews").click()
    page.get_by_role("link", name=proposal.reference).click()
    page.get_by_role("link", name="Score this proposal").click()
    expect(criteria.nth(0).get_by_label("4 - Very good")).to_be_checked()
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("alert")).to_contain_text("Give a score from 0 to 5.")
    page.shot("missing")
    criteria.nth(3).get_by_label("3 - Good").check()
    criteria.nth(4).get_by_label("5 - Excellent").check()
    page.get_by_label("Fund", exact=True).check()
    page.get_by_role("button", name="Submit review").click()
    expect(page.locator("main")).to_contain_text("Your review is submitted")
    page.shot("submitted")

    review = Review.objects.get()
    assert review.state == "submitted"
    assert [s.score for s in review.scores.order_by("criterion__number")] == [4, 3, 4, 3, 5]
