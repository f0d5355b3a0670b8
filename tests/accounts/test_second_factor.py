"""Two-step sign-in (issue 10, point 1): officials and the admin need a second factor; applicants may turn it on;
the secretariat resets a lost one. Real sessions, real django-otp devices, codes computed as an app would."""

import re
import uuid
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.enums import Role
from portal.accounts.middleware import HALF_SIGNED_IN_VIEWS
from portal.accounts.models import RecoveryCode, RecoveryCodeDevice
from portal.audit.models import AuditEvent
from portal.core.demo import DEMO_TOTP_KEY, DEMO_TOTP_SECRET
from tests.accounts.helpers import PASSWORD
from tests.factories.accounts import UserFactory, totp_code, totp_device

pytestmark = pytest.mark.django_db

OFFICIAL_ROLES = [Role.SECRETARIAT, Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER, Role.AUDITOR]
VERIFY = reverse("accounts:second_factor_verify")
SETUP = reverse("accounts:second_factor_setup")


def _login(client, user):
    return client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})


def _actions(user=None):
    events = AuditEvent.objects.order_by("seq")
    if user is not None:
        events = events.filter(object_id=str(user.pk))
    return list(events.values_list("action", flat=True))


def _every_url() -> list[tuple[str, str]]:
    """(view name, path) of every route of the portal, the admin's included, with sample values for its
    parameters. The second-factor check runs before any view, so a path needs only to resolve."""
    samples = {"int": "1", "uuid": str(uuid.uuid4()), "str": "x", "slug": "x", "path": "1"}
    found = []

    def walk(patterns, prefix, namespace):
        for entry in patterns:
            route = str(entry.pattern)
            if not hasattr(entry.pattern, "_route"):  # a regular expression (the admin's app index)
                route = re.sub(r"\(\?P<\w+>[^)]*\)", "accounts", route).lstrip("^").rstrip("$").replace("\\", "")
            route = re.sub(r"<(\w+):\w+>", lambda m: samples[m.group(1)], route)
            route = re.sub(r"<\w+>", "x", route)
            if isinstance(entry, URLResolver):
                name = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + route, name)
            elif isinstance(entry, URLPattern):
                found.append((f"{namespace}{entry.name or ''}", "/" + prefix + route))

    walk(get_resolver().url_patterns, "", "")
    return found


# ---- Officials cannot go past the password alone ------------------------------------------------------------------


@pytest.mark.parametrize("role", OFFICIAL_ROLES)
def test_official_password_alone_leads_to_the_code_step(client, role):
    official = UserFactory(role=role, email="official@example.hk")
    totp_device(official)

    response = _login(client, official)

    assert (response.status_code, response.url) == (302, f"{VERIFY}?{urlencode({'next': reverse('core:home')})}")
    assert client.get(reverse("core:home")).url == f"{VERIFY}?next=%2F"


def test_every_url_is_refused_to_an_official_who_gave_only_the_password(client):
    officer = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True)
    totp_device(officer)
    client.force_login(officer, second_factor=False)
    urls = _every_url()
    admin_urls = [path for name, path in urls if name.startswith("admin:")]

    reached = []
    for name, path in urls:
        if name in HALF_SIGNED_IN_VIEWS:
            continue
        for method in (client.get, client.post):
            response = method(path)
            if not (response.status_code == 302 and response.url.startswith(f"{VERIFY}?next=")):
                reached.append((method.__name__, path, response.status_code))

    assert reached == []
    assert len(urls) > 150
    assert len(admin_urls) > 40
    assert client.get(reverse("core:home")).url == f"{VERIFY}?next=%2F"


def test_official_without_an_authenticator_is_sent_to_set_one_up(client):
    auditor = UserFactory(role=Role.AUDITOR)

    response = _login(client, auditor)

    assert response.url == f"{SETUP}?{urlencode({'next': reverse('core:home')})}"
    assert client.get(reverse("audit:log")).url == f"{SETUP}?{urlencode({'next': reverse('audit:log')})}"
    assert client.get(SETUP).status_code == 200


def test_code_step_wrong_then_right_code_opens_the_pages(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    officer = UserFactory(role=Role.SECRETARIAT, email="officer@example.hk")
    device = totp_device(officer)
    _login(client, officer)
    audit_log = reverse("audit:log")

    wrong = client.post(VERIFY, {"code": "000000" if totp_code(device) != "000000" else "111111", "next": audit_log})
    right = client.post(VERIFY, {"code": totp_code(device), "next": audit_log})

    assert wrong.status_code == 200
    assert wrong.context["form"].errors == {
        "code": ["That code is not right. Type the code your app shows now, or a recovery code."]
    }
    assert (right.status_code, right.url) == (302, audit_log)
    assert client.get(reverse("proposals:dashboard")).status_code == 200
    assert _actions(officer) == ["user.logged_in", "user.second_factor_failed"]


def test_code_step_a_code_is_accepted_once(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    officer = UserFactory(role=Role.SECRETARIAT)
    device = totp_device(officer)
    code = totp_code(device)
    _login(client, officer)
    client.post(VERIFY, {"code": code})
    client.post(reverse("accounts:logout"))
    _login(client, officer)

    replay = client.post(VERIFY, {"code": code})

    assert replay.status_code == 200
    assert "That code is not right." in replay.context["form"].errors["code"][0]


def test_code_step_wrong_codes_slow_further_tries(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    officer = UserFactory(role=Role.SECRETARIAT)
    device = totp_device(officer)
    _login(client, officer)
    client.post(VERIFY, {"code": "12345x"})
    client.post(VERIFY, {"code": "000000" if totp_code(device) != "000000" else "111111"})

    response = client.post(VERIFY, {"code": totp_code(device)})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "code": ["Too many wrong codes in a row. Wait a minute, then type the code your app shows."]
    }
    assert client.get(reverse("core:home")).status_code == 302


def _recovery_codes(user, *codes) -> RecoveryCodeDevice:
    device = RecoveryCodeDevice.objects.create(user=user, name="recovery codes")
    RecoveryCode.objects.bulk_create(RecoveryCode(device=device, digest=make_password(code)) for code in codes)
    return device


def _codes_kept(user, *candidates) -> list[str]:
    """Which of ``candidates`` the person's stored hashes still accept (the codes themselves are not stored)."""
    digests = list(RecoveryCode.objects.filter(device__user=user).values_list("digest", flat=True))
    return [code for code in candidates if any(check_password(code, digest) for digest in digests)]


def test_recovery_code_works_once(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    officer = UserFactory(role=Role.COMMITTEE_CHAIR)
    totp_device(officer)
    _recovery_codes(officer, "abcd2345", "efgh6723")
    _login(client, officer)

    used = client.post(VERIFY, {"code": " ABCD 2345 "}, follow=True)
    client.post(reverse("accounts:logout"))
    _login(client, officer)
    again = client.post(VERIFY, {"code": "abcd2345"})

    assert used.redirect_chain[0] == (reverse("core:home"), 302)
    assert [str(m) for m in used.context["messages"]] == [
        "You used a recovery code; 1 left. Make new ones on your two-step sign-in page."
    ]
    assert again.status_code == 200
    assert _codes_kept(officer, "abcd2345", "efgh6723") == ["efgh6723"]
    assert "user.recovery_code_used" in _actions(officer)


def test_code_step_next_to_another_site_goes_home(client):
    officer = UserFactory(role=Role.SECRETARIAT)
    device = totp_device(officer)
    _login(client, officer)

    response = client.post(VERIFY, {"code": totp_code(device), "next": "https://evil.example.com/"})

    assert response.url == reverse("core:home")


# ---- Setting up an authenticator --------------------------------------------------------------------------------


def test_official_sets_up_authenticator_and_gets_recovery_codes(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    officer = UserFactory(role=Role.SECRETARIAT, email="new.officer@example.hk")
    _login(client, officer)
    page = client.get(SETUP)
    pending = TOTPDevice.objects.get(user=officer, confirmed=False)
    html = page.content.decode()
    again = client.get(SETUP)

    wrong = client.post(SETUP, {"code": "abc"})
    done = client.post(SETUP, {"code": totp_code(pending), "next": reverse("audit:log")})

    assert '<svg role="img" aria-hidden="true"' in html
    assert "<?xml" not in html
    assert re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7]{4} ){7}[A-Z2-7]{4}</code>', html)
    assert again.context["secret"] == page.context["secret"]  # the same secret until confirmed
    assert wrong.context["form"].errors == {"code": ["That code is not right. Type the 6 digits your app shows now."]}
    codes = done.context["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(f"<code>{code}</code>" in done.content.decode() for code in codes)
    assert list(TOTPDevice.objects.filter(user=officer).values_list("confirmed", flat=True)) == [True]
    assert sorted(_codes_kept(officer, *codes)) == sorted(codes)
    assert not any(
        code in RecoveryCode.objects.get(pk=pk).digest
        for pk in RecoveryCode.objects.values_list("pk", flat=True)
        for code in codes
    )
    assert client.get(reverse("proposals:dashboard")).status_code == 200
    event = AuditEvent.objects.get(action="user.second_factor_enrolled")
    assert (event.actor_id, event.after) == (officer.pk, {"recovery_codes": 10, "other_sessions_ended": True})


def test_someone_with_only_the_password_cannot_replace_an_authenticator(client):
    officer = UserFactory(role=Role.SECRETARIAT)
    totp_device(officer)
    _login(client, officer)

    response = client.get(SETUP)

    assert response.url == f"{VERIFY}?{urlencode({'next': SETUP})}"
    assert TOTPDevice.objects.filter(user=officer).count() == 1


def test_applicant_turns_two_step_sign_in_on_and_then_needs_it(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    applicant = UserFactory(role=Role.APPLICANT, email="chan@example.hk")
    _login(client, applicant)
    assert client.get(reverse("proposals:dashboard")).status_code == 200
    client.get(SETUP)
    pending = TOTPDevice.objects.get(user=applicant)
    client.post(SETUP, {"code": totp_code(pending)})
    client.post(reverse("accounts:logout"))

    response = _login(client, applicant)

    assert response.url == f"{VERIFY}?{urlencode({'next': reverse('core:home')})}"
    assert client.get(reverse("proposals:dashboard")).url.startswith(VERIFY)


def test_applicant_turns_it_off_but_an_official_cannot(client):
    applicant = UserFactory(role=Role.APPLICANT)
    totp_device(applicant)
    client.force_login(applicant)
    officer = UserFactory(role=Role.AUDITOR)
    officer_client = client.__class__()
    officer_client.force_login(officer)

    response = client.post(reverse("accounts:second_factor_disable"))
    refused = officer_client.post(reverse("accounts:second_factor_disable"))

    assert response.url == reverse("accounts:second_factor")
    assert TOTPDevice.objects.filter(user=applicant).count() == 0
    assert refused.status_code == 403
    assert TOTPDevice.objects.filter(user=officer).count() == 1
    assert "Turn off two-step sign-in" not in officer_client.get(reverse("accounts:second_factor")).content.decode()
    assert _actions(applicant) == ["user.second_factor_disabled"]


def test_new_recovery_codes_replace_the_old(client):
    applicant = UserFactory(role=Role.APPLICANT)
    totp_device(applicant)
    client.force_login(applicant)

    first = client.post(reverse("accounts:recovery_codes_renew")).context["codes"]
    second = client.post(reverse("accounts:recovery_codes_renew")).context["codes"]

    assert sorted(_codes_kept(applicant, *first, *second)) == sorted(second)
    assert set(first).isdisjoint(second)


# ---- The secretariat resets a lost factor ---------------------------------------------------------------------------


def test_secretariat_resets_a_lost_factor_with_a_reason(client):
    secretariat = UserFactory(role=Role.SECRETARIAT)
    chair = UserFactory(role=Role.COMMITTEE_CHAIR, email="chair@example.hk")
    totp_device(chair)
    _recovery_codes(chair, "abcd2345")
    client.force_login(secretariat)
    url = reverse("accounts:second_factor_reset", args=[chair.pk])

    empty = client.post(url, {"reason": " "})
    response = client.post(url, {"reason": "Lost phone; identity checked by video call"})

    assert empty.context["form"].errors == {"reason": ["This field is required."]}
    assert response.url == f"{reverse('accounts:sign_in_security')}?q=chair%40example.hk"
    assert TOTPDevice.objects.filter(user=chair).count() == RecoveryCodeDevice.objects.filter(user=chair).count() == 0
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert (event.actor_id, event.object_id, event.reason) == (
        secretariat.pk,
        str(chair.pk),
        "Lost phone; identity checked by video call",
    )
    assert (event.before, event.after) == (
        {"second_factor": True, "recovery_codes": 1},
        {"second_factor": False, "recovery_codes": 0, "sessions_ended": True},
    )
    chair_client = client.__class__()
    _login(chair_client, chair)
    assert chair_client.get(reverse("core:home")).url.startswith(SETUP)


def test_nobody_resets_their_own_factor(client):
    secretariat = UserFactory(role=Role.SECRETARIAT)
    client.force_login(secretariat)

    response = client.post(reverse("accounts:second_factor_reset", args=[secretariat.pk]), {"reason": "mine"})

    assert response.context["form"].non_field_errors() == [
        "You cannot reset your own second factor: ask another officer."
    ]
    assert TOTPDevice.objects.filter(user=secretariat).count() == 1


@pytest.mark.parametrize("role", [Role.APPLICANT, Role.REVIEWER, Role.COMMITTEE_CHAIR, Role.AUDITOR])
def test_only_the_secretariat_manages_sign_in_security(client, role):
    person = UserFactory(role=role)
    other = UserFactory(role=Role.COMMITTEE_MEMBER)
    totp_device(other)
    client.force_login(person)

    page = client.get(reverse("accounts:sign_in_security"))
    reset = client.post(reverse("accounts:second_factor_reset", args=[other.pk]), {"reason": "x"})
    unlock = client.post(reverse("accounts:lockout_clear"), {"kind": "account", "value": other.email})

    assert (page.status_code, reset.status_code, unlock.status_code) == (403, 403, 403)
    assert TOTPDevice.objects.filter(user=other).count() == 1


@pytest.mark.parametrize("people", [2, 12])
def test_sign_in_security_search_fixed_queries(client, django_assert_max_num_queries, people):
    secretariat = UserFactory(role=Role.SECRETARIAT)
    client.force_login(secretariat)
    for i in range(people):
        person = UserFactory(email=f"person{i}@lionrock.example.hk", role=Role.COMMITTEE_MEMBER)
        totp_device(person)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("accounts:sign_in_security"), {"q": "lionrock"})

    assert len(response.context["people"]) == people
    assert all(p.has_second_factor for p in response.context["people"])
    assert response.content.decode().count("btn btn-sm btn-outline-danger") == people


# ---- The Django admin -----------------------------------------------------------------------------------------------


def test_admin_needs_the_second_factor(client):
    officer = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True)
    totp_device(officer)
    client.force_login(officer, second_factor=False)
    verified = client.__class__()
    verified.force_login(officer)
    admin_index = reverse("admin:index")

    assert client.get(admin_index).url == f"{VERIFY}?{urlencode({'next': admin_index})}"
    assert verified.get(admin_index).status_code == 200
    assert client.__class__().get(reverse("admin:login")).url == (
        f"{reverse('accounts:login')}?{urlencode({'next': admin_index})}"
    )


def test_admin_site_refuses_a_session_without_the_second_factor(rf):
    from django.contrib import admin
    from django.contrib.auth.models import AnonymousUser

    officer = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True)
    request = rf.get("/")
    request.user = officer
    officer.is_verified = lambda: False

    assert admin.site.has_permission(request) is False
    officer.is_verified = lambda: True
    assert admin.site.has_permission(request) is True
    request.user = AnonymousUser()
    assert admin.site.has_permission(request) is False


# ---- The demo ---------------------------------------------------------------------------------------------------------


def test_demo_officials_sign_in_with_the_printed_secret(client, capsys):
    call_command("seed_demo")
    printed = capsys.readouterr().out
    call_command("demo_totp", "Secretariat@demo.aiss.hk")
    code = capsys.readouterr().out.strip()

    assert DEMO_TOTP_SECRET in printed
    assert "manage.py demo_totp secretariat@demo.aiss.hk" in printed
    assert set(TOTPDevice.objects.values_list("user__email", flat=True)) == {
        "secretariat@demo.aiss.hk",
        "committee@demo.aiss.hk",
        "chair@demo.aiss.hk",
        "auditor@demo.aiss.hk",
    }
    assert set(TOTPDevice.objects.values_list("key", flat=True)) == {DEMO_TOTP_KEY}
    client.post(reverse("accounts:login"), {"username": "secretariat@demo.aiss.hk", "password": "aiss-demo-2026"})
    assert client.post(VERIFY, {"code": code}).url == reverse("core:home")
    assert client.get(reverse("accounts:sign_in_security")).status_code == 200


def test_demo_totp_refuses_an_account_without_the_demo_secret():
    officer = UserFactory(role=Role.SECRETARIAT, email="real.officer@example.hk")
    totp_device(officer)

    with pytest.raises(CommandError, match=r"^real.officer@example.hk has no demo authenticator"):
        call_command("demo_totp", "real.officer@example.hk")


def test_migration_hashes_recovery_codes_kept_in_clear(client, settings):
    """Migration accounts.0006 turns django-otp's clear recovery codes into hashed ones that still work once."""
    import importlib

    from django.apps import apps
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    migration = importlib.import_module("portal.accounts.migrations.0006_hashed_recovery_codes")
    officer = UserFactory(role=Role.COMMITTEE_CHAIR)
    totp_device(officer)
    StaticDevice.objects.create(user=officer, name="recovery codes").token_set.create(token="abcd2345")

    migration.hash_static_tokens(apps, None)

    assert not StaticToken.objects.exists()
    assert not StaticDevice.objects.exists()
    assert "abcd2345" not in RecoveryCode.objects.get(device__user=officer).digest
    _login(client, officer)
    assert client.post(VERIFY, {"code": "abcd2345"}).status_code == 302
