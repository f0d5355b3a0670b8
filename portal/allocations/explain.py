"""The reason for each award, in words, from the optimiser's reason code (``docs/allocation.md``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .models import Award


def award_reason(award: Award, *, pool_names: dict[str, str], org_names: dict[str, str]) -> str:
    """E.g. "Cut to 62.5% of its request by the capacity of AISC H800 in 2026Q2"."""
    share = f"{award.share * 100:.1f}%"
    minimum = f"{award.min_share * 100:.1f}%"
    parts = award.reason.split(" ")
    code = parts[0] if parts else ""
    if award.adjusted_at is not None:
        prefix = _("Adjusted by hand to %(share)s (“%(reason)s”). Before the adjustment: ") % {
            "share": share,
            "reason": award.adjust_reason,
        }
    else:
        prefix = ""
    if code == "full":
        text = _("Funded in full.")
    elif code == "capacity" and len(parts) == 3:
        limit = _("the capacity of %(pool)s in %(quarter)s") % {
            "pool": pool_names.get(parts[1], parts[1]),
            "quarter": parts[2],
        }
        text = _cut(award, share, minimum, limit)
    elif code == "budget":
        text = _cut(award, share, minimum, _("the call's subsidy budget"))
    elif code == "org_cap" and len(parts) == 3:
        limit = _("the organisation cap of %(org)s in %(pool)s") % {
            "org": org_names.get(parts[1], parts[1]),
            "pool": pool_names.get(parts[2], parts[2]),
        }
        text = _cut(award, share, minimum, limit)
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
