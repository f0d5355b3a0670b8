"""Conflicts of interest (domain brief §6): same organisation as the lead or a co-applicant, a declared
collaboration with one of them within the last three years, or anything declared or recorded.

The automatic ones are worked out from the data each time, so a new membership or collaboration counts at once."""

from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import Membership
from portal.proposals.models import Proposal, ProposalVersion

from .models import Collaboration, Declaration, ReviewerProfile

COLLABORATION_YEARS = 3


def _this_year() -> int:
    return timezone.localtime().year


def user_organisations(user_ids: Iterable[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """(user → organisations they belong to, user → organisations they collaborated with recently)."""
    user_ids = list(user_ids)
    own: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "organisation_id"):
        own[user_id].add(org_id)
    for user_id, org_id in ReviewerProfile.objects.filter(user_id__in=user_ids, organisation__isnull=False).values_list(
        "user_id", "organisation_id"
    ):
        own[user_id].add(org_id)
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
