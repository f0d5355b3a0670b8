"""Document builders: gather what a document shows, then hand it to the one PDF module."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, override

from portal.allocations.charts import Series, bar_chart
from portal.calls.models import Call
from portal.core.formatting import format_hkt, hk_localtime
from portal.proposals.models import Proposal, ProposalVersion
from portal.reviews.selectors import review_settings

from .pdf import render_pdf, render_pdf_in_sections
from .selectors import ApprovalReportData, approval_report_data, decision_letter_data, usage_statement_data


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


# ---- The approval report ------------------------------------------------------------------------------------------

CHART_FONT = 'font-family="Noto Sans CJK TC, Noto Sans, sans-serif"'
# A call of 1,000 proposals takes one to two minutes on a shared core (make bench); Celery's soft limit is 14 min.
APPROVAL_REPORT_TIME_LIMIT = 600.0
# Rows of the ranked list or of the decisions laid out by one render process: WeasyPrint keeps every page of a
# document until it writes it, so its memory grows with the rows of a section, not with the call (make bench).
APPROVAL_REPORT_SECTION_ROWS = 400


def approval_report_reference(call: Call) -> str:
    return f"{call.reference.upper()}-AR"


def _pool_charts(data: ApprovalReportData) -> list[dict]:
    """One SVG chart per pool: GPU-hours requested, awardable and awarded in each quarter. The pool code is the
    chart id, and the chart's text is set in the document's font (Noto Sans CJK TC) like the rest."""
    charts = []
    for pool in data.pools:
        svg = bar_chart(
            chart_id=f"chart-{pool.pool.code}",
            title=gettext("GPU-hours per quarter: %(pool)s") % {"pool": pool.pool.name},
            description=gettext("Requested, awardable and awarded GPU-hours in each quarter of the call."),
            labels=[q.quarter.code for q in pool.quarters],
            series=[
                Series(gettext("Requested"), [q.requested for q in pool.quarters]),
                Series(gettext("Awardable"), [q.awardable for q in pool.quarters]),
                Series(gettext("Awarded"), [q.awarded for q in pool.quarters]),
            ],
        )
        charts.append({"pool": pool, "svg": mark_safe(svg.replace("<svg ", f"<svg {CHART_FONT} ", 1))})  # noqa: S308 - our own escaped SVG
    return charts


def approval_report_pdf(
    *,
    call: Call,
    language: str,
    data: ApprovalReportData | None = None,
    version: str = "",
    time_limit: float | None = None,
    on_progress=None,
    section_rows: int | None = None,
) -> bytes:
    """The approval report of ``call``: cover, summary figures, charts, the ranked list with raw and calibrated
    scores, flags and each project's decision, the approved projects' awards, and the approving officer's signature
    block.

    Rendered in sections of at most ``section_rows`` rows of the long tables (default
    ``settings.PORTAL_APPROVAL_REPORT_SECTION_ROWS``, else :data:`APPROVAL_REPORT_SECTION_ROWS`) and joined into
    one PDF; each section of a table starts on a new page and repeats the table's header."""
    data = data or approval_report_data(call=call)
    if section_rows is None:
        section_rows = int(getattr(settings, "PORTAL_APPROVAL_REPORT_SECTION_ROWS", APPROVAL_REPORT_SECTION_ROWS))
    with override(language):
        title = gettext("Approval report")
        context = {
            "data": data,
            "call": call,
            "charts": _pool_charts(data),
            "fingerprint": data.fingerprint(),
            "settings": review_settings(call=call),
        }
    if time_limit is None:
        time_limit = float(getattr(settings, "PORTAL_APPROVAL_REPORT_TIME_LIMIT", APPROVAL_REPORT_TIME_LIMIT))
    return render_pdf_in_sections(
        template="reports/approval_report.html",
        context=context,
        sections=_approval_report_sections(data, section_rows),
        language=language,
        title=title,
        reference=approval_report_reference(call),
        version=version,
        time_limit=time_limit,
        on_progress=on_progress,
    )


def _approval_report_sections(data: ApprovalReportData, rows: int) -> list[dict]:
    """The report's pieces in order (the front matter, the ranked list, the approved proposals' awards, the
    approval), packed into sections of at most ``rows`` rows of the long tables; a table goes on in the next section
    where one is full. The proposals not approved are in the ranked list with their decision, and counted in the
    awards' note, not listed again."""
    if rows < 1:
        raise ValueError(f"section_rows must be at least 1, not {rows}")
    sections: list[dict] = []
    pieces: list[dict] = [{"kind": "front"}]
    size = 0
    for kind, table in (("ranking", data.rows), ("awards", [row for row in data.rows if row.approved or row.award])):
        start = 0
        while True:
            if size == rows:
                sections.append({"pieces": pieces})
                pieces, size = [], 0
            take = min(rows - size, len(table) - start)
            pieces.append({"kind": kind, "rows": table[start : start + take], "first": start == 0})
            size += take
            start += take
            if start >= len(table):
                break
    pieces.append({"kind": "approval"})
    sections.append({"pieces": pieces})
    return sections


# ---- Letters and statements for one proposal ---------------------------------------------------------------------


class NoDecision(Exception):
    """The proposal has no decision on its current recommendation yet."""


def decision_letter_pdf(*, proposal: Proposal, language: str) -> bytes:
    """The decision letter: approved (hours per pool and quarter, subsidy rate and amount, conditions, tranche
    schedule) or not approved (the reviewers' comments meant for the applicant, anonymised, and the committee's
    feedback)."""
    letter = decision_letter_data(proposal=proposal)
    if letter is None:
        raise NoDecision(proposal.reference)
    with override(language):
        title = gettext("Decision letter")
        context = {
            "letter": letter,
            "proposal": proposal,
            "call": proposal.call,
            "organisation": proposal.organisation,
            "addressee": proposal.created_by,
            "decided_at_hkt": format_hkt(letter.decision.decided_at),
            "decided_on": hk_localtime(letter.decision.decided_at).date(),
            "tranches": [
                {"line": t, "released_hkt": format_hkt(t.released_at) if t.released_at else ""} for t in letter.tranches
            ],
        }
    return render_pdf(
        template="reports/decision_letter.html",
        context=context,
        language=language,
        title=title,
        reference=f"{proposal.reference}-DL",
        version=str(letter.recommendation.version.number),
    )


def usage_statement_pdf(*, proposal: Proposal, language: str, today: date) -> bytes:
    """Awarded, used and remaining GPU-hours per quarter, tranches released and claw-backs, as of ``today``."""
    statement = usage_statement_data(proposal=proposal, today=today)
    with override(language):
        title = gettext("Usage statement")
        context = {"statement": statement, "usage": statement.usage, "proposal": proposal, "call": proposal.call}
    return render_pdf(
        template="reports/usage_statement.html",
        context=context,
        language=language,
        title=title,
        reference=f"{proposal.reference}-US",
        version=today.isoformat(),
    )


# ---- The audit dossier of one proposal ---------------------------------------------------------------------------


def audit_dossier_pdf(*, proposal: Proposal, language: str) -> bytes:
    """Everything that happened to a proposal, for auditors and the ombudsman (see ``reports.dossier``)."""
    from django.utils import timezone

    from .dossier import audit_dossier_data

    data = audit_dossier_data(proposal=proposal)
    with override(language):
        title = gettext("Audit dossier")
        context = {"data": data, "proposal": proposal, "generated_hkt": format_hkt(timezone.now())}
    return render_pdf(
        template="reports/audit_dossier.html",
        context=context,
        language=language,
        title=title,
        reference=f"{proposal.reference}-AD",
        version=str(data.entries[-1].event.seq if data.entries else 0),
    )
