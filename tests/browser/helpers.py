"""Helpers for browser tests: log a user in by their session cookie."""

from django.conf import settings
from django.test import Client


def login(page, live_server, user, language: str = "") -> None:
    """Give the browser a logged-in session of ``user`` (and a language cookie, if given)."""
    client = Client()
    client.force_login(user)
    cookies = [
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": live_server.url,
        }
    ]
    if language:
        cookies.append({"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url})
    page.context.clear_cookies()
    page.context.add_cookies(cookies)


def log_in_with_form(page, email: str, password: str = "correct-horse-battery") -> None:
    """Log in through the real form; a person with a second factor (every official) then types the code their
    authenticator shows (computed from the device the test gave them)."""
    from portal.accounts.models import User
    from portal.accounts.security import second_factor_enabled, second_factor_required
    from tests.factories.accounts import totp_code, totp_device

    user = User.objects.get(email=email)
    needs_code = second_factor_required(user) or second_factor_enabled(user)
    device = totp_device(user) if needs_code else None
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if device is not None:
        page.get_by_label("Code").fill(totp_code(device))
        page.get_by_role("button", name="Continue").click()
