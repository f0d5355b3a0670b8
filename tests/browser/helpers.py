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
