import uuid

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from .enums import COMMITTEE_ROLES, OFFICIAL_ROLES, MembershipRole, OrganisationType, Role
from .validators import br_number_validator

PICS_VERSION = "2026-01"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("email_verified_at", timezone.now())
        extra_fields.setdefault("role", Role.SECRETARIAT)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an email address. One role from the domain brief."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.APPLICANT)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=[("en", "English"), ("zh-hant", "繁體中文")],
        default="en",
    )
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)
    # Raised to end every session of the person at once (a second factor reset or enrolled); it is part of the
    # session's authentication hash, as the password is, so Django ends the sessions on their next request.
    session_generation = models.PositiveIntegerField(_("session generation"), default=0, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]
    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="unique_user_email_ci",
                violation_error_message=_("An account with this email address already exists."),
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's hash of the password, with the session generation once it has been raised (so sessions from
        before it was ever raised stay valid)."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "portal.accounts.User.session_auth_hash",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_short_name(self) -> str:
        return self.full_name

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_official(self) -> bool:
        return self.role in OFFICIAL_ROLES

    @property
    def is_committee(self) -> bool:
        return self.role in COMMITTEE_ROLES


class ConsentRecord(models.Model):
    """Consent to the Personal Information Collection Statement, kept with the version that was shown."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents", verbose_name=_("user"))
    pics_version = models.CharField(_("PICS version"), max_length=20)
    consented_at = models.DateTimeField(_("consented at"), default=timezone.now)

    class Meta:
        ordering = ["-consented_at"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self) -> str:
        return f"{self.user} consented to PICS {self.pics_version}"


class Organisation(models.Model):
    name = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    org_type = models.CharField(_("type"), max_length=20, choices=OrganisationType.choices)
    br_number = models.CharField(
        _("Business Registration number"), max_length=8, blank=True, validators=[br_number_validator]
    )
    address = models.TextField(_("address"), blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    members = models.ManyToManyField(User, through="Membership", related_name="organisations")

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                condition=~Q(org_type=OrganisationType.ENTERPRISE) | Q(br_number__regex=r"^\d{8}$"),
                name="enterprise_has_br_number",
                violation_error_code="br_number_required",
                violation_error_message=_("An enterprise needs its 8-digit Business Registration number."),
            ),
            models.UniqueConstraint(
                fields=["br_number"],
                condition=~Q(br_number=""),
                name="unique_br_number",
                violation_error_code="br_number_taken",
                violation_error_message=_(
                    "An organisation with this Business Registration number is already registered."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organisation")
    )
    role = models.CharField(
        _("membership role"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "organisation"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"


class Invitation(models.Model):
    """An invitation by email to join an organisation as a co-applicant."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("organisation")
    )
    email = models.EmailField(_("email address"))
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("invited by"))
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("accepted by")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class JoinRequest(models.Model):
    """An applicant's request to join a registered organisation; one of its administrators approves or declines."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="join_requests", verbose_name=_("organisation")
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="join_requests", verbose_name=_("user"))
    message = models.TextField(_("message to the administrators"), blank=True, max_length=1000)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("decided by")
    )
    approved = models.BooleanField(_("approved"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("request to join")
        verbose_name_plural = _("requests to join")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "user"], condition=Q(decided_at__isnull=True), name="one_open_join_request"
            ),
            models.CheckConstraint(
                condition=Q(decided_at__isnull=True, approved__isnull=True)
                | Q(decided_at__isnull=False, approved__isnull=False),
                name="join_request_decided_with_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.organisation}"


class ErasureRequest(models.Model):
    """A person's request that the portal erase their personal data (PDPO). The secretariat anonymises what need not
    be retained (``user_erase``) or declines with a reason; both are audited. One open request per person."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ERASED = "erased", _("Personal data erased")
        DECLINED = "declined", _("Declined")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="erasure_requests", verbose_name=_("user"))
    message = models.TextField(_("message to the secretariat"), blank=True, max_length=1000)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("decided by")
    )
    outcome = models.TextField(_("reason or note"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(status="open"), name="one_open_erasure_request"),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True) | (~Q(status="open") & Q(decided_at__isnull=False)),
                name="erasure_request_decided_with_time",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure request #{self.pk}"


# ---- Recovery codes (issue 10: stored hashed, never in clear) ---------------------------------------------------


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A person's single-use recovery codes, as a django-otp device. Unlike django-otp's static device, which keeps
    its tokens in clear, each code is kept as a password hash (the site's password hasher: Argon2id in production),
    so a copy of the database does not give them away. A code is checked against every code of the device, with
    no early exit, and deleted once used."""

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        match = None
        for code in self.codes.all():
            if check_password(str(token), code.digest) and match is None:
                match = code
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, related_name="codes", on_delete=models.CASCADE)
    digest = models.CharField(_("hash of the code"), max_length=256)

    def __str__(self) -> str:
        return f"{self.device} code {self.pk}"
