"""Spreadsheet exports for officials (ranking, decisions, awards as CSV or XLSX) and open data (CSV or JSON of
approved projects, with no personal data). Built from the same selectors as the approval report.

Text that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) is prefixed
with an apostrophe: titles and names are typed by applicants (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from decimal import Decimal

from django.utils.translation import gettext as _

from portal.core.formatting import format_hkt

from .enums import ExportFormat, ExportTable, OpenDataFormat
from .selectors import ApprovalReportData, OpenDataRow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    OpenDataFormat.JSON: "application/json",
}


def safe_cell(value):
    """A cell value that no spreadsheet will evaluate: text starting like a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _decimal(value: Decimal | None, places: str = "0.01") -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal(places))


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def table_rows(data: ApprovalReportData, table: str) -> tuple[list[str], list[list]]:
    """(header, rows) of one official export table."""
    if table == ExportTable.RANKING:
        header = [
            _("Rank"),
            _("Reference"),
            _("Title"),
            _("Organisation"),
            _("State"),
            _("Reviews"),
            _("Raw mean"),
            _("Calibrated mean"),
            _("Agreed score"),
            _("Spread"),
            _("Reviewers disagree"),
            _("Passes"),
            _("Applicant responded"),
        ]
        rows = [
            [
                r.rank,
                r.proposal.reference,
                r.proposal.title,
                r.proposal.organisation.name,
                r.proposal.state,
                r.figures.review_count,
                _decimal(r.figures.raw_mean),
                _decimal(r.figures.calibrated_mean),
                _decimal(r.figures.consensus),
                _decimal(r.figures.spread),
                _yes_no(r.figures.disagreement),
                _yes_no(r.figures.passes),
                _yes_no(r.figures.has_response),
            ]
            for r in data.rows
        ]
    elif table == ExportTable.DECISIONS:
        header = [
            _("Reference"),
            _("Title"),
            _("Organisation"),
            _("Recommended"),
            _("Recommended subsidy rate"),
            _("Conditions"),
            _("Approved"),
            _("Decided by"),
            _("Decided at (HKT)"),
        ]
        rows = [
            [
                r.proposal.reference,
                r.proposal.title,
                r.proposal.organisation.name,
                _yes_no(r.recommended),
                r.recommendation.subsidy_rate if r.recommendation else None,
                r.recommendation.conditions if r.recommendation else "",
                _yes_no(r.approved),
                r.decision.decided_by.full_name if r.decision else "",
                format_hkt(r.decision.decided_at) if r.decision else "",
            ]
            for r in data.rows
            if r.recommendation is not None or r.decision is not None
        ]
    elif table == ExportTable.AWARDS:
        keys = data.cell_keys
        header = [
            _("Reference"),
            _("Title"),
            _("Organisation"),
            *[f"{pool} {quarter}" for pool, quarter in keys],
            _("GPU-hours awarded"),
            _("GPU-hours reclaimed"),
            _("Subsidy rate"),
            _("Subsidy (HK$)"),
        ]
        rows = [
            [
                r.proposal.reference,
                r.proposal.title,
                r.proposal.organisation.name,
                *[_decimal(r.award.cells.get(key, Decimal(0))) for key in keys],
                _decimal(r.award.hours),
                _decimal(r.award.reclaimed),
                r.award.subsidy_rate,
                _decimal(r.award.subsidy),
            ]
            for r in data.rows
            if r.award is not None
        ]
    else:
        raise ValueError(f"unknown export table {table!r}")
    return header, rows


def to_csv(header: list[str], rows: Iterable[list]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append([safe_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([safe_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def call_export(data: ApprovalReportData, table: str, fmt: str) -> bytes:
    header, rows = table_rows(data, table)
    if fmt == ExportFormat.CSV:
        return to_csv(header, rows)
    if fmt == ExportFormat.XLSX:
        return to_xlsx([(str(ExportTable(table).label), header, rows)])
    raise ValueError(f"unknown export format {fmt!r}")


# ---- Open data -----------------------------------------------------------------------------------------------------

OPEN_DATA_FIELDS = [
    "call",
    "reference",
    "title",
    "title_zh",
    "organisation",
    "organisation_zh",
    "organisation_type",
    "gpu_hours",
    "subsidy_hkd",
]


def _open_record(row: OpenDataRow) -> dict:
    return {
        "call": row.call,
        "reference": row.reference,
        "title": row.title,
        "title_zh": row.title_zh,
        "organisation": row.organisation,
        "organisation_zh": row.organisation_zh,
        "organisation_type": row.organisation_type,
        "gpu_hours": _decimal(row.gpu_hours, "1"),
        "subsidy_hkd": _decimal(row.subsidy),
    }


def open_data(rows: list[OpenDataRow], fmt: str) -> bytes:
    """Approved projects with their GPU-hours and subsidy. Field names are stable English identifiers."""
    records = [_open_record(r) for r in rows]
    if fmt == OpenDataFormat.CSV:
        return to_csv(OPEN_DATA_FIELDS, [[rec[f] for f in OPEN_DATA_FIELDS] for rec in records])
    if fmt == OpenDataFormat.JSON:
        payload = {
            "fields": OPEN_DATA_FIELDS,
            "projects": [
                {**rec, "gpu_hours": int(rec["gpu_hours"]), "subsidy_hkd": f"{rec['subsidy_hkd']:.2f}"}
                for rec in records
            ],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
    raise ValueError(f"unknown open data format {fmt!r}")
