from itertools import pairwise

from django import template
from django.utils import timezone

from portal.decisions.selectors import proposal_decision_record

register = template.Library()


@register.inclusion_tag("decisions/_record.html")
def decision_record(proposal, user):
    """Screenings, clarification requests, recommendations and decisions of one proposal, as ``user`` may see
    them: applicants see the questions asked and the decisions, officials see everything."""
    record = proposal_decision_record(proposal=proposal)
    official = user.has_perm("portal.decisions.view_record")
    if not official:
        record["recommendations"] = []
        record["screenings"] = []
    versions = list(proposal.versions.all())
    return {
        **record,
        "proposal": proposal,
        "official": official,
        "can_revise": official and user.has_perm("portal.proposals.recommend_proposal", proposal),
        "now": timezone.now(),
        "version_pairs": list(pairwise(versions)) if official else [],
    }
