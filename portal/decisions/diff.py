"""What changed between two submitted versions: a field-by-field diff of ``ProposalVersion.content``.

Only what changed is shown: a field that is the same in both versions is left out, and of a list (the compute
request per pool and quarter, the co-applicants, the attachments) only the lines removed and the lines added.
Money is shown as HK$ with two decimals, shares as percentages and GPU-hours with thousands separators
(``portal.core.formatting``)."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from portal.core.formatting import format_hkd, format_hours, format_percent
from portal.proposals.schema import ProposalSchema

MONEY = frozenset(
    {
        "budget.cost",
        "budget.subsidy",
        "budget.applicant_share",
        "budget.other_funding",
        "budget.own_funds",
        "fields.other_funding",
    }
)
SHARES = frozenset({"budget.subsidy_rate", "compute.min_share"})
HOURS = frozenset({"budget.total_hours"})
LISTS = frozenset({"co_applicants", "compute.requests", "attachments"})

SECTION_LABELS = {
    "organisation.name": _("Lead organisation"),
    "organisation.type": _("Organisation type"),
    "organisation.br_number": _("Business Registration number"),
    "co_applicants": _("Co-applicants"),
    "compute.min_share": _("Minimum viable share"),
    "compute.requests": _("Compute request"),
    "attachments": _("Attachments"),
    "budget.cost": _("Cost at list price"),
    "budget.subsidy": _("Subsidy requested"),
    "budget.subsidy_rate": _("Subsidy rate"),
    "budget.applicant_share": _("Applicant's share"),
    "budget.other_funding": _("Other funding"),
    "budget.own_funds": _("Own funds"),
    "budget.total_hours": _("Total GPU-hours"),
}


@dataclass(frozen=True)
class FieldChange:
    path: str
    label: str
    before: str
    after: str


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    return str(value)


def _flatten(content: dict) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in (content.get("fields") or {}).items():
        flat[f"fields.{name}"] = _text(value)
    for name, value in (content.get("organisation") or {}).items():
        if name != "id":
            flat[f"organisation.{name}"] = _text(value)
    flat["co_applicants"] = "\n".join(
        f"{c.get('name', '')} ({c.get('organisation') or '—'}) {c.get('email', '')}".strip()
        for c in content.get("co_applicants") or []
    )
    compute = content.get("compute") or {}
    flat["compute.min_share"] = _text(compute.get("min_share"))
    flat["compute.requests"] = "\n".join(
        f"{r['pool']} {r['quarter']}: {int(r['gpu_hours']):,}"
        for r in sorted(compute.get("requests") or [], key=lambda r: (r["pool"], r["quarter"]))
    )
    for name, value in (content.get("budget") or {}).items():
        flat[f"budget.{name}"] = _text(value)
    flat["attachments"] = "\n".join(
        f"{a.get('name', '')} (SHA-256 {a.get('sha256', '')[:12]}…)" for a in content.get("attachments") or []
    )
    return flat


def _formatted(path: str, value: str) -> str:
    if not value:
        return value
    if path in MONEY:
        return format_hkd(value) or value
    if path in SHARES:
        return format_percent(value, 1).replace(".0%", "%") or value
    if path == "fields.min_share":
        return f"{value}%"
    if path in HOURS:
        return format_hours(value) or value
    return value


def _changed_lines(old: str, new: str) -> tuple[str, str]:
    """Of two lists (one item a line), the lines only in the first and the lines only in the second."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    return (
        "\n".join(line for line in old_lines if line not in new_lines),
        "\n".join(line for line in new_lines if line not in old_lines),
    )


def _label(path: str) -> str:
    if path in SECTION_LABELS:
        return str(SECTION_LABELS[path])
    if path.startswith("fields."):
        field = ProposalSchema.base_fields.get(path.removeprefix("fields."))
        if field is not None:
            return str(field.label)
    return path


def version_diff(before: dict, after: dict) -> list[FieldChange]:
    """The fields whose value differs between two versions' content, in a stable order."""
    old, new = _flatten(before), _flatten(after)
    changes = []
    for path in dict.fromkeys([*old, *new]):
        was, now = old.get(path, ""), new.get(path, "")
        if was == now:
            continue
        if path in LISTS:
            was, now = _changed_lines(was, now)
            if not was and not now:  # the same lines in another order
                continue
        changes.append(
            FieldChange(path=path, label=_label(path), before=_formatted(path, was), after=_formatted(path, now))
        )
    return changes
