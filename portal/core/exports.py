"""The one writer of spreadsheets the portal hands out (CSV and XLSX), for pages and commands alike.

Every cell goes through :func:`safe_cell`: text that a spreadsheet would run as a formula (starting with
``= + - @``, a tab or a carriage return) gets a leading apostrophe, since titles and names are typed by applicants
(OWASP "CSV injection"). Numbers stay numbers. CSV is UTF-8 with a byte-order mark (so that Excel opens Chinese
text correctly) and is streamed row by row; XLSX is written with openpyxl's write-only workbook, with dates and
times as real dates in Hong Kong time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django.utils.http import content_disposition_header

from .downloads import NO_STORE
from .formatting import format_hkt, hk_localtime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
# Excel holds at most 32,767 characters in a cell and 31 in a sheet's name.
XLSX_MAX_CELL = 32767
XLSX_MAX_SHEET_NAME = 31


@dataclass(frozen=True)
class Columns:
    """How to write a long table read from the database as values (issue 14: an export of 10,000 rows in about
    twice the time the csv module takes to write them). Each row is a sequence whose cells are text, numbers or
    None; by position:

    - text cells are written as they were read: text typed by people (titles, names, conditions) must be read
      through :class:`portal.core.queries.FormulaSafe`, which makes it safe from spreadsheet formulas; every
      other text cell is one the portal wrote (references, states, numbers as the database formatted them);
    - ``numbers``: numbers as text (see :class:`portal.core.queries.FixedText`), written as they are in CSV and
      as numbers in XLSX;
    - ``utc_minutes``: a date and time as UTC text to the minute (:class:`portal.core.queries.UtcMinute`), shown
      in Hong Kong time.

    A table with no ``utc_minutes`` goes to the CSV writer as it was read, with no Python per row.
    """

    numbers: tuple[int, ...] = ()
    utc_minutes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """One table: its title (the XLSX sheet's name), header and rows (any iterable, consumed once). With
    ``columns`` the rows are values read from the database (see :class:`Columns`); without, every cell is checked
    and converted whatever its type."""

    title: str
    header: list
    rows: Iterable[Iterable[Any]]
    columns: Columns | None = None


def safe_cell(value):
    """A cell value that no spreadsheet will evaluate: text starting like a formula gets a leading apostrophe.
    Lazy translations become text first."""
    if isinstance(value, Promise):
        value = force_str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_FORMULA_FIRST = frozenset(FORMULA_STARTS)
# Written by the csv module as they are: None as nothing, numbers as str() gives them.
_CSV_AS_IS = frozenset({int, float, Decimal, type(None)})


def _csv_text(value) -> str:
    """A value as CSV text: nothing for None, Hong Kong time for an aware datetime, ISO for a date. Text and
    numbers, nearly every cell, take the first two tests (an export of 10,000 rows writes 130,000 cells)."""
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in _FORMULA_FIRST else value
    if kind in _CSV_AS_IS:
        return value
    if isinstance(value, datetime):
        return str(format_hkt(value)) if timezone_aware(value) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return safe_cell(force_str(value))


def timezone_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


class _Echo:
    """A file-like object whose ``write`` hands back what it was given, so that csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    header: Iterable | None, rows: Iterable[Iterable[Any]], *, bom: bool = True, line_end: str = "\r\n"
) -> Iterator[str]:
    """The CSV document line by line (CRLF line ends as RFC 4180 unless told; no header line for ``None``), every
    cell made safe."""
    writer = csv.writer(_Echo(), lineterminator=line_end)
    if bom:
        yield "\ufeff"
    if header is not None:
        yield writer.writerow([_csv_text(h) for h in header])
    for row in rows:
        yield writer.writerow(map(_csv_text, row))


# Rows written to a CSV download at a time: a few hundred kilobytes per piece, not a piece per row.
CSV_BATCH_ROWS = 1000


def hk_minute(utc_text: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` in UTC as a naive date and time in Hong Kong."""
    return hk_localtime(datetime.fromisoformat(utc_text + "+00:00")).replace(tzinfo=None)


def _typed_rows(rows: Iterable[Iterable], columns: Columns, *, when) -> Iterator[list]:
    """The rows as lists with their dates and times converted by ``when`` (memoised per distinct minute)."""
    minutes: dict[str, Any] = {}
    for row in rows:
        row = list(row)
        for i in columns.utc_minutes:
            value = row[i]
            if value is not None:
                shown = minutes.get(value)
                if shown is None:
                    shown = minutes[value] = when(value)
                row[i] = shown
        yield row


def _typed_csv(header: Iterable, rows: Iterable[Iterable], columns: Columns) -> Iterator[bytes]:
    """The CSV document of typed rows in pieces of :data:`CSV_BATCH_ROWS` rows, written by the csv module. Rows
    with no date and time to convert go to the writer as they were read."""
    from django.utils.translation import gettext

    zone = gettext("HKT")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([_csv_text(h) for h in header])
    if columns.utc_minutes:
        rows = _typed_rows(rows, columns, when=lambda utc: f"{hk_minute(utc):%Y-%m-%d %H:%M} {zone}")
    rows = iter(rows)
    while batch := list(islice(rows, CSV_BATCH_ROWS)):
        writer.writerows(batch)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header of an empty table
        yield buffer.getvalue().encode("utf-8")


def _xlsx_rows(sheet: Sheet) -> Iterable[Iterable[Any]]:
    """A typed sheet's rows as XLSX values: numbers as numbers, dates and times as Hong Kong dates and times."""
    columns = sheet.columns
    if columns is None:
        return sheet.rows
    numbers = columns.numbers

    def values(rows):
        for row in _typed_rows(sheet.rows, columns, when=hk_minute):
            for i in numbers:
                if row[i] is not None:
                    row[i] = Decimal(row[i])
            yield row

    return values(sheet.rows)


def csv_bytes(header: Iterable, rows: Iterable[Iterable[Any]]) -> bytes:
    """The whole CSV document as UTF-8 bytes with a byte-order mark (for files written by commands)."""
    return "".join(csv_lines(header, rows)).encode("utf-8")


def csv_write(stream, header: Iterable, rows: Iterable[Iterable[Any]], *, line_end: str = "\r\n") -> None:
    """Write the CSV document, without a byte-order mark, to a text stream (a command's standard output)."""
    for line in csv_lines(header, rows, bom=False, line_end=line_end):
        stream.write(line)


def _xlsx_value(value):
    if isinstance(value, datetime):
        return hk_localtime(value).replace(tzinfo=None) if timezone_aware(value) else value
    if isinstance(value, Promise):
        value = force_str(value)
    if isinstance(value, str):
        return safe_cell(value)[:XLSX_MAX_CELL]
    if isinstance(value, (int, float, Decimal, date)) or value is None:
        return value
    return safe_cell(force_str(value))[:XLSX_MAX_CELL]


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    """An XLSX workbook with one sheet per table: a bold, frozen header row, then the rows; dates and times as
    real dates (Hong Kong time), every text cell made safe."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=_sheet_title(sheet.title))
        worksheet.freeze_panes = "A2"
        header_cells = []
        for h in sheet.header:
            cell = WriteOnlyCell(worksheet, value=_xlsx_value(h))
            cell.font = bold
            header_cells.append(cell)
        worksheet.append(header_cells)
        for row in _xlsx_rows(sheet):
            cells = []
            for value in row:
                cell = WriteOnlyCell(worksheet, value=_xlsx_value(value))
                if isinstance(value, datetime):
                    cell.number_format = XLSX_DATETIME_FORMAT
                elif isinstance(value, date):
                    cell.number_format = XLSX_DATE_FORMAT
                cells.append(cell)
            worksheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sheet_title(title) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    text = force_str(title)
    for ch in "[]:*?/\\":
        text = text.replace(ch, " ")
    return text.strip()[:XLSX_MAX_SHEET_NAME] or "Sheet"


def _download(streaming_content, *, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(streaming_content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = NO_STORE
    return response


def csv_response(*, filename: str, header: Iterable, rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """A CSV download, streamed row by row as the rows are produced."""
    return _download(
        (line.encode("utf-8") for line in csv_lines(header, rows)), filename=filename, content_type=CSV_CONTENT_TYPE
    )


def xlsx_download(pieces: Iterable[bytes], *, filename: str) -> StreamingHttpResponse:
    """An XLSX download of the workbook's pieces."""
    return _download(pieces, filename=filename, content_type=XLSX_CONTENT_TYPE)


def xlsx_response(*, filename: str, sheets: Iterable[Sheet]) -> StreamingHttpResponse:
    """An XLSX download (a ZIP file, so built whole, then sent in pieces)."""
    content = xlsx_bytes(sheets)
    chunk = 64 * 1024
    return xlsx_download((content[i : i + chunk] for i in range(0, len(content), chunk)), filename=filename)


def csv_pieces(sheet: Sheet) -> Iterator[bytes]:
    """One table's CSV document as UTF-8 pieces, written as its rows are read."""
    if sheet.columns is not None:
        return _typed_csv(sheet.header, sheet.rows, sheet.columns)
    return (line.encode("utf-8") for line in csv_lines(sheet.header, sheet.rows))


def csv_download(pieces: Iterable[bytes], *, filename: str) -> StreamingHttpResponse:
    """A CSV download of the document's UTF-8 pieces, streamed."""
    return _download(pieces, filename=filename, content_type=CSV_CONTENT_TYPE)


def spreadsheet_response(*, fmt: str, filename: str, sheet: Sheet) -> StreamingHttpResponse:
    """One table as a CSV or XLSX download (``fmt`` is ``"csv"`` or ``"xlsx"``)."""
    if fmt == "csv":
        return csv_download(csv_pieces(sheet), filename=filename)
    if fmt == "xlsx":
        return xlsx_response(filename=filename, sheets=[sheet])
    raise ValueError(f"unknown spreadsheet format {fmt!r}")
