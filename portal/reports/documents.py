"""Document builders: gather what a document shows, then hand it to the one PDF module."""

from __future__ import annotations

from django.utils.translation import gettext, override

from portal.proposals.models import ProposalVersion

from .pdf import format_hkt, render_pdf


def _submitted_field(content: dict, name: str) -> str:
    """A field as it was submitted. Versions keep the form's fields under ``fields``; older or hand-made
    content may have them at the top level."""
    fields = content.get("fields")
    source = fields if isinstance(fields, dict) else content
    value = source.get(name)
    return str(value) if value else ""


def receipt_pdf(*, version: ProposalVersion, language: str) -> bytes:
    """The submission receipt for one submitted version: what was received, when, from whom, and the SHA-256
    digests that let anyone check later that it has not changed."""
    proposal = version.proposal
    content = version.content if isinstance(version.content, dict) else {}
    with override(language):
        title = gettext("Submission receipt")
    context = {
        "version": version,
        "proposal": proposal,
        "call": proposal.call,
        "organisation": proposal.organisation,
        "submitted_by": version.submitted_by,
        "title_en": _submitted_field(content, "title") or proposal.title,
        "title_zh": _submitted_field(content, "title_zh"),
        "submitted_at_hkt": format_hkt(version.submitted_at),
        "attachments": list(version.attachments.all()),
        "content_file": f"{proposal.reference}-v{version.number}.json",
    }
    return render_pdf(
        template="reports/receipt.html",
        context=context,
        language=language,
        title=title,
        reference=proposal.reference or "",
        version=str(version.number),
    )
