"""Project documents, made by the one PDF module (portal.reports.pdf)."""

from __future__ import annotations

from django.utils.translation import gettext, override

from portal.core.formatting import format_hkt
from portal.reports.pdf import render_pdf

from .billing import parse_quarter
from .models import BillingStatement, ProgressReport
from .selectors import statement_lines


def billing_statement_pdf(*, statement: BillingStatement, language: str) -> bytes:
    """One version of a billing statement: per pool, hours used and awarded, subsidised and overage hours, the
    price, rate and each amount, with the totals (sums of the rounded lines)."""
    proposal = statement.proposal
    span = parse_quarter(statement.quarter)
    with override(language):
        title = gettext("Billing statement")
        context = {
            "statement": statement,
            "lines": list(statement_lines(statement)),
            "proposal": proposal,
            "call": proposal.call,
            "span": span,
            "issued_hkt": format_hkt(statement.issued_at),
        }
    return render_pdf(
        template="projects/billing_statement.html",
        context=context,
        language=language,
        title=title,
        reference=statement.reference,
        version=str(statement.version),
    )


def progress_report_pdf(*, report: ProgressReport, language: str) -> bytes:
    """A progress report as submitted: the period, the progress against the KPIs and deliverables, the outputs,
    the usage so far (as imported when it was submitted), the problems and the plan, and where it stands."""
    proposal = report.proposal
    with override(language):
        title = gettext("Progress report")
        context = {
            "report": report,
            "proposal": proposal,
            "call": proposal.call,
            "outputs": list(report.outputs.all()),
            "usage_rows": report.usage.get("rows", []),
            "usage": report.usage,
            "submitted_hkt": format_hkt(report.submitted_at) if report.submitted_at else "",
            "decided_hkt": format_hkt(report.decided_at) if report.decided_at else "",
        }
    return render_pdf(
        template="projects/progress_report_pdf.html",
        context=context,
        language=language,
        title=title,
        reference=report.reference,
        version=str(report.number),
    )
