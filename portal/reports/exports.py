"""Spreadsheet exports for officials (ranking, decisions, awards as CSV or XLSX) and open data (CSV or JSON of
approved projects, with no personal data). Built from the same selectors as the approval report, written by the
one spreadsheet writer (portal.core.exports), which neutralises formulas typed by applicants."""

from __future__ import annotations

import json
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _

from portal.core.exports import Sheet, csv_bytes, csv_response, spreadsheet_response, xlsx_bytes

from .enums import ExportFormat, ExportTable, OpenDataFormat
from .selectors import ApprovalReportData, OpenDataRow


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
                r.decision.decided_at if r.decision else None,
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


def call_sheet(data: ApprovalReportData, table: str) -> Sheet:
    header, rows = table_rows(data, table)
    return Sheet(title=str(ExportTable(table).label), header=header, rows=rows)


def call_export(data: ApprovalReportData, table: str, fmt: str) -> bytes:
    """One official table as a whole CSV or XLSX file."""
    sheet = call_sheet(data, table)
    if fmt == ExportFormat.CSV:
        return csv_bytes(sheet.header, sheet.rows)
    if fmt == ExportFormat.XLSX:
        return xlsx_bytes([sheet])
    raise ValueError(f"unknown export format {fmt!r}")


def call_export_response(data: ApprovalReportData, table: str, fmt: str, *, filename: str) -> StreamingHttpResponse:
    """One official table as a CSV or XLSX download."""
    return spreadsheet_response(fmt=fmt, filename=filename, sheet=call_sheet(data, table))


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


def _open_rows(records: list[dict]) -> list[list]:
    return [[rec[f] for f in OPEN_DATA_FIELDS] for rec in records]


def open_data(rows: list[OpenDataRow], fmt: str) -> bytes:
    """Approved projects with their GPU-hours and subsidy. Field names are stable English identifiers."""
    records = [_open_record(r) for r in rows]
    if fmt == OpenDataFormat.CSV:
        return csv_bytes(OPEN_DATA_FIELDS, _open_rows(records))
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


def open_data_csv_response(rows: list[OpenDataRow], *, filename: str) -> StreamingHttpResponse:
    """The open data as a CSV download, streamed."""
    return csv_response(filename=filename, header=OPEN_DATA_FIELDS, rows=_open_rows([_open_record(r) for r in rows]))
