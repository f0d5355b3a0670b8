"""Conflicts of interest (domain brief §6): same organisation as the lead or a co-applicant, a declared
collaboration with one of them within the last three years, or anything declared or recorded.

The automatic ones are worked out from the data each time, so a new membership or collaboration counts at once.
A reviewer's organisation counts as confirmed by the secretariat *and* as the reviewer last asked for it while that
change waits for confirmation: a pending change can add a conflict, never take one away (issue 9 point 2).

**The one confidentiality rule (issue 9 point 1).** A person conflicted on a proposal sees no score, rank, count,
average, review text, reviewer identity or status of it anywhere, and cannot act on it. Every page, export, JSON,
PDF, email and notice asks here: :func:`conflicted_proposal_ids` (which of these proposals must be withheld from
this person), :func:`conflicted_q` (the same as a query filter, for querysets: ``proposals_visible_to`` excludes
them for officials), :func:`conflicted_ids` and :func:`conflicted_in_call_ids` (the same rule asked from the
person's side: everything they are conflicted on, in any call or in one, for whole-call pages and permissions) and
:func:`free_of_conflict` (who of these people may be told about this proposal). The conditions are written once,
in :func:`_conflict_branches`."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connections, router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import Membership
from portal.proposals.models import Proposal, ProposalVersion

from .models import Collaboration, Declaration, ReviewerProfile

COLLABORATION_YEARS = 3
WITHHELD = gettext_lazy("withheld — conflict of interest")


def _this_year() -> int:
    return timezone.localtime().year


def user_organisations(user_ids: Iterable[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """(user → organisations they belong to, user → organisations they collaborated with recently)."""
    user_ids = list(user_ids)
    own: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "organisation_id"):
        own[user_id].add(org_id)
    for user_id, org_id, requested_id in ReviewerProfile.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "organisation_id", "organisation_requested_id"
    ):
        own[user_id].update(o for o in (org_id, requested_id) if o)
    recent: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in Collaboration.objects.filter(
        user_id__in=user_ids, last_year__gte=_this_year() - COLLABORATION_YEARS
    ).values_list("user_id", "organisation_id"):
        recent[user_id].add(org_id)
    return own, recent


def proposal_organisations(proposal_ids: Iterable[int]) -> dict[int, set[int]]:
    """Proposal → its lead organisation and the co-applicants' organisations in the current version."""
    proposal_ids = list(proposal_ids)
    orgs: dict[int, set[int]] = defaultdict(set)
    rows = Proposal.objects.filter(pk__in=proposal_ids).values_list("pk", "organisation_id", "current_version_id")
    version_to_proposal = {}
    for pk, org_id, version_id in rows:
        orgs[pk].add(org_id)
        if version_id:
            version_to_proposal[version_id] = pk
    through = ProposalVersion.co_organisations.through
    for version_id, org_id in through.objects.filter(proposalversion_id__in=version_to_proposal).values_list(
        "proposalversion_id", "organisation_id"
    ):
        orgs[version_to_proposal[version_id]].add(org_id)
    return orgs


def conflicted_pairs(*, proposal_ids: Iterable[int], user_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """(proposal, user) → the reason, for every conflicted pair among these proposals and users (5 queries)."""
    proposal_ids, user_ids = list(proposal_ids), list(user_ids)
    own, recent = user_organisations(user_ids)
    orgs = proposal_organisations(proposal_ids)
    pairs: dict[tuple[int, int], str] = {}
    for proposal_id in proposal_ids:
        p_orgs = orgs.get(proposal_id, set())
        for user_id in user_ids:
            if own.get(user_id, set()) & p_orgs:
                pairs[(proposal_id, user_id)] = _("Same organisation as the applicant or a co-applicant")
            elif recent.get(user_id, set()) & p_orgs:
                pairs[(proposal_id, user_id)] = _("Collaboration within the last three years")
    for proposal_id, user_id, reason in Declaration.objects.filter(
        proposal_id__in=proposal_ids, user_id__in=user_ids, conflicted=True
    ).values_list("proposal_id", "user_id", "reason"):
        pairs.setdefault((proposal_id, user_id), reason)
    return pairs


def conflict_reason(*, user, proposal) -> str | None:
    """Why ``user`` is conflicted on ``proposal``, or None."""
    return conflicted_pairs(proposal_ids=[proposal.pk], user_ids=[user.pk]).get((proposal.pk, user.pk))


def conflicted_proposal_ids(*, user, proposal_ids: Iterable[int]) -> set[int]:
    return {p for p, _u in conflicted_pairs(proposal_ids=proposal_ids, user_ids=[user.pk])}


def _conflict_sources(user_id: int, since: int) -> tuple:
    """What makes the user ``user_id`` conflicted, as subqueries: (the proposals they declared a conflict on, the
    organisations they belong to or asked to, those they collaborated with in ``since`` or later)."""
    declared = Declaration.objects.filter(user_id=user_id, conflicted=True).values("proposal_id")
    orgs = (
        Membership.objects.filter(user_id=user_id).values("organisation_id"),
        ReviewerProfile.objects.filter(user_id=user_id, organisation__isnull=False).values("organisation_id"),
        ReviewerProfile.objects.filter(user_id=user_id, organisation_requested__isnull=False).values(
            "organisation_requested_id"
        ),
        Collaboration.objects.filter(user_id=user_id, last_year__gte=since).values("organisation_id"),
    )
    return declared, orgs


def _conflict_branches(user_id: int, since: int, *, prefix: str = "") -> list[Q]:
    """The conditions of :func:`conflicted_q`, one per source: a proposal matching any of them is conflicted."""
    declared, orgs = _conflict_sources(user_id, since)
    branches = [Q(**{f"{prefix}pk__in": declared})]
    for subquery in orgs:
        branches.append(Q(**{f"{prefix}organisation_id__in": subquery}))
        branches.append(
            Q(
                **{
                    f"{prefix}current_version_id__in": ProposalVersion.co_organisations.through.objects.filter(
                        organisation_id__in=subquery
                    ).values("proposalversion_id")
                }
            )
        )
    return branches


def conflicted_q(user, *, prefix: str = "") -> Q:
    """The proposals ``user`` is conflicted on, as a filter (no query of its own: subqueries). ``prefix`` names the
    path to the proposal (``"proposal__"`` on awards). For an anonymous user: nothing."""
    if not getattr(user, "pk", None):
        return Q(pk__in=[])
    q = Q()
    for branch in _conflict_branches(user.pk, _this_year() - COLLABORATION_YEARS, prefix=prefix):
        q |= branch
    return q


# The query of _conflicted_rows, compiled once per database vendor with stand-ins for its two values (the person,
# the first year of a collaboration that counts): building it through the ORM, nine SELECTs with their subqueries,
# costs more than running it, on every page that asks who is conflicted in a call (issue 14).
# (Each within its column's range: Django compiles a comparison with a value outside it to no parameter at all.)
_USER_STAND_IN = 2_147_000_001
_SINCE_STAND_IN = 32_101
_CONFLICTED_ROWS_SQL: dict[str, tuple[str, tuple]] = {}


def _conflicted_rows_sql() -> tuple[str, tuple]:
    using = router.db_for_read(Proposal)
    vendor = connections[using].vendor
    compiled = _CONFLICTED_ROWS_SQL.get(vendor)
    if compiled is None:
        selects = [
            Proposal.objects.filter(branch).order_by().values_list("pk", "call_id", "current_version_id")
            for branch in _conflict_branches(_USER_STAND_IN, _SINCE_STAND_IN)
        ]
        sql, params = selects[0].union(*selects[1:]).query.get_compiler(using=using).as_sql()
        if params.count(_USER_STAND_IN) != len(selects) or _SINCE_STAND_IN not in params:
            raise RuntimeError("the conflicts' query no longer takes the person and the year as parameters")
        compiled = _CONFLICTED_ROWS_SQL[vendor] = (sql, tuple(params))
    return compiled


def _conflicted_rows(user) -> set[tuple[int, int, int | None]]:
    """(proposal, call, current version) of every proposal ``user`` is conflicted on, in any call: one query, a
    UNION of one SELECT per source of conflict, each led by the person's own rows (organisations, declarations: a
    few) rather than by a call's proposals (thousands, each tested against every source at once; issue 14),
    compiled once (:func:`_conflicted_rows_sql`) and run with this person's values."""
    if not getattr(user, "pk", None):
        return set()
    sql, stand_ins = _conflicted_rows_sql()
    values = {_USER_STAND_IN: user.pk, _SINCE_STAND_IN: _this_year() - COLLABORATION_YEARS}
    params = [values.get(p, p) if type(p) is int else p for p in stand_ins]
    with connections[router.db_for_read(Proposal)].cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def conflicted_ids(*, user) -> set[int]:
    """Every proposal ``user`` is conflicted on, in any call (one query; the same rule as :func:`conflicted_q`)."""
    return {pk for pk, _call, _version in _conflicted_rows(user)}


def conflicted_in_call_ids(*, user, call_id: int, submitted_only: bool = False) -> set[int]:
    """The proposals of a call that ``user`` is conflicted on (one query; with ``submitted_only``, those submitted)."""
    return {
        pk
        for pk, call, version in _conflicted_rows(user)
        if call == call_id and (version is not None or not submitted_only)
    }


def free_of_conflict(*, users, proposal) -> list:
    """Those of ``users`` who may be told about ``proposal`` (its status, figures): everyone not conflicted on it."""
    users = list(users)
    pairs = conflicted_pairs(proposal_ids=[proposal.pk], user_ids=[u.pk for u in users])
    return [u for u in users if (proposal.pk, u.pk) not in pairs]
