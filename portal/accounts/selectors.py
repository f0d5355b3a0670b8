"""Reads for users, organisations and invitations: querysets with their related rows already loaded."""

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from .models import ConsentRecord, Invitation, Membership, Organisation, User


def invitations_open() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


def _with_people(queryset: QuerySet[Organisation]) -> QuerySet[Organisation]:
    return queryset.annotate(member_count=Count("memberships", distinct=True)).prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("user").order_by("joined_at", "pk"),
            to_attr="member_list",
        ),
        Prefetch(
            "invitations",
            queryset=invitations_open().select_related("invited_by").order_by("-created_at", "-pk"),
            to_attr="open_invitations",
        ),
    )


def organisations_for_user(*, user: User) -> QuerySet[Organisation]:
    """The organisations ``user`` belongs to, with members and open invitations."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    return _with_people(Organisation.objects.filter(memberships__user=user)).order_by("name", "pk")


def organisations_visible_to(*, user: User) -> QuerySet[Organisation]:
    """Officials see every organisation; anyone else only their own (a guessed id gets 404)."""
    if user.is_authenticated and user.is_official:
        return _with_people(Organisation.objects.all()).order_by("name", "pk")
    return organisations_for_user(user=user)


def invitations_open_for_email(*, email: str) -> QuerySet[Invitation]:
    return invitations_open().filter(email__iexact=email).select_related("organisation", "invited_by")


def invitation_get_by_token(*, token) -> Invitation | None:
    return Invitation.objects.select_related("organisation", "invited_by").filter(token=token).first()


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def user_personal_data(*, user: User) -> dict[str, Any]:
    """Everything we hold about ``user`` as a person (PDPO s.18 data access request)."""
    memberships = Membership.objects.filter(user=user).select_related("organisation").order_by("joined_at", "pk")
    consents = ConsentRecord.objects.filter(user=user).order_by("consented_at", "pk")
    invitations = Invitation.objects.filter(email__iexact=user.email).select_related("organisation")
    return {
        "exported_at": timezone.now(),
        "account": {
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "preferred_language": user.preferred_language,
            "date_joined": user.date_joined,
            "email_verified_at": user.email_verified_at,
            "last_login": user.last_login,
        },
        "consents": [{"pics_version": c.pics_version, "consented_at": c.consented_at} for c in consents],
        "organisations": [
            {
                "name": m.organisation.name,
                "name_zh": m.organisation.name_zh,
                "org_type": m.organisation.org_type,
                "membership_role": m.role,
                "joined_at": m.joined_at,
            }
            for m in memberships
        ],
        "invitations_received": [
            {
                "organisation": i.organisation.name,
                "sent_at": i.created_at,
                "expires_at": i.expires_at,
                "accepted_at": i.accepted_at,
            }
            for i in invitations.order_by("created_at", "pk")
        ],
    }
