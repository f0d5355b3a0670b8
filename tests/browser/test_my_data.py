"""In Chromium: a person finds My data from every page, downloads it, asks for erasure by keyboard-labelled
controls; the secretariat finds the request from their profile and erases; the account no longer opens."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.audit.services import audit_verify
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_sees_downloads_and_has_their_data_erased(page, live_server):
    person = MembershipFactory(organisation=OrganisationFactory(), user__full_name="Dr Chan Siu Ming").user
    secretariat = UserFactory(role=Role.SECRETARIAT, full_name="Ms Ho")

    login(page, live_server, person)
    page.goto("/")
    page.get_by_role("link", name="My personal data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    expect(page.locator("main")).to_contain_text("Dr Chan Siu Ming")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["account"]["full_name"] == "Dr Chan Siu Ming"
    page.get_by_role("button", name="Ask for my personal data to be erased").click()
    expect(page.locator("#error-summary")).to_be_focused()
    page.get_by_label("Message to the secretariat (optional)").fill("I have left research.")
    page.get_by_label("I understand that my account will be deactivated").check()
    page.get_by_role("button", name="Ask for my personal data to be erased").click()
    expect(page.locator("main")).to_contain_text("Your request is with the secretariat.")
    page.shot("asked")

    login(page, live_server, secretariat)
    page.goto("/accounts/profile/")
    page.get_by_role("link", name="Erasure requests").click()
    expect(page.locator("main")).to_contain_text("I have left research.")
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.locator("main")).to_contain_text("the personal data is erased")
    page.shot("erased")

    person = User.objects.get(pk=person.pk)
    assert (person.is_active, person.email) == (False, f"erased-{person.pk}@erased.invalid")
    assert audit_verify() is None
    login(page, live_server, person)  # a session of the deactivated account is not honoured
    page.goto("/accounts/my-data/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/accounts/my-data/")
