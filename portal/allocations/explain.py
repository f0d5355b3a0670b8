"""The reason for each award, in words, from the optimiser's reason code (``docs/allocation.md``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .models import Award


def limit_text(code: str, *, pool_names: dict[str, str], org_names: dict[str, str]) -> str:
    """A limit's code in words: ``capacity h800 2026Q2`` → "the capacity of AISC H800 in 2026Q2"."""
    parts = code.split(" ")
    if parts[0] == "capacity" and len(parts) == 3:
        return _("the capacity of %(pool)s in %(quarter)s") % {
            "pool": pool_names.get(parts[1], parts[1]),
            "quarter": parts[2],
        }
    if parts[0] == "org_cap" and len(parts) == 3:
        return _("the organisation cap of %(org)s in %(pool)s") % {
            "org": org_names.get(parts[1], parts[1]),
            "pool": pool_names.get(parts[2], parts[2]),
        }
    if parts[0] == "budget":
        return _("the call's subsidy budget")
    if parts[0] == "min_share":
        return _("the project's minimum viable share")
    return code


def named_organisations(awards) -> set[int]:
    """The ids of the organisations the awards' reasons name (``org_cap org-12 h800``, in a reason or a soft
    limit), so that a page of awards reads the names of those alone."""
    ids = set()
    for award in awards:
        for code in (award.reason, *(award.soft_limits or ())):
            for part in code.split(" "):
                if part.startswith("org-") and part[4:].isdigit():
                    ids.add(int(part[4:]))
    return ids


def award_reason(award: Award, *, pool_names: dict[str, str], org_names: dict[str, str]) -> str:
    """E.g. "Cut to 62.5% of its request by the capacity of AISC H800 in 2026Q2"."""
    share = f"{award.share * 100:.1f}%"
    minimum = f"{award.min_share * 100:.1f}%"
    parts = award.reason.split(" ")
    code = parts[0] if parts else ""
    if award.adjusted_at is not None:
        prefix = _("Adjusted by hand to %(share)s (“%(reason)s”). ") % {
            "share": share,
            "reason": award.adjust_reason,
        }
        if award.soft_limits:
            prefix += _("Past %(limits)s (“%(reason)s”), for the approving official to approve. ") % {
                "limits": _(", ").join(
                    limit_text(c, pool_names=pool_names, org_names=org_names) for c in award.soft_limits
                ),
                "reason": award.soft_limit_reason,
            }
        prefix += _("Before the adjustment: ")
    else:
        prefix = ""
    if code == "tier_share" and len(parts) > 1:
        text = _(
            "Cut to %(share)s of its request: its tier shares one common share, which %(limit)s bound (a limit of others, not its own)."
        ) % {
            "share": share,
            "limit": limit_text(" ".join(parts[1:]), pool_names=pool_names, org_names=org_names),
        }
    elif code == "full":
        text = _("Funded in full.")
    elif code in ("capacity", "org_cap", "budget"):
        text = _cut(award, share, minimum, limit_text(award.reason, pool_names=pool_names, org_names=org_names))
    elif code == "min_share":
        text = _(
            "Not funded: what was left for it was less than its minimum viable share of %(minimum)s of its request."
        ) % {"minimum": minimum}
    elif award.reason == "below last tier":
        text = _("Not funded: its score is below the last tier's threshold.")
    else:
        text = award.reason
    return prefix + text


def _cut(award: Award, share: str, minimum: str, limit: str) -> str:
    if award.share == 0:
        return _("Not funded: %(limit)s left less than its minimum viable share of %(minimum)s.") % {
            "limit": limit,
            "minimum": minimum,
        }
    if award.share == award.min_share:
        return _("Cut to its minimum viable share (%(share)s of its request) by %(limit)s.") % {
            "share": share,
            "limit": limit,
        }
    return _("Cut to %(share)s of its request by %(limit)s.") % {"share": share, "limit": limit}
