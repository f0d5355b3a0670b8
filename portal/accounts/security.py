"""Sign-in security: the second factor (django-otp), lock-outs after failed log-ins (django-axes) and session
lifetimes. Services (``<noun>_<verb>``, audited) and the selectors the pages read; the views never touch the
libraries' models themselves.

Who needs a second factor: officials (secretariat, committee, chair, approving officer, auditor) and anyone who
may use the Django admin, always; applicants and reviewers once they have turned it on. A second factor is an
authenticator app (TOTP, RFC 6238) with single-use recovery codes for a lost phone."""

import secrets
import time
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit.services import audit_record

from .enums import OFFICIAL_ROLES
from .models import RecoveryCode, RecoveryCodeDevice, User

# Session keys: when the password was accepted, when the person was last seen, and whether they had a second
# factor at that moment (then they must give it before anything else).
LOGIN_AT_KEY = "portal_login_at"
SEEN_AT_KEY = "portal_seen_at"
HAS_FACTOR_KEY = "portal_has_second_factor"
SEEN_AT_RESOLUTION = 60  # seconds: the session is written at most once a minute to record activity

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"


# ---- Who needs what ---------------------------------------------------------------------------------------------


def second_factor_required(user) -> bool:
    """Officials and anyone with access to the Django admin may not turn the second factor off."""
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser or user.role in OFFICIAL_ROLES))


def idle_timeout_applies(user) -> bool:
    """Officials' sessions end after ``PORTAL_STAFF_IDLE_TIMEOUT`` seconds without a request."""
    return second_factor_required(user)


def totp_device_of(user) -> TOTPDevice | None:
    """The person's confirmed authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def second_factor_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


def session_start(*, request, user) -> None:
    """At log-in (password accepted): remember when, and whether the person has a second factor to give."""
    now = int(time.time())
    request.session[LOGIN_AT_KEY] = now
    request.session[SEEN_AT_KEY] = now
    request.session[HAS_FACTOR_KEY] = second_factor_required(user) or second_factor_enabled(user)


def session_needs_second_factor(request) -> bool:
    """The person has given their password but not yet their second factor, and needs to."""
    user = request.user
    if not user.is_authenticated:
        return False
    # Just after log-in ``request.user`` is the plain user (without django-otp's ``is_verified``).
    verified = user.is_verified() if hasattr(user, "is_verified") else bool(request.session.get(DEVICE_ID_SESSION_KEY))
    if verified:
        return False
    return second_factor_required(user) or bool(request.session.get(HAS_FACTOR_KEY))


def sessions_end(*, user: User) -> None:
    """End every session of ``user`` (on its next request): the session generation is part of each session's
    authentication hash. A view that keeps its own session calls ``update_session_auth_hash`` after this."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])


# ---- Enrolment --------------------------------------------------------------------------------------------------


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The authenticator being set up (not confirmed yet): the same secret until the person confirms a code, so
    reloading the page keeps the QR code they may already have scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The ``otpauth://`` address of ``device`` as an inline SVG QR code (no image request, no third party)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    # The XML declaration is not allowed inside HTML; the rest is a plain <svg> element.
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    return svg.replace("<svg ", '<svg role="img" aria-hidden="true" focusable="false" ', 1)


def totp_code_now(device: TOTPDevice) -> str:
    """The code ``device`` shows at this moment (demo and tests: what the person's app would show)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def _normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _recovery_codes_make(*, user: User) -> list[str]:
    RecoveryCodeDevice.objects.filter(user=user).delete()
    device = RecoveryCodeDevice(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    device.full_clean()
    device.save()
    codes = []
    while len(codes) < settings.PORTAL_RECOVERY_CODE_COUNT:
        code = b32encode(secrets.token_bytes(5)).decode().lower()  # 8 characters, 40 random bits
        if code not in codes:
            codes.append(code)
    # Shown once to the person; only their hashes are kept.
    RecoveryCode.objects.bulk_create([RecoveryCode(device=device, digest=make_password(code)) for code in codes])
    return codes


@transaction.atomic
def second_factor_enrol(*, user: User, device: TOTPDevice, code: str) -> list[str]:
    """Confirm the authenticator being set up with a code it shows; replaces any earlier one. Returns the new
    recovery codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    code = _normalised(code)
    if not (code.isdigit() and len(code) == device.digits and device.verify_token(code)):
        raise ValidationError(
            {"code": _("That code is not right. Type the 6 digits your app shows now.")}, code="wrong_code"
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_make(user=user)
    sessions_end(user=user)
    audit_record(
        actor=user,
        action="user.second_factor_enrolled",
        obj=user,
        after={"recovery_codes": len(codes), "other_sessions_ended": True},
    )
    return codes


@transaction.atomic
def recovery_codes_renew(*, user: User) -> list[str]:
    """New recovery codes; the old ones stop working."""
    if not second_factor_enabled(user):
        raise ValidationError(_("Set up an authenticator app first."), code="no_second_factor")
    codes = _recovery_codes_make(user=user)
    audit_record(actor=user, action="user.recovery_codes_renewed", obj=user, after={"recovery_codes": len(codes)})
    return codes


@transaction.atomic
def second_factor_disable(*, user: User) -> None:
    """An applicant or reviewer turns the second factor off. Officials may not."""
    if second_factor_required(user):
        raise PermissionDenied("Officials must keep their second factor.")
    before = {"second_factor": second_factor_enabled(user), "recovery_codes": recovery_codes_left(user)}
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()
    audit_record(actor=user, action="user.second_factor_disabled", obj=user, before=before)


@transaction.atomic
def second_factor_reset(*, user: User, actor: User, reason: str) -> None:
    """The secretariat removes a person's authenticator and recovery codes (a lost phone): at their next log-in
    they set up a new one. Audited with the reason; nobody resets their own."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason for the reset.")}, code="reason_required")
    if actor.pk == user.pk:
        raise ValidationError(_("You cannot reset your own second factor: ask another officer."), code="own_reset")
    before = {"second_factor": second_factor_enabled(user), "recovery_codes": recovery_codes_left(user)}
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()
    sessions_end(user=user)
    audit_record(
        actor=actor,
        action="user.second_factor_reset",
        obj=user,
        before=before,
        after={"second_factor": False, "recovery_codes": 0, "sessions_ended": True},
        reason=reason.strip(),
    )


# ---- Verification ------------------------------------------------------------------------------------------------


class SecondFactorThrottled(Exception):
    """Too many wrong codes in a row: the person must wait before trying again."""


@dataclass(frozen=True)
class SecondFactorMatch:
    device: TOTPDevice | RecoveryCodeDevice
    recovery_code: bool


@transaction.atomic
def second_factor_check(*, user: User, code: str) -> SecondFactorMatch | None:
    """The device that accepts ``code``: six digits are the authenticator's code, anything else a recovery code
    (used up once accepted). Wrong codes slow further tries down (django-otp's throttling); failures are audited."""
    code = _normalised(code)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else RecoveryCodeDevice
    device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        audit_record(actor=user, action="user.second_factor_failed", obj=user)
        return None
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        raise SecondFactorThrottled
    if not device.verify_token(code):
        audit_record(actor=user, action="user.second_factor_failed", obj=user)
        return None
    recovery = isinstance(device, RecoveryCodeDevice)
    if recovery:
        audit_record(
            actor=user,
            action="user.recovery_code_used",
            obj=user,
            after={"recovery_codes_left": device.codes.count()},
        )
    return SecondFactorMatch(device=device, recovery_code=recovery)


def second_factor_login(*, request, device) -> None:
    """Mark the session as having passed the second factor with ``device``."""
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    request.user.otp_device = device


def people_with_second_factor(*, query: str, limit: int = 25) -> list[User]:
    """People whose email or name contains ``query``, each with ``has_second_factor`` and ``recovery_codes``. One
    query, however many there are."""
    codes = (
        RecoveryCode.objects.filter(device__user=OuterRef("pk"), device__confirmed=True)
        .order_by()
        .values("device__user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        User.objects.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
        .annotate(
            has_second_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            recovery_codes=Coalesce(Subquery(codes, output_field=IntegerField()), 0),
        )
        .order_by("email")[:limit]
    )


# ---- Lock-outs (django-axes) ---------------------------------------------------------------------------------------


def axes_username(request, credentials) -> str:
    """The account a log-in attempt is about, as it is stored (email, lower case)."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(value).strip().lower()[:254]


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind ``PORTAL_PROXY_COUNT`` proxies the address the outermost one
    saw (X-Forwarded-For, counted from the right, so a client cannot choose it)."""
    count = settings.PORTAL_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


@dataclass(frozen=True)
class Lockout:
    kind: str  # "account" or "address"
    value: str
    failures: int
    last_attempt: datetime
    locked_until: datetime


def lockouts_current() -> list[Lockout]:
    """Accounts and client addresses locked out now (failures at the limit within the cool-off time). Two
    queries, however many there are."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=since)
    lockouts = []
    for kind, field in (("account", "username"), ("address", "ip_address")):
        rows = (
            recent.exclude(Q(**{f"{field}__isnull": True}) | Q(**{field: ""}))
            .values(field)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
            .order_by("-last")
        )
        lockouts.extend(
            Lockout(
                kind=kind,
                value=row[field],
                failures=row["failures"],
                last_attempt=row["last"],
                locked_until=row["last"] + settings.AXES_COOLOFF_TIME,
            )
            for row in rows
        )
    return lockouts


@transaction.atomic
def lockout_clear(*, actor: User, kind: str, value: str) -> int:
    """The secretariat unlocks an account or a client address before its cool-off ends. Audited."""
    if kind not in ("account", "address") or not value:
        raise ValidationError(_("Choose an account or an address to unlock."), code="invalid_lockout")
    if kind == "account":
        removed = AxesProxyHandler.reset_attempts(username=value)
    else:
        removed = AxesProxyHandler.reset_attempts(ip_address=value)
    audit_record(actor=actor, action="user.unlocked", obj=User.objects.filter(email=value).first(), after={kind: value})
    return removed


def login_failure_record(*, request, credentials) -> None:
    """Every failed log-in is in the audit log: the address typed, the client address, and whether the account
    exists (the audit log is read by officials only)."""
    email = get_client_username(request, credentials) if request is not None else ""
    user = User.objects.filter(email__iexact=email).first() if email else None
    audit_record(
        actor="anonymous",
        action="user.login_failed",
        obj=user,
        after={"email": email, "client": client_ip(request) if request is not None else ""},
    )


def lockout_record(*, request, username: str, ip_address: str) -> None:
    audit_record(
        actor="anonymous",
        action="user.locked_out",
        obj=User.objects.filter(email__iexact=username).first() if username else None,
        after={"email": username or "", "client": ip_address or ""},
    )


def cool_off_minutes(request) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds() // 60) if cool_off else 0
