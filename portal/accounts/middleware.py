"""Session lifetimes and the second factor, for every page (a view cannot forget them)."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .security import (
    LOGIN_AT_KEY,
    SEEN_AT_KEY,
    SEEN_AT_RESOLUTION,
    idle_timeout_applies,
    second_factor_enabled,
    session_needs_second_factor,
)

# What a person who has given their password but not yet their second factor may reach.
HALF_SIGNED_IN_VIEWS = frozenset(
    {
        "accounts:second_factor_verify",
        "accounts:second_factor_setup",
        "accounts:logout",
        "set_language",
    }
)


class SessionLifetimeMiddleware:
    """Every session ends ``PORTAL_SESSION_MAX_AGE`` seconds after log-in; an official's also after
    ``PORTAL_STAFF_IDLE_TIMEOUT`` seconds without a request. The person is sent to log in again, told why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            now = int(time.time())
            session = request.session
            login_at = session.setdefault(LOGIN_AT_KEY, now)
            seen_at = session.setdefault(SEEN_AT_KEY, now)
            if now - login_at > settings.PORTAL_SESSION_MAX_AGE:
                return self._end(request, _("Your session has ended: please log in again."))
            if idle_timeout_applies(user) and now - seen_at > settings.PORTAL_STAFF_IDLE_TIMEOUT:
                minutes = settings.PORTAL_STAFF_IDLE_TIMEOUT // 60
                return self._end(
                    request,
                    _("You were logged out after %(minutes)d minutes without activity. Please log in again.")
                    % {"minutes": minutes},
                )
            if now - seen_at >= SEEN_AT_RESOLUTION:
                session[SEEN_AT_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _end(request, message):
        path = request.get_full_path()
        logout(request)
        messages.info(request, message)
        return redirect_to_login(path)


class SecondFactorMiddleware:
    """A person who must give a second factor and has not yet reaches only the pages to give it (or set it up),
    log out and change the language. Officials without an authenticator are sent to set one up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not session_needs_second_factor(request):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in HALF_SIGNED_IN_VIEWS:
            return None
        name = (
            "accounts:second_factor_verify" if second_factor_enabled(request.user) else "accounts:second_factor_setup"
        )
        return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
