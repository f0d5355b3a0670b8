"""Project documents, made by the one PDF module (portal.reports.pdf)."""

from __future__ import annotations

from django.utils.translation import gettext, override

from portal.core.formatting import format_hkt
from portal.reports.pdf import render_pdf

from .billing import parse_quarter
from .models import BillingStatement
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
