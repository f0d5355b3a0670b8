"""Writes for users, organisations and invitations. Plain keyword-only functions; they never see a request."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.services import audit_record
from portal.notifications.messages import Bilingual
from portal.notifications.models import Notification, OutboundEmail
from portal.notifications.services import email_queue, user_notify, users_notify

from .enums import MembershipRole, OrganisationType, Role
from .models import (
    PICS_VERSION,
    ConsentRecord,
    ErasureRequest,
    Invitation,
    JoinRequest,
    Membership,
    Organisation,
    User,
)
from .selectors import invitations_open, user_get_by_email

VERIFY_SALT = "portal.accounts.verify-email"
VERIFY_MAX_AGE = timedelta(days=3)
INVITATION_VALID_FOR = timedelta(days=14)


class VerificationLinkError(Exception):
    """The email verification link is malformed, tampered with, or older than ``VERIFY_MAX_AGE``."""

    def __init__(self, *, expired: bool):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class Verification:
    user: User
    newly_verified: bool
    next_url: str


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%dT%H%M%S.%f")


def verification_token_make(*, user: User, next_url: str = "") -> str:
    payload = {"u": user.pk, "e": user.email}
    if next_url:
        payload["n"] = next_url
    return signing.dumps(payload, salt=VERIFY_SALT, compress=True)


def verification_email_send(*, user: User, next_url: str = "") -> None:
    """Queue an email with a signed link that verifies ``user``'s address (valid for ``VERIFY_MAX_AGE``)."""
    token = verification_token_make(user=user, next_url=next_url)
    email_queue(
        key=f"verify:{user.pk}:{_stamp()}",
        to=user.email,
        template="emails/accounts_verify",
        context={
            "full_name": user.full_name,
            "verify_path": reverse("accounts:verify", kwargs={"token": token}),
            "valid_days": VERIFY_MAX_AGE.days,
        },
        language=user.preferred_language,
    )


def signup_existing_email_send(*, user: User) -> None:
    """Someone signed up with an address that already has an account: tell its owner (who may have forgotten they
    have one), and nobody else."""
    email_queue(
        key=f"signup-existing:{user.pk}:{_stamp()}",
        to=user.email,
        template="emails/accounts_signup_existing",
        context={
            "full_name": user.full_name,
            "login_path": reverse("accounts:login"),
            "reset_path": reverse("accounts:password_reset"),
        },
        language=user.preferred_language,
    )


@transaction.atomic
def user_signup(
    *, email: str, full_name: str, password: str, preferred_language: str = "en", next_url: str = ""
) -> User | None:
    """Create an unverified applicant, record consent to the current PICS and send the verification email.

    An address that already has an account creates nothing: its owner is emailed instead and ``None`` is returned,
    so the page shown afterwards is the same and does not reveal who has an account (no enumeration)."""
    email = email.strip().lower()
    user = User(email=email, full_name=full_name.strip(), preferred_language=preferred_language, role=Role.APPLICANT)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from exc
    user.set_password(password)  # hashed either way, so both answers take as long
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        signup_existing_email_send(user=existing)
        return None
    user.full_clean()
    user.save()
    consent = ConsentRecord(user=user, pics_version=PICS_VERSION, consented_at=timezone.now())
    consent.full_clean()
    consent.save()
    verification_email_send(user=user, next_url=next_url)
    return user


@transaction.atomic
def user_verify_email(*, token: str) -> Verification:
    """Mark the address in a verification link as verified. A link that was already used verifies nothing."""
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise VerificationLinkError(expired=True) from exc
    except signing.BadSignature as exc:
        raise VerificationLinkError(expired=False) from exc
    user = User.objects.select_for_update().filter(pk=payload.get("u"), email=payload.get("e")).first()
    if user is None or not user.is_active:
        raise VerificationLinkError(expired=False)
    newly_verified = user.email_verified_at is None
    if newly_verified:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return Verification(user=user, newly_verified=newly_verified, next_url=payload.get("n", ""))


def user_verification_resend(*, email: str) -> None:
    """Send a new link if ``email`` belongs to an account waiting for verification; silent otherwise, so the
    answer never reveals whether an address is registered."""
    user = user_get_by_email(email=email)
    if user is None or user.is_email_verified or not user.is_active:
        return
    verification_email_send(user=user)


@transaction.atomic
def user_role_change(*, user: User, role: str, actor: User, reason: str) -> User:
    """Give ``user`` another role, with a reason, in the audit log. Nobody changes their own role."""
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a valid role.")}, code="invalid_role")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason for the role change.")}, code="reason_required")
    if actor is not None and actor.pk == user.pk:
        raise ValidationError(_("You cannot change your own role."), code="own_role")
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = locked.role
    if before == role:
        return locked
    locked.role = role
    locked.save(update_fields=["role"])
    user.role = role
    audit_record(
        actor=actor,
        action="user.role_changed",
        obj=locked,
        before={"role": before},
        after={"role": role},
        reason=reason,
    )
    return locked


@transaction.atomic
def organisation_create(
    *, creator: User, name: str, org_type: str, name_zh: str = "", br_number: str = "", address: str = ""
) -> Organisation:
    """Register an organisation; its creator becomes its administrator."""
    if not (creator.role == Role.APPLICANT and creator.is_email_verified):
        raise PermissionDenied("Only verified applicants may register an organisation.")
    organisation = Organisation(
        name=name.strip(),
        name_zh=name_zh.strip(),
        org_type=org_type,
        br_number=br_number.strip(),
        address=address.strip(),
        created_by=creator,
    )
    if organisation.org_type == OrganisationType.ENTERPRISE and not organisation.br_number:
        raise ValidationError(
            {"br_number": _("An enterprise needs its 8-digit Business Registration number.")},
            code="br_number_required",
        )
    if Organisation.objects.filter(name__iexact=organisation.name).exists():
        raise ValidationError(
            {"name": _("An organisation with this name is already registered: ask to join it instead.")},
            code="name_taken",
        )
    if organisation.br_number and Organisation.objects.filter(br_number=organisation.br_number).exists():
        raise ValidationError(
            {"br_number": _("An organisation with this Business Registration number is already registered.")},
            code="br_number_taken",
        )
    organisation.full_clean()
    organisation.save()
    membership = Membership(user=creator, organisation=organisation, role=MembershipRole.ADMIN)
    membership.full_clean()
    membership.save()
    audit_record(
        actor=creator,
        action="organisation.created",
        obj=organisation,
        after={"name": organisation.name, "org_type": organisation.org_type, "br_number": organisation.br_number},
    )
    return organisation


@transaction.atomic
def invitation_send(*, organisation: Organisation, email: str, invited_by: User) -> Invitation:
    """Invite ``email`` to join ``organisation`` as a co-applicant and email them a link."""
    if not (
        invited_by.role == Role.APPLICANT
        and Membership.objects.filter(organisation=organisation, user=invited_by).exists()
    ):
        raise PermissionDenied("Only applicants in the organisation may invite co-applicants.")
    email = email.strip().lower()
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise ValidationError(
            {"email": _("This person is already a member of the organisation.")}, code="already_member"
        )
    if invitations_open().filter(organisation=organisation, email__iexact=email).exists():
        raise ValidationError({"email": _("An invitation to this address is still open.")}, code="already_invited")
    now = timezone.now()
    invitation = Invitation(
        organisation=organisation,
        email=email,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + INVITATION_VALID_FOR,
    )
    invitation.full_clean()
    invitation.save()
    invitee = user_get_by_email(email=email)
    email_queue(
        key=f"invitation:{invitation.pk}",
        to=email,
        template="emails/accounts_invitation",
        context={
            "organisation_name": organisation.name,
            "inviter_name": invited_by.full_name,
            "accept_path": reverse("accounts:invitation_accept", kwargs={"token": invitation.token}),
            "expires_at": invitation.expires_at,
        },
        language=invitee.preferred_language if invitee else invited_by.preferred_language,
    )
    return invitation


INVITATION_USED = _("This invitation has already been used.")
INVITATION_EXPIRED = _("This invitation has expired. Ask the organisation for a new one.")


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Make ``user`` a member of the invitation's organisation if the invitation is open and addressed to them."""
    invitation = Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(INVITATION_USED, code="used")
    if invitation.expires_at <= timezone.now():
        raise ValidationError(INVITATION_EXPIRED, code="expired")
    if invitation.email.lower() != user.email.lower():
        raise ValidationError(
            _("This invitation was sent to a different email address. Log in with the invited address to accept it."),
            code="wrong_email",
        )
    if user.role != Role.APPLICANT or not user.is_email_verified:
        raise ValidationError(_("Only verified applicants can join an organisation."), code="not_applicant")
    if Membership.objects.filter(organisation=invitation.organisation, user=user).exists():
        raise ValidationError(_("You are already a member of this organisation."), code="already_member")
    membership = Membership(user=user, organisation=invitation.organisation, role=MembershipRole.MEMBER)
    membership.full_clean()
    membership.save()
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=user,
        action="invitation.accepted",
        obj=invitation,
        after={"organisation": invitation.organisation_id, "user": user.pk},
    )
    return membership


def password_reset_email_send(*, user: User, uidb64: str, token: str) -> None:
    """Queue the password reset link through the notifications outbox (sent by Celery)."""
    email_queue(
        key=f"password-reset:{user.pk}:{_stamp()}",
        to=user.email,
        template="emails/accounts_password_reset",
        context={
            "full_name": user.full_name,
            "reset_path": reverse("accounts:password_reset_confirm", kwargs={"uidb64": uidb64, "token": token}),
        },
        language=user.preferred_language,
    )


def staff_login_record(*, user: User) -> None:
    """Officials and staff leave a trace in the audit log each time they log in."""
    if user.is_staff or user.is_official:
        audit_record(actor=user, action="user.logged_in", obj=user)


@transaction.atomic
def password_change_record(*, user: User) -> None:
    """A person changed their own password (the page did it through Django's form): audited, and the owner is
    told by email in case it was not them."""
    audit_record(actor=user, action="user.password_changed", obj=user)
    email_queue(
        key=f"password-changed:{user.pk}:{_stamp()}",
        to=user.email,
        template="emails/accounts_password_changed",
        context={"full_name": user.full_name, "reset_path": reverse("accounts:password_reset")},
        language=user.preferred_language,
    )


# ---- Requests to join an organisation ---------------------------------------------------------------------------


@transaction.atomic
def join_request_create(*, organisation: Organisation, user: User, message: str = "") -> JoinRequest:
    """Ask to join a registered organisation (instead of registering it again); its administrators are told."""
    if not (user.role == Role.APPLICANT and user.is_email_verified):
        raise PermissionDenied("Only verified applicants may ask to join an organisation.")
    if Membership.objects.filter(organisation=organisation, user=user).exists():
        raise ValidationError(_("You are already a member of this organisation."), code="already_member")
    if JoinRequest.objects.filter(organisation=organisation, user=user, decided_at__isnull=True).exists():
        raise ValidationError(_("You have already asked to join this organisation."), code="already_asked")
    request = JoinRequest(organisation=organisation, user=user, message=message.strip()[:1000])
    request.full_clean()
    request.save()
    audit_record(actor=user, action="organisation.join_requested", obj=organisation, after={"user": user.pk})
    admins = User.objects.filter(
        memberships__organisation=organisation, memberships__role=MembershipRole.ADMIN, is_active=True
    ).distinct()
    users_notify(
        users=admins,
        key=f"join-request:{request.pk}",
        template="emails/accounts_join_request",
        context={
            "person": user.full_name,
            "email": user.email,
            "organisation": Bilingual.of(organisation, "name"),
            "message": request.message,
        },
        url=reverse("accounts:organisation"),
    )
    return request


@transaction.atomic
def join_request_decide(*, request: JoinRequest, actor: User, approve: bool) -> JoinRequest:
    """An administrator of the organisation approves (the person becomes a member) or declines a request."""
    request = JoinRequest.objects.select_for_update().select_related("organisation", "user").get(pk=request.pk)
    organisation = request.organisation
    if not Membership.objects.filter(organisation=organisation, user=actor, role=MembershipRole.ADMIN).exists():
        raise PermissionDenied("Only an administrator of the organisation may decide on a request to join it.")
    if request.decided_at is not None:
        raise ValidationError(_("This request has already been decided."), code="decided")
    request.decided_at = timezone.now()
    request.decided_by = actor
    request.approved = approve
    request.full_clean()
    request.save(update_fields=["decided_at", "decided_by", "approved"])
    if approve and not Membership.objects.filter(organisation=organisation, user=request.user).exists():
        membership = Membership(user=request.user, organisation=organisation, role=MembershipRole.MEMBER)
        membership.full_clean()
        membership.save()
    audit_record(
        actor=actor,
        action="organisation.join_approved" if approve else "organisation.join_declined",
        obj=organisation,
        before={"request": request.pk, "state": "open"},
        after={"request": request.pk, "user": request.user_id, "approved": approve},
    )
    users_notify(
        users=[request.user],
        key=f"join-request-decided:{request.pk}",
        template="emails/accounts_join_decided",
        context={"organisation": Bilingual.of(organisation, "name"), "approved": approve},
        url=reverse("accounts:organisation"),
    )
    return request


@transaction.atomic
def user_profile_save(*, user: User, full_name: str, preferred_language: str) -> User:
    """Change a person's own name and preferred language (the language of the interface at log-in, of emails
    and of documents made for them)."""
    languages = {code for code, _name in User._meta.get_field("preferred_language").choices}
    if preferred_language not in languages:
        raise ValidationError({"preferred_language": _("Choose a language.")}, code="invalid_language")
    old_name, old_language = user.full_name, user.preferred_language
    user.full_name = full_name.strip()
    user.preferred_language = preferred_language
    user.full_clean()
    user.save(update_fields=["full_name", "preferred_language"])
    # The audit chain is kept for ever: it records that the name was corrected, never the name itself.
    before, after = {}, {}
    if user.full_name != old_name:
        before["full_name"], after["full_name"] = "(personal data)", "(corrected)"
    if user.preferred_language != old_language:
        before["preferred_language"], after["preferred_language"] = old_language, user.preferred_language
    if after:
        audit_record(actor=user, action="user.profile_changed", obj=user, before=before, after=after)
    return user


# ---- Removing a person; erasure of personal data (PDPO) ---------------------------------------------------------


def user_has_audit_records(*, user: User) -> bool:
    """Whether the audit chain names ``user`` (as the actor or as the object): such a person is never deleted."""
    from portal.audit.models import AuditEvent

    return AuditEvent.objects.filter(
        Q(actor=user) | Q(object_type=User._meta.label_lower, object_id=str(user.pk))
    ).exists()


@transaction.atomic
def user_remove(*, user: User, actor, reason: str = "") -> str:
    """Remove an account: a person the audit log names, or whom other records point to (proposals, reviews), is
    deactivated instead of deleted, so that the audit chain and the records keep verifying. Returns
    ``"deactivated"`` or ``"deleted"``; both are audited."""
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        raise ValidationError(_("You cannot remove your own account."), code="own_account")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user_has_audit_records(user=user):
        try:
            with transaction.atomic():
                pk = user.pk
                user.delete()
        except (ProtectedError, RestrictedError):
            user.refresh_from_db()
        else:
            user.pk = pk
            audit_record(actor=actor, action="user.deleted", obj=user, reason=reason)
            user.pk = None
            return "deleted"
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="user.deactivated",
        obj=user,
        before={"is_active": True},
        after={"is_active": False},
        reason=reason,
    )
    return "deactivated"


@transaction.atomic
def erasure_request_create(*, user: User, message: str = "") -> ErasureRequest:
    """A person asks the secretariat to erase their personal data; the secretariat is told. One open request."""
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied
    if ErasureRequest.objects.filter(user=user, status=ErasureRequest.Status.OPEN).exists():
        raise ValidationError(_("You have already asked for your data to be erased."), code="already_asked")
    request = ErasureRequest(user=user, message=message.strip()[:1000])
    request.full_clean()
    request.save()
    audit_record(actor=user, action="user.erasure_requested", obj=request, after={"user": user.pk})
    users_notify(
        users=User.objects.filter(role=Role.SECRETARIAT, is_active=True).order_by("pk"),
        key=f"erasure-request:{request.pk}",
        template="emails/accounts_erasure_request",
        context={"number": request.pk},
        url=reverse("accounts:erasure_requests"),
    )
    return request


ERASED_DOMAIN = "erased.invalid"


def _erase_personal_data(user: User) -> dict[str, int]:
    """Anonymise what need not be retained; keep what the scheme must (see ``user_erase``). Returns counts."""
    old_email = user.email
    counts = {
        "memberships": Membership.objects.filter(user=user).delete()[0],
        "notifications": Notification.objects.filter(user=user).delete()[0],
        "unsent_emails": OutboundEmail.objects.filter(to__iexact=old_email, sent_at__isnull=True).delete()[0],
    }
    anonymous = f"erased-{user.pk}@{ERASED_DOMAIN}"
    counts["sent_emails"] = OutboundEmail.objects.filter(to__iexact=old_email).update(to=anonymous, body="")
    counts["invitations"] = Invitation.objects.filter(email__iexact=old_email).update(email=anonymous)
    counts["join_request_messages"] = JoinRequest.objects.filter(user=user).exclude(message="").update(message="")
    # Data, not interface text: the same in both languages.
    user.full_name = f"Erased user #{user.pk} · 已刪除的用戶"
    user.email = anonymous
    user.email_verified_at = None
    user.is_active = False
    user.is_staff = False
    user.set_unusable_password()
    user.full_clean()
    user.save(update_fields=["full_name", "email", "email_verified_at", "is_active", "is_staff", "password"])
    return counts


@transaction.atomic
def erasure_request_decide(*, request: ErasureRequest, actor: User, erase: bool, note: str = "") -> ErasureRequest:
    """The secretariat erases the person's personal data, or declines giving the reason.

    Erased: name, email address, password, organisation memberships, in-app notifications, the address and body
    of emails sent to them (unsent ones are dropped), invitations to their address and their messages asking to
    join organisations. Retained (the scheme's records of how public money was given, kept for audit): submitted
    proposal versions (their receipts' SHA-256 covers them), reviews and declarations, decisions, awards and the
    audit log, which names the person by id only. The account is deactivated, never deleted."""
    if not actor.has_perm("portal.accounts.manage_erasure"):
        raise PermissionDenied
    request = ErasureRequest.objects.select_for_update().select_related("user").get(pk=request.pk)
    if request.status != ErasureRequest.Status.OPEN:
        raise ValidationError(_("This request has already been decided."), code="decided")
    if request.user_id == actor.pk:
        raise ValidationError(_("Another officer must decide on your own request."), code="own_request")
    note = note.strip()
    if not erase and not note:
        raise ValidationError({"note": _("Give the reason for declining.")}, code="reason_required")
    counts = {}
    if erase:
        user = User.objects.select_for_update().get(pk=request.user_id)
        counts = _erase_personal_data(user)
    request.status = ErasureRequest.Status.ERASED if erase else ErasureRequest.Status.DECLINED
    request.decided_at = timezone.now()
    request.decided_by = actor
    request.outcome = note
    request.full_clean()
    request.save(update_fields=["status", "decided_at", "decided_by", "outcome"])
    if not erase:
        user_notify(
            user=request.user,
            key=f"erasure-declined:{request.pk}",
            template="emails/accounts_erasure_declined",
            context={"reason": note},
            url=reverse("accounts:my_data"),
        )
    audit_record(
        actor=actor,
        action="user.erased" if erase else "user.erasure_declined",
        obj=request,
        before={"status": ErasureRequest.Status.OPEN},
        after={"status": request.status, "user": request.user_id, **({"erased": counts} if erase else {})},
        reason=note,
    )
    return request
