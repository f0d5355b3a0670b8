"""Two-step sign-in in Debian's Chromium: an official's first log-in sets up an authenticator from the page's secret
(as an app would read the QR code), keeps the recovery codes, and signs in again with one of them. No page breaks
the Content-Security-Policy."""

import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code_from_secret(secret: str) -> str:
    """What an authenticator app shows for ``secret`` (base32, as on the page) now."""
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key)
    totp.time = time.time()
    return f"{totp.token():06d}"


def test_official_sets_up_an_authenticator_then_signs_in_with_a_recovery_code(page, live_server):
    UserFactory(email="officer@aiss.example.hk", role=Role.SECRETARIAT, full_name="Mr Lau Chi Keung")
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security" in message.text else None)

    page.goto("/proposals/")
    page.get_by_label("Email").fill("officer@aiss.example.hk")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.locator(".qr-code svg")).to_be_visible()
    page.shot("setup")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code").fill("123")
    page.get_by_role("button", name="Confirm and turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right.")
    expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Code").fill(_code_from_secret(secret))
    page.get_by_role("button", name="Confirm and turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.shot("recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page).to_have_url(f"{live_server.url}/proposals/")

    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("officer@aiss.example.hk")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.goto("/proposals/")  # nothing past the password alone
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("status")).to_contain_text("You used a recovery code; 9 left.")
    expect(page).to_have_url(f"{live_server.url}/proposals/")
    page.shot("signed-in")

    assert violations == []
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions == [
        "user.logged_in",
        "user.second_factor_enrolled",
        "user.logged_in",
        "user.recovery_code_used",
    ]
