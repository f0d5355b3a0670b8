"""Reads on proposals: querysets filtered by what the user may see, with their joins already made."""

from django.db.models import Prefetch, Q, QuerySet, Value

from portal.accounts.enums import OFFICIAL_ROLES, Role
from portal.accounts.models import Membership

from .enums import DECIDED
from .models import Attachment, Proposal, ProposalEvent, ProposalVersion


def proposals_visible_to(user, *, many: bool = False) -> QuerySet[Proposal]:
    """Applicants see their organisations' proposals; officials see every submitted proposal (and no drafts)
    except those they are conflicted on (issue 9 point 1: not its status, not its pages, not its documents);
    anyone else sees none. A guessed id outside this set is a 404. For a list of ``many`` (a call's thousands),
    an official's conflicted proposals are read first, from the person's few rows (one query), and left out by id,
    rather than each proposal being tested against every source of conflict."""
    qs = Proposal.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role in OFFICIAL_ROLES:
        # The conflict rule lives with the declarations, in reviews (which sits above proposals).
        from portal.reviews.conflicts import conflicted_ids, conflicted_q

        submitted = qs.exclude(reference__isnull=True)
        if many:
            return submitted.exclude(pk__in=conflicted_ids(user=user))
        return submitted.exclude(conflicted_q(user))
    if user.role == Role.APPLICANT:
        # A subquery, not a join: a join needs DISTINCT, which on PostgreSQL sorts every column of every row. Each
        # proposal read here says for whom it was read as a member's (rules.is_proposal_member then needs no query).
        return qs.filter(organisation_id__in=Membership.objects.filter(user=user).values("organisation_id")).annotate(
            read_as_member_by=Value(user.pk)
        )
    return qs.none()


# What a row of the proposal list shows (templates/proposals/dashboard.html): not the draft, the submitted content
# or the call's long texts, which a page of 25 rows would otherwise read for nothing.
LIST_FIELDS = (
    "reference",
    "title",
    "title_zh",
    "state",
    "updated_at",
    "call__title",
    "call__title_zh",
    "call__closes_at",
    "organisation__name",
    "organisation__name_zh",
)


def proposal_list(*, user, state: str | None = None, call_id: int | None = None) -> QuerySet[Proposal]:
    qs = (
        proposals_visible_to(user, many=True)
        .select_related("call", "organisation")
        .only(*LIST_FIELDS)
        .order_by("-updated_at", "-pk")
    )
    if state:
        qs = qs.filter(state=state)
    if call_id:
        qs = qs.filter(call_id=call_id)
    return qs


def proposal_detail(*, user, pk: int) -> QuerySet[Proposal]:
    return (
        proposals_visible_to(user)
        .filter(pk=pk)
        .select_related("call", "organisation", "created_by", "current_version__submitted_by")
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.filter(removed_at__isnull=True)),
            Prefetch(
                "versions",
                queryset=ProposalVersion.objects.select_related("submitted_by").order_by("number"),
            ),
            "call__pools",
            "call__quarters",
        )
    )


def proposal_for_edit(*, user, pk: int) -> QuerySet[Proposal]:
    """The proposal form's proposal: its call (the form reads the call's pools and quarters in order itself) and
    its submitted version; attachments are read afresh where needed, so nothing is prefetched."""
    return proposals_visible_to(user).filter(pk=pk).select_related("call", "organisation", "current_version")


def proposal_timeline(*, proposal: Proposal, user) -> QuerySet[ProposalEvent]:
    qs = proposal.events.select_related("actor").order_by("created_at", "pk")
    if user.role not in OFFICIAL_ROLES:
        qs = qs.filter(visible_to_applicant=True)
    return qs


def version_for(*, user, proposal_pk: int, number: int) -> QuerySet[ProposalVersion]:
    """One submitted version with its proposal, call, organisation and submitter. Nothing is prefetched: the
    receipt shows what the version's content says (its attachments' names and digests included)."""
    return ProposalVersion.objects.filter(
        proposal__in=proposals_visible_to(user), proposal_id=proposal_pk, number=number
    ).select_related("proposal__call", "proposal__organisation", "submitted_by")


def attachment_for(*, user, proposal_pk: int, pk: int) -> QuerySet[Attachment]:
    return Attachment.objects.filter(proposal__in=proposals_visible_to(user), proposal_id=proposal_pk, pk=pk)


def open_proposals_q() -> Q:
    return ~Q(state__in=DECIDED)
