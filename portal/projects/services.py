"""Writes for a project's life after the award. Every change is audited (portal.audit)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record
from portal.calls.models import ResourcePool
from portal.core.exports import csv_lines
from portal.core.formatting import hk_localtime
from portal.proposals.models import Proposal

from .billing import CSV_COLUMNS, Line, billing_lines, parse_quarter, totals
from .models import BillingStatement, BillingStatementLine
from .selectors import billing_basis


def billing_csv(lines: list[Line], *, header: bool = True) -> str:
    """The statement's lines as CSV with the contract's columns (``billing.CSV_COLUMNS``)."""
    rows = (line.csv_row() for line in lines)
    return "".join(csv_lines(CSV_COLUMNS if header else None, rows, bom=False, line_end="\n"))


def statement_quarter_lines(*, proposal: Proposal, quarter: str) -> list[Line]:
    """The lines of ``proposal``'s statement for ``quarter`` as the usage imported so far gives them; the approved
    subsidy is carried over every earlier quarter first. ``NoAward`` when it has no locked award."""
    parse_quarter(quarter)
    basis = billing_basis(proposal=proposal)
    account = proposal.account_code or proposal.reference
    lines = billing_lines(account=account, inputs=basis.inputs(upto=quarter), approved_subsidy=basis.approved_subsidy)
    return [line for line in lines if line.quarter == quarter]


@transaction.atomic
def billing_statement_issue(
    *, proposal: Proposal, quarter: str, actor=None, now: datetime | None = None
) -> BillingStatement:
    """The current statement of ``proposal`` for ``quarter``: a new version when the figures changed since the last
    one (or when it becomes final), else the last one. Once a final version exists it is returned unchanged.
    Each new version is audited."""
    now = now or timezone.now()
    span = parse_quarter(quarter)
    Proposal.objects.select_for_update().filter(pk=proposal.pk).first()  # one issuer at a time per project
    latest = BillingStatement.objects.filter(proposal=proposal, quarter=quarter).order_by("-version").first()
    if latest is not None and latest.final:
        return latest
    lines = statement_quarter_lines(proposal=proposal, quarter=quarter)
    fingerprint = hashlib.sha256(billing_csv(lines).encode()).hexdigest()
    final = hk_localtime(now).date() >= span.final_on
    if latest is not None and latest.fingerprint == fingerprint and not final:
        return latest
    sums = totals(lines)
    statement = BillingStatement(
        proposal=proposal,
        account=proposal.account_code or proposal.reference,
        quarter=quarter,
        version=(latest.version + 1) if latest else 1,
        final=final,
        issued_at=now,
        issued_by=actor if getattr(actor, "pk", None) else None,
        fingerprint=fingerprint,
        cost=sums.cost,
        subsidy=sums.subsidy,
        applicant_share=sums.applicant_share,
        overage_charge=sums.overage_charge,
        total_payable=sums.total_payable,
    )
    statement.full_clean()
    statement.save()
    pools = ResourcePool.objects.in_bulk({line.pool for line in lines}, field_name="code")
    BillingStatementLine.objects.bulk_create(
        BillingStatementLine(
            statement=statement,
            pool=pools[line.pool],
            used_hours=line.used_hours,
            awarded_hours=line.awarded_hours,
            subsidised_hours=line.subsidised_hours,
            overage_hours=line.overage_hours,
            list_price=line.list_price,
            rate=line.rate,
            cost=line.cost,
            subsidy=line.subsidy,
            applicant_share=line.applicant_share,
            overage_charge=line.overage_charge,
            total_payable=line.total_payable,
        )
        for line in lines
    )
    audit_record(
        actor=actor,
        action="billing.statement_issue",
        obj=statement,
        before={"version": latest.version, "total_payable": str(latest.total_payable)} if latest else None,
        after={
            "proposal": proposal.reference,
            "quarter": quarter,
            "version": statement.version,
            "final": final,
            "subsidy": str(sums.subsidy),
            "total_payable": str(sums.total_payable),
            "fingerprint": fingerprint,
        },
    )
    return statement
