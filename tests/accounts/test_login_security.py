"""Brute force, sessions and passwords, and the production headers (issue 10, points 2 to 4)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse

from portal.accounts.enums import Role
from portal.accounts.security import LOGIN_AT_KEY, SEEN_AT_KEY
from portal.audit.models import AuditEvent
from tests.accounts.helpers import PASSWORD
from tests.factories.accounts import UserFactory, totp_code, totp_device

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ROOT = Path(django_settings.BASE_DIR)


def _try(client, email, password="wrong-password", address="10.0.0.1", **extra):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address, **extra)


def _actions():
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


# ---- Brute force (django-axes) ----------------------------------------------------------------------------------


def test_account_locked_after_five_failures_even_with_the_right_password(client):
    UserFactory(email="chan@example.hk")

    tries = [_try(client, "chan@example.hk", address=f"10.0.1.{i}").status_code for i in range(5)]
    locked = _try(client, "Chan@Example.hk", password=PASSWORD, address="10.0.2.1")

    assert tries == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Logging in is blocked for this account or from this network after 5 failed tries in a row." in html
    assert "Try again in 15 minutes, or ask the Secretariat to lift the block sooner." in html
    assert get_user(client).is_authenticated is False
    failed, locked = "user.login_failed", "user.locked_out"
    # The fifth failure locks the account; the try with the right password is refused and recorded too.
    assert _actions() == [failed, failed, failed, failed, locked, failed, locked, failed]


def test_client_address_locked_after_five_failures_on_any_accounts(client):
    for _ in range(3):
        _try(client, "first@example.hk", address="192.0.2.7")
    for i in range(2):
        _try(client, f"other{i}@example.hk", address="192.0.2.7")
    UserFactory(email="third@example.hk")
    UserFactory(email="first@example.hk")

    same_address = _try(client, "third@example.hk", password=PASSWORD, address="192.0.2.7")
    other_address = _try(Client(), "first@example.hk", password=PASSWORD, address="192.0.2.99")

    assert same_address.status_code == 429
    assert other_address.status_code == 302  # the account had 3 failures only: below the limit


def test_lockout_message_in_chinese(client):
    for i in range(5):
        _try(client, "wong@example.hk", address=f"10.0.3.{i}")

    response = _try(client, "wong@example.hk", address="10.0.3.9", HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert response.status_code == 429
    html = response.content.decode()
    assert "此帳戶或此網絡連續 5 次登入失敗，已暫停登入。" in html
    assert "請於 15 分鐘後再試，或請秘書處提早解除鎖定。" in html


def test_lockout_ends_by_itself_after_the_cool_off(client, settings):
    from axes.models import AccessAttempt

    UserFactory(email="ho@example.hk")
    for i in range(5):
        _try(client, "ho@example.hk", address=f"10.0.4.{i}")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time - settings.AXES_COOLOFF_TIME)

    response = _try(client, "ho@example.hk", password=PASSWORD, address="10.0.4.9")

    assert response.status_code == 302


def test_failed_log_in_is_audited_with_the_address_typed_and_the_client(client):
    user = UserFactory(email="lee@example.hk")

    _try(client, "LEE@example.hk", address="198.51.100.4")
    _try(client, "nobody@example.hk", address="198.51.100.4")

    events = list(AuditEvent.objects.order_by("seq").values_list("action", "object_id", "after", "actor_repr"))
    assert events == [
        ("user.login_failed", str(user.pk), {"email": "lee@example.hk", "client": "198.51.100.4"}, "anonymous"),
        ("user.login_failed", "", {"email": "nobody@example.hk", "client": "198.51.100.4"}, "anonymous"),
    ]


def test_client_address_behind_a_proxy_is_the_one_the_proxy_saw(client, settings):
    settings.PORTAL_PROXY_COUNT = 1

    _try(client, "x@example.hk", address="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.77")

    assert AuditEvent.objects.get().after["client"] == "198.51.100.77"


def test_secretariat_sees_and_lifts_a_lockout(client):
    UserFactory(email="cheung@example.hk")
    for i in range(5):
        _try(Client(), "cheung@example.hk", address=f"10.0.5.{i}")
    secretariat = UserFactory(role=Role.SECRETARIAT)
    client.force_login(secretariat)

    page = client.get(reverse("accounts:sign_in_security"))
    response = client.post(reverse("accounts:lockout_clear"), {"kind": "account", "value": "cheung@example.hk"})

    lockouts = [(lockout.kind, lockout.value, lockout.failures) for lockout in page.context["lockouts"]]
    assert lockouts == [("account", "cheung@example.hk", 5)]
    assert "<code>cheung@example.hk</code>" in page.content.decode()
    assert response.url == reverse("accounts:sign_in_security")
    assert client.get(reverse("accounts:sign_in_security")).context["lockouts"] == []
    assert _try(Client(), "cheung@example.hk", password=PASSWORD, address="10.0.5.9").status_code == 302
    event = AuditEvent.objects.get(action="user.unlocked")
    assert (event.actor_id, event.after) == (secretariat.pk, {"account": "cheung@example.hk"})


def test_unlock_of_nothing_is_refused_with_a_message(client):
    client.force_login(UserFactory(role=Role.SECRETARIAT))

    response = client.post(reverse("accounts:lockout_clear"), {"kind": "planet", "value": "x"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Choose an account or an address to unlock."]


def test_admin_log_in_goes_through_the_portal_log_in(client):
    response = client.get(reverse("admin:login"))

    assert response.url == f"{LOGIN}?next=%2Fadmin%2F"


# ---- Sessions ------------------------------------------------------------------------------------------------------


def _age_session(client, **seconds_ago):
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"login": LOGIN_AT_KEY, "seen": SEEN_AT_KEY}[key]] = now - ago
    session.save()


def test_official_session_ends_after_thirty_idle_minutes(client):
    officer = UserFactory(role=Role.SECRETARIAT)
    client.force_login(officer)
    _age_session(client, seen=31 * 60)
    dashboard = reverse("proposals:dashboard")

    response = client.get(dashboard, follow=True)

    assert response.redirect_chain == [(f"{LOGIN}?next={dashboard}", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "You were logged out after 30 minutes without activity. Please log in again."
    ]
    assert get_user(client).is_authenticated is False


def test_official_session_goes_on_while_active(client):
    client.force_login(UserFactory(role=Role.AUDITOR))
    _age_session(client, seen=29 * 60)

    assert client.get(reverse("audit:log")).status_code == 200
    assert int(time.time()) - client.session[SEEN_AT_KEY] < 5


def test_applicant_session_does_not_end_when_idle_but_ends_after_its_lifetime(client):
    client.force_login(UserFactory(role=Role.APPLICANT))
    _age_session(client, seen=3 * 60 * 60, login=3 * 60 * 60)
    assert client.get(reverse("proposals:dashboard")).status_code == 200

    _age_session(client, login=django_settings.PORTAL_SESSION_MAX_AGE + 1)
    response = client.get(reverse("proposals:dashboard"), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Your session has ended: please log in again."]
    assert get_user(client).is_authenticated is False


def test_session_lifetimes_come_from_settings():
    assert django_settings.SESSION_COOKIE_AGE == django_settings.PORTAL_SESSION_MAX_AGE == 12 * 60 * 60
    assert django_settings.PORTAL_STAFF_IDLE_TIMEOUT == 30 * 60


# ---- Passwords -----------------------------------------------------------------------------------------------------


def test_change_password(client, mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(email="yip@example.hk")
    client.force_login(user)
    url = reverse("accounts:password_change")
    new = "a-brand-new-passphrase-2026"

    page = client.get(url)
    wrong = client.post(url, {"old_password": "not-it", "new_password1": new, "new_password2": new})
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})

    assert 'for="id_old_password"' in page.content.decode()
    assert list(wrong.context["form"].errors) == ["old_password"]
    assert done.url == reverse("accounts:profile")
    user.refresh_from_db()
    assert user.check_password(new) is True
    assert get_user(client).pk == user.pk  # still signed in
    assert list(AuditEvent.objects.values_list("action", "actor")) == [("user.password_changed", user.pk)]
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["yip@example.hk"], "Your password for the AI Subsidy Scheme portal was changed")
    ]


def test_change_password_keeps_the_second_factor(client):
    officer = UserFactory(role=Role.SECRETARIAT)
    client.force_login(officer)
    new = "a-brand-new-passphrase-2026"

    client.post(
        reverse("accounts:password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )

    assert client.get(reverse("proposals:dashboard")).status_code == 200


def test_profile_links_to_password_and_two_step_pages(client):
    client.force_login(UserFactory())

    html = client.get(reverse("accounts:profile")).content.decode()

    assert f'href="{reverse("accounts:password_change")}"' in html
    assert f'href="{reverse("accounts:second_factor")}"' in html


# ---- Headers -------------------------------------------------------------------------------------------------------


def test_pages_carry_a_content_security_policy_without_inline_script(client):
    response = client.get(reverse("core:home"))

    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


def test_no_template_has_an_inline_script_or_event_handler():
    inline = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            inline.append(path.relative_to(ROOT).as_posix())
    assert inline == []


def test_two_step_pages_render_under_the_policy(client):
    officer = UserFactory(role=Role.SECRETARIAT)
    client.force_login(officer, second_factor=False)

    html = client.get(reverse("accounts:second_factor_setup")).content.decode()

    assert "<script>" not in html
    assert "<svg" in html
    assert 'style="' not in html


def test_production_settings_pass_check_deploy_with_no_warning():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DJANGO_SECRET_KEY": "x9!" * 20 + "production-test-key-with-enough-characters",
            "DJANGO_ALLOWED_HOSTS": "aiss.example.hk",
            "AUDIT_HMAC_KEY": "k" * 16 + "audit-hmac-key-for-the-test",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (result.returncode, result.stdout.strip()) == (0, "System check identified no issues (0 silenced).")


def test_production_cookies_hsts_and_admin_path_settings():
    code = (
        "import json; from django.conf import settings as s; from django.urls import reverse; print(json.dumps(["
        "s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_PRELOAD, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
        "reverse('admin:index')]))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DJANGO_SECRET_KEY": "x9!" * 20 + "production-test-key-with-enough-characters",
            "DJANGO_ALLOWED_HOSTS": "aiss.example.hk",
            "AUDIT_HMAC_KEY": "k" * 16 + "audit-hmac-key-for-the-test",
            "PORTAL_ADMIN_PATH": "office-7f3k",
            "DJANGO_SECURE_HSTS_PRELOAD": "false",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "__Host-sessionid",
        "__Host-csrftoken",
        True,
        True,
        31536000,
        False,
        True,
        True,
        "/office-7f3k/",
    ]


def test_official_signs_in_in_two_steps_with_the_real_form(client):
    officer = UserFactory(role=Role.SECRETARIAT, email="lau@example.hk")
    device = totp_device(officer)

    first = client.post(LOGIN, {"username": "lau@example.hk", "password": PASSWORD}, follow=True)
    second = client.post(first.request["PATH_INFO"], {"code": totp_code(device), "next": "/"})

    assert first.context["form"].fields["code"].widget.attrs["autocomplete"] == "one-time-code"
    assert second.url == "/"
