"""What changed between two submitted versions: a field-by-field diff of ``ProposalVersion.content``."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from portal.proposals.schema import ProposalSchema

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
    paths = list(dict.fromkeys([*old, *new]))
    return [
        FieldChange(path=path, label=_label(path), before=old.get(path, ""), after=new.get(path, ""))
        for path in paths
        if old.get(path, "") != new.get(path, "")
    ]
