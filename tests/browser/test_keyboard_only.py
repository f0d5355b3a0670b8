"""WCAG 2.1.1 and 2.4.7, walked in Chromium with the keyboard alone: the applicant's proposal form and the reviewer's
review form can be filled in and sent with Tab, the arrow keys, Space and Enter; every stop shows a focus ring of at
least 2 px, and focus moves forward through the page in reading order (no positive tabindex, no trap)."""

import pytest
from playwright.sync_api import expect

from portal.proposals import services as proposal_services
from portal.proposals.models import Proposal
from portal.reviews import services as review_services
from portal.reviews.models import Review
from tests.factories import UserFactory, open_call
from tests.factories.proposals import complete_draft
from tests.factories.reviews import ReviewerProfileFactory, submitted_proposal

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What has focus, how it is named, whether its ring shows, and whether it comes after the previous stop.
FOCUS = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const named = (el.labels && el.labels.length) ? el.labels[0].innerText
        : (el.getAttribute('aria-label') || el.innerText || el.value || '');
    const previous = window.__keyboardWalkLast;
    const forward = !previous || previous === el
        || Boolean(previous.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    window.__keyboardWalkLast = el;
    return {tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '', id: el.id || '',
            label: named.trim().replace(/\\s+/g, ' ').slice(0, 80), forward: forward,
            ring: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth)};
}"""


class KeyboardWalk:
    """Tabs through a page and checks every stop on the way."""

    def __init__(self, page):
        self.page = page
        self.stops = []

    def focus(self) -> dict:
        return self.page.evaluate(FOCUS)

    def check(self, state: dict) -> dict:
        where = f"stop {len(self.stops)}: {state}"
        assert state["tag"] != "body", (
            f"focus was lost ({where}) after {[s['label'] or s['name'] for s in self.stops[-12:]]}"
        )
        assert state["ring"] >= 2, f"no visible focus ring ({where})"
        assert state["forward"], f"focus jumped backwards ({where})"
        self.stops.append(state)
        return state

    def press(self, key: str) -> dict:
        self.page.keyboard.press(key)
        return self.check(self.focus())

    def tab_to(self, wanted, limit: int = 200) -> dict:
        for _ in range(limit):
            state = self.press("Tab")
            if wanted(state):
                return state
        raise AssertionError(f"never reached the control after {limit} presses of Tab; last: {self.stops[-1]}")

    def choose(self, label_starts: str, limit: int = 8) -> dict:
        """In a radio group that has focus: Space selects the focused option, the arrow keys move the selection."""
        state = self.press("Space")
        for _ in range(limit):
            if state["label"].startswith(label_starts):
                return state
            state = self.press("ArrowRight")
        raise AssertionError(f"no option starting {label_starts!r} in the group; last: {state}")


def test_applicant_fills_in_and_saves_a_draft_with_the_keyboard_only(page, live_server):
    call = open_call(title="AISS 2026 first call")
    proposal = submitted_proposal(call)
    applicant = proposal.created_by
    draft = proposal_services.proposal_create(call=call, organisation=proposal.organisation, user=applicant)
    proposal_services.proposal_save_draft(proposal=draft, raw=complete_draft(call, title="Old title"), user=applicant)
    login(page, live_server, applicant)
    page.goto(f"/proposals/{draft.pk}/edit/")
    walk = KeyboardWalk(page)

    skip = walk.press("Tab")
    assert skip["label"] == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    walk.tab_to(lambda s: s["name"] == "title")
    page.keyboard.press("Control+A")
    page.keyboard.type("Typhoon track forecasting with a regional model")
    walk.tab_to(lambda s: s["name"] == "summary")
    page.keyboard.press("Control+A")
    page.keyboard.type("Forecast typhoon tracks a week ahead.")
    page.keyboard.press("Shift+Tab")  # back to the title, then Enter: "Save draft" is the form's default button
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Draft saved")
    page.shot("saved-by-enter")

    window = KeyboardWalk(page)
    cell = window.tab_to(
        lambda s: s["tag"] == "input" and "hours-input" in page.evaluate("document.activeElement.className")
    )
    # The live budget figures are asked for 300 ms after the typing stops: waited for, so that no request of the
    # page is still being answered when the test ends (and the database is emptied for the next one).
    with page.expect_response(lambda response: "/budget/" in response.url):
        page.keyboard.press("Control+A")
        page.keyboard.type("1234")
        window.tab_to(lambda s: s["tag"] == "button" and s["label"] == "Save draft")
        page.keyboard.press("Space")
        expect(page.locator("main")).to_contain_text("Draft saved")

    draft = Proposal.objects.get(pk=draft.pk)
    assert draft.title == "Typhoon track forecasting with a regional model"
    assert page.locator(f"#{cell['id']}").input_value() == "1234"
    assert len(walk.stops) + len(window.stops) > 10, "the walk stopped at too few controls to mean anything"


def test_reviewer_scores_and_submits_with_the_keyboard_only(page, live_server):
    call = open_call(title="AISS 2026 first call")
    proposal = submitted_proposal(call)
    reviewer = ReviewerProfileFactory(user__full_name="Dr Wong").user
    assignment = review_services.assignment_create(
        proposal=proposal, reviewer=reviewer, actor=UserFactory(role="secretariat")
    )
    review_services.assignment_declare(assignment=assignment, user=reviewer, conflicted=False)
    login(page, live_server, reviewer)
    page.goto(f"/reviews/assignments/{assignment.pk}/review/")
    walk = KeyboardWalk(page)
    scores = ["4", "3", "5", "2", "4"]
    criteria = page.locator("section.card").count()
    assert criteria == len(scores)

    for n, score in enumerate(scores, start=1):
        walk.tab_to(lambda s: s["type"] == "radio")
        walk.choose(score)
        walk.tab_to(lambda s: s["tag"] == "textarea")
        page.keyboard.type(f"Criterion {n}: reasons for {score}.")
    walk.tab_to(lambda s: s["type"] == "radio")
    walk.choose("Fund")
    walk.tab_to(lambda s: s["label"].startswith("Comments to the applicant"))
    page.keyboard.type("A clear plan with a realistic schedule.")
    walk.tab_to(lambda s: s["label"].startswith("Confidential comments to the committee"))
    page.keyboard.type("Strong team; the budget is well argued.")
    walk.tab_to(lambda s: s["tag"] == "button" and s["label"] == "Submit review")
    page.shot("before-submit")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Your review is submitted")

    review = Review.objects.get(assignment=assignment)
    assert review.state == "submitted"
    assert [s.score for s in review.scores.order_by("criterion__number")] == [int(s) for s in scores]
    assert review.recommendation == "fund"
    assert review.comments_applicant == "A clear plan with a realistic schedule."
