"""In Chromium: an official opens the call's reports page from the menu, generates the approval report and
downloads it; the downloaded PDF is the report of the call."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.enums import Role
from tests.factories import UserFactory
from tests.factories.reports import report_call
from tests.reports.test_pdf import pdftotext

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_official_generates_and_downloads_the_approval_report(page, live_server, tmp_path):
    rc = report_call(20)
    officer = UserFactory(role=Role.SECRETARIAT, full_name="Ms Lau Mei Ling")
    _login(page, live_server, officer)
    page.goto("/")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("link", name=rc.call.title).click()
    expect(page.get_by_role("heading", name=f"Reports: {rc.call.title}")).to_be_visible()
    page.get_by_label("Language of the report").select_option("en")
    # The report renders in-process in tests; on a loaded machine the click's navigation outlasts the default
    # 15 s, so wait for the result below (up to 60 s) instead of for the navigation.
    page.get_by_role("button", name="Generate the approval report").click(no_wait_after=True)
    link = page.get_by_role("link", name="PDF,")
    expect(link).to_be_visible(timeout=60_000)
    page.shot("report-ready")
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "report.pdf"
    info.value.save_as(path)
    text = pdftotext(path.read_bytes())
    assert f"{rc.call.reference.upper()}-AR" in text
    assert "I have read this report and approve" in text
