"""Why a reviewer was assigned to a proposal, and why a proposal is still short of reviewers, in the reader's
language. The figures are worked out by the assignment (portal/reviews/assignment.py ``shortfalls``) and stored
with each pair (``Assignment.explanation``); this module only words them."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.core.i18n import localised

from .models import ExpertiseTag


def tag_names() -> dict[int, str]:
    """Every expertise tag's name in the reader's language (one query; the list is short)."""
    return {tag.pk: localised(tag, "name") for tag in ExpertiseTag.objects.all()}


def pair_reason(explanation: Mapping, names: Mapping[int, str]) -> str:
    """``Expertise match 50% (NLP, vision) · load 3 of 8 in this call``; empty for pairs made before this was kept."""
    if not explanation:
        return ""
    parts = []
    tags = [names[t] for t in explanation.get("tags") or [] if t in names]
    affinity = number_format(round(float(explanation.get("affinity") or 0) * 100))
    if tags:
        parts.append(
            _("expertise match %(match)s%% (%(tags)s)") % {"match": affinity, "tags": _(", ").join(sorted(tags))}
        )
    else:
        parts.append(_("no expertise in common"))
    load, limit = explanation.get("load"), explanation.get("limit")
    if load is not None and limit is not None:
        parts.append(_("reviewer's load after it: %(load)s of %(limit)s in this call") % {"load": load, "limit": limit})
    return " · ".join(parts)


def shortfall_reasons(shortfall: Mapping) -> list[str]:
    """Why a proposal is still short of reviewers (a ``Shortfall`` as a dict), reason by reason."""
    free, need = shortfall["free"], shortfall["need"]
    suggested, limit = shortfall["suggested"], shortfall["suggested_limit"]
    usable = free - suggested + min(suggested, limit)
    reasons = []
    if shortfall["below_minimum"] > 0:
        reasons.append(
            ngettext(
                "%(n)s short of the minimum number of reviewers",
                "%(n)s short of the minimum number of reviewers",
                shortfall["below_minimum"],
            )
            % {"n": shortfall["below_minimum"]}
        )
    if shortfall["conflicted"]:
        reasons.append(
            ngettext(
                "conflict of interest: %(n)s reviewer has a conflict with it",
                "conflict of interest: %(n)s reviewers have a conflict with it",
                shortfall["conflicted"],
            )
            % {"n": shortfall["conflicted"]}
        )
    if free < need:
        reasons.append(
            ngettext(
                "only %(n)s available reviewer without a conflict",
                "only %(n)s available reviewers without a conflict",
                free,
            )
            % {"n": free}
        )
    elif usable < need:
        reasons.append(
            _(
                "suggested-reviewer limit: %(suggested)s of the %(free)s reviewers without a conflict are on the "
                "applicant's list, and at most one of them may be assigned"
            )
            % {"suggested": suggested, "free": free}
        )
    if shortfall["missing"] > max(0, need - usable):
        reasons.append(
            ngettext(
                "capacity: %(n)s reviewer without a conflict is at their limit",
                "capacity: %(n)s reviewers without a conflict are at their limit",
                shortfall["full"],
            )
            % {"n": shortfall["full"]}
        )
    return reasons
