"""Reads for users, organisations and invitations: querysets with their related rows already loaded."""

from typing import Any

from django.db.models import Case, Count, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from .models import ConsentRecord, Invitation, JoinRequest, Membership, Organisation, User

SEARCH_LIMIT = 10


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
        Prefetch(
            "join_requests",
            queryset=JoinRequest.objects.filter(decided_at__isnull=True).select_related("user").order_by("created_at"),
            to_attr="open_join_requests",
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


def organisations_search(*, query: str, limit: int = SEARCH_LIMIT) -> list[Organisation]:
    """Registered organisations whose English or Chinese name contains ``query``, or whose Business
    Registration number is ``query``: at most ``limit``, names starting with the query first. One query."""
    query = " ".join(str(query or "").split())[:100]
    if len(query) < 2:
        return []
    match = Q(name__icontains=query) | Q(name_zh__icontains=query)
    if query.isdigit():
        match |= Q(br_number=query)
    return list(
        Organisation.objects.filter(match)
        .annotate(starts=Case(When(name__istartswith=query, then=Value(0)), default=Value(1)))
        .order_by("starts", "name", "pk")
        .only("pk", "name", "name_zh", "org_type")[:limit]
    )


def organisations_by_names(*, names: list[str]) -> dict[str, Organisation]:
    """Each of ``names`` (an organisation's English or Chinese name, any case, or its id) → the organisation it
    names, for those that name one. One query."""
    wanted = {" ".join(n.split()).lower(): n for n in names if n and n.strip()}
    if not wanted:
        return {}
    match = Q()
    for key, name in wanted.items():
        match |= Q(name__iexact=key) | Q(name_zh=name.strip())
        if name.strip().isdigit():
            match |= Q(pk=int(name.strip()))
    found: dict[str, Organisation] = {}
    for organisation in Organisation.objects.filter(match).order_by("pk"):
        for key, name in wanted.items():
            if key in (organisation.name.lower(), organisation.name_zh.lower()) or name.strip() == str(organisation.pk):
                found.setdefault(name, organisation)
    return found


def join_requests_open_for(*, organisation: Organisation) -> QuerySet[JoinRequest]:
    return JoinRequest.objects.filter(organisation=organisation, decided_at__isnull=True).select_related("user")


def join_requests_of(*, user: User) -> QuerySet[JoinRequest]:
    return JoinRequest.objects.filter(user=user).select_related("organisation").order_by("-created_at", "-pk")
