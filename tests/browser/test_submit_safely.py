"""In Chromium: Enter saves the draft and never removes a file, removing a file asks first, typing is saved on its
own and leaving with unsaved changes warns, a file chosen with Submit is submitted, and a submitted proposal is
reopened and amended before the deadline."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from portal.proposals import services
from portal.proposals.enums import ProposalState
from tests.factories import MembershipFactory, OrganisationFactory, open_call
from tests.factories.proposals import AttachmentFactory, complete_draft, pdf_bytes

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def applicant(db):
    return MembershipFactory(organisation=OrganisationFactory(name="University of Hong Kong")).user


@pytest.fixture
def draft(applicant):
    call = open_call(title="AISS 2027 Batch 1")
    proposal = services.proposal_create(call=call, organisation=applicant.organisations.get(), user=applicant)
    services.proposal_save_draft(proposal=proposal, raw=complete_draft(call), user=applicant)
    return proposal


def test_enter_saves_the_draft_and_removing_a_file_asks_first(page, live_server, draft, applicant):
    attachment = AttachmentFactory(proposal=draft, uploaded_by=applicant, original_name="technical-proposal.pdf")
    login(page, live_server, applicant)
    page.goto(f"/proposals/{draft.pk}/edit/")
    page.get_by_label("Project title (English)").fill("Cantonese LLM, renamed")
    page.get_by_label("Project title (English)").press("Enter")
    expect(page.locator("main")).to_contain_text("Draft saved at")
    expect(page.get_by_role("link", name="technical-proposal.pdf", exact=True)).to_be_visible()
    draft.refresh_from_db()
    attachment.refresh_from_db()
    assert draft.title == "Cantonese LLM, renamed"
    assert attachment.removed_at is None

    page.get_by_label("Summary").fill("Typed just before removing the file.")
    page.get_by_role("link", name="Remove technical-proposal.pdf").click()
    dialog = page.get_by_role("dialog", name="Remove the attachment?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("technical-proposal.pdf")
    page.shot("remove-asks")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    attachment.refresh_from_db()
    assert attachment.removed_at is None

    page.get_by_role("link", name="Remove technical-proposal.pdf").click()
    dialog.get_by_role("button", name="Remove").click()
    expect(page.locator("main")).to_contain_text("The attachment technical-proposal.pdf is removed.")
    attachment.refresh_from_db()
    draft.refresh_from_db()
    assert attachment.removed_at is not None
    assert draft.draft["summary"] == "Typed just before removing the file."


def test_save_draft_saves_in_place_and_a_reload_shows_it(page, live_server, draft, applicant):
    login(page, live_server, applicant)
    page.goto(f"/proposals/{draft.pk}/edit/")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Summary").fill("Saved in place, the page not loaded again.")
    page.get_by_role("button", name="Save draft").click()
    status = page.get_by_role("status").filter(has_text="Draft saved at")
    expect(status).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    draft.refresh_from_db()
    assert draft.draft["summary"] == "Saved in place, the page not loaded again."
    page.reload()
    expect(page.get_by_label("Summary")).to_have_value("Saved in place, the page not loaded again.")


def test_save_draft_after_the_session_expired_keeps_what_was_typed(page, live_server, draft, applicant):
    """Not saved in place (the session is gone): the form is sent the ordinary way and kept until the log-in."""
    login(page, live_server, applicant)
    page.goto(f"/proposals/{draft.pk}/edit/")
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)  # the session ends; the CSRF cookie stays
    page.get_by_label("Summary").fill("Typed after the session expired.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("main")).to_contain_text("Your session had expired. Log in again")
    page.get_by_label("Email").fill(applicant.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main")).to_contain_text("What you typed before your session expired has been saved.")
    expect(page.get_by_label("Summary")).to_have_value("Typed after the session expired.")
    draft.refresh_from_db()
    assert draft.draft["summary"] == "Typed after the session expired."


def test_typing_is_saved_on_its_own_and_leaving_unsaved_changes_warns(page, live_server, draft, applicant):
    login(page, live_server, applicant)
    page.goto(f"/proposals/{draft.pk}/edit/")
    page.get_by_label("Objectives").fill("Saved without pressing a button.")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved automatically at")
    draft.refresh_from_db()
    assert draft.draft["objectives"] == "Saved without pressing a button."

    page.get_by_label("Objectives").fill("Typed, and leaving at once.")
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("link", name="Back to the proposal").click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(f"/proposals/{draft.pk}/edit/")


def test_file_chosen_with_submit_is_submitted_after_the_confirm_step(page, live_server, draft, applicant, tmp_path):
    login(page, live_server, applicant)
    pdf = tmp_path / "technical-proposal.pdf"
    pdf.write_bytes(pdf_bytes(pages=2))
    page.goto(f"/proposals/{draft.pk}/edit/")
    page.get_by_label("Add a PDF attachment").set_input_files(str(pdf))
    page.get_by_role("button", name="Check and submit").click()
    expect(page.get_by_role("heading", name="Check your proposal, then submit it")).to_be_visible()
    expect(page.locator("main")).to_contain_text("technical-proposal.pdf")
    draft.refresh_from_db()
    assert draft.state == ProposalState.DRAFT
    page.shot("confirm")
    page.get_by_role("button", name="Submit proposal").click()
    expect(page.get_by_role("heading", name="Submission receipt")).to_be_visible()
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    draft.refresh_from_db()
    assert [a["name"] for a in draft.current_version.content["attachments"]] == ["technical-proposal.pdf"]

    # Reopen, amend and submit again before the deadline: version 2 with its own receipt.
    page.get_by_role("link", name="Go to the proposal").click()
    page.get_by_role("link", name="Reopen to amend").click()
    page.get_by_role("button", name="Reopen to amend").click()
    expect(page.locator("main")).to_contain_text("You are amending a submitted proposal.")
    page.get_by_label("Summary").fill("Amended before the deadline.")
    page.get_by_role("button", name="Check and submit").click()
    expect(page.locator("main")).to_contain_text("It will replace submitted version 1")
    page.get_by_role("button", name="Submit proposal").click()
    expect(page.get_by_role("heading", name="Submission receipt")).to_be_visible()
    expect(page.locator("main")).to_contain_text(re.compile(r"Version\s*2"))
    draft.refresh_from_db()
    assert draft.current_version.number == 2
    assert draft.current_version.content["fields"]["summary"] == "Amended before the deadline."
