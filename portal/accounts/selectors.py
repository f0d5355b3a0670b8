"""Reads for users, organisations and invitations: querysets with their related rows already loaded."""

from typing import Any

from django.db.models import Case, Count, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from .models import ConsentRecord, Invitation, JoinRequest, Membership, Organisation, User

SEARCH_LIMIT = 10


def applicants_of(*, organisation_id: int) -> QuerySet[User]:
    """The active applicants of an organisation: those told of its proposals' progress and reviews. A reviewer or
    an official with a membership of the organisation is affiliated with it, not its applicant (issue 9 point 2)."""
    from .enums import Role

    return User.objects.filter(
        memberships__organisation_id=organisation_id, role=Role.APPLICANT, is_active=True
    ).distinct()


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


# ---- My data (PDPO data access) -----------------------------------------------------------------------------------

# The page shows the newest rows of each list; the download holds them all.
MY_DATA_PAGE_ROWS = 50


def _proposals_naming(user: User):
    """Proposals that name ``user``: created or submitted by them, or naming their email address as a co-applicant
    in a submitted version (the text of the version is searched, so the address is found wherever it was typed)."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from portal.proposals.models import Proposal, ProposalVersion

    named = (
        ProposalVersion.objects.annotate(text=Cast("content", TextField()))
        .filter(text__icontains=f'"{user.email}"')
        .values("proposal_id")
    )
    submitted = ProposalVersion.objects.filter(submitted_by=user).values("proposal_id")
    return (
        Proposal.objects.filter(Q(created_by=user) | Q(pk__in=submitted) | Q(pk__in=named))
        .select_related("call")
        .order_by("-created_at", "-pk")
    )


def user_personal_data(*, user: User, limit: int | None = None) -> dict[str, Any]:
    """Everything the portal holds about ``user`` as a person (PDPO s.18 data access request): their account,
    consents, organisations, invitations, proposals naming them, reviews they wrote, their declarations of interest,
    in-app notifications, emails sent to them, erasure requests and the audit entries about them. ``limit``: the
    newest rows of each list only (the page); None: everything (the download). A fixed number of queries."""
    from portal.audit.models import AuditEvent
    from portal.notifications.models import Notification, OutboundEmail
    from portal.notifications.services import notification_text
    from portal.reviews.models import Declaration, Review

    from .models import ErasureRequest

    def rows(queryset):
        return list(queryset[:limit] if limit is not None else queryset)

    memberships = Membership.objects.filter(user=user).select_related("organisation").order_by("joined_at", "pk")
    consents = ConsentRecord.objects.filter(user=user).order_by("consented_at", "pk")
    invitations = Invitation.objects.filter(email__iexact=user.email).select_related("organisation")
    proposals = rows(_proposals_naming(user))
    reviews = rows(
        Review.objects.filter(assignment__reviewer=user)
        .select_related("assignment__proposal", "version")
        .prefetch_related("scores__criterion")
        .order_by("-created_at", "-pk")
    )
    declarations = rows(Declaration.objects.filter(user=user).select_related("proposal").order_by("-created_at", "-pk"))
    notifications = rows(Notification.objects.filter(user=user).order_by("-created_at", "-pk"))
    emails = rows(OutboundEmail.objects.filter(to__iexact=user.email).order_by("-created_at", "-pk"))
    erasure_requests = ErasureRequest.objects.filter(user=user).order_by("-created_at", "-pk")
    about = Q(actor=user) | Q(object_type=User._meta.label_lower, object_id=str(user.pk))
    audit = rows(AuditEvent.objects.filter(about).order_by("-seq"))
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
            "is_active": user.is_active,
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
        "proposals": [
            {
                "reference": p.reference or "",
                "title": p.title,
                "call": p.call.reference,
                "state": p.state,
                "state_display": p.get_state_display(),
                "created_by_you": p.created_by_id == user.pk,
                "created_at": p.created_at,
            }
            for p in proposals
        ],
        "reviews": [
            {
                "proposal": r.assignment.proposal.reference or "",
                "version": r.version.number,
                "revision": r.revision,
                "state": r.state,
                "state_display": r.get_state_display(),
                "recommendation": r.recommendation,
                "recommendation_display": r.get_recommendation_display(),
                "comments_applicant": r.comments_applicant,
                "comments_committee": r.comments_committee,
                "scores": [
                    {"criterion": s.criterion.number, "score": s.score, "comment": s.comment} for s in r.scores.all()
                ],
                "created_at": r.created_at,
                "submitted_at": r.submitted_at,
            }
            for r in reviews
        ],
        "declarations": [
            {
                "proposal": d.proposal.reference or "",
                "conflicted": d.conflicted,
                "reason": d.reason,
                "source": d.source,
                "created_at": d.created_at,
            }
            for d in declarations
        ],
        "notifications": [
            {"text": notification_text(n), "url": n.url, "created_at": n.created_at, "read_at": n.read_at}
            for n in notifications
        ],
        "emails": [
            {"to": e.to, "subject": e.subject, "body": e.body, "created_at": e.created_at, "sent_at": e.sent_at}
            for e in emails
        ],
        "erasure_requests": [
            {"asked_at": e.created_at, "message": e.message, "status": e.status, "decided_at": e.decided_at}
            for e in erasure_requests
        ],
        "audit_entries": [
            {
                "record": e.seq,
                "time": e.created_at,
                "action": e.action,
                "by_you": e.actor_id == user.pk,
                "object": e.object_repr,
                "before": e.before if e.object_type == User._meta.label_lower else {},
                "after": e.after if e.object_type == User._meta.label_lower else {},
                "reason": e.reason if e.object_type == User._meta.label_lower else "",
            }
            for e in audit
        ],
    }


def erasure_requests_for_secretariat():
    """Erasure requests, open ones first, oldest first among them."""
    from .models import ErasureRequest

    return ErasureRequest.objects.select_related("user", "decided_by").order_by(
        Case(When(status=ErasureRequest.Status.OPEN, then=Value(0)), default=Value(1)), "created_at", "pk"
    )


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
        text = name.strip()
        if text.isascii() and text.isdigit() and len(text) <= 18:  # an id, never beyond what the database holds
            match |= Q(pk=int(text))
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
