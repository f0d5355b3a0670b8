"""Spreadsheet exports for officials (ranking, decisions, awards as CSV or XLSX) and open data (CSV or JSON of
approved projects, with no personal data), written by the one spreadsheet writer (portal.core.exports), which
neutralises formulas typed by applicants. The call's tables show what the approval report shows, read as values
in the ranking page's order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from portal.allocations.models import Award
from portal.calls.models import Call
from portal.core.exports import (
    Columns,
    Sheet,
    csv_bytes,
    csv_download,
    csv_pieces,
    csv_response,
    xlsx_bytes,
    xlsx_download,
)
from portal.core.queries import FixedText, FormulaSafe, OncePerGroup, UtcMinute, rows_as_read, yes_no_text
from portal.decisions.models import Recommendation
from portal.proposals.models import Proposal
from portal.reviews.figures import figures_fresh

from . import snapshots
from .enums import ExportTable, OpenDataFormat
from .selectors import OpenDataRow


def _decimal(value: Decimal | None, places: str = "0.01") -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal(places))


# ---- The call's tables ---------------------------------------------------------------------------------------------
# Read as values in the order of the committee's ranking page (best score first: the agreed score, else the
# calibrated mean; then the reference), numbers formatted by the database, no model object per row (issue 14: 10,000
# rows in about twice the time the csv module alone takes to write them).

_LOCKED = {"run__locked_at__isnull": False}


def _ranked(prefix: str = "") -> list:
    score = Coalesce(
        f"{prefix}review_consensus__score",
        f"{prefix}ranking_figures__calibrated_mean",
        output_field=DecimalField(max_digits=32, decimal_places=28),
    )
    return [score.desc(nulls_last=True), F(f"{prefix}reference").asc(nulls_first=True), F(f"{prefix}pk").asc()]


def _submitted(call: Call) -> QuerySet[Proposal]:
    return Proposal.objects.filter(call=call, current_version__isnull=False)


RANKING_HEADER = (
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
)


def _ranking_rows(call: Call) -> Iterator[tuple]:
    """Every submitted proposal, best first; a rank for those with a score (the agreed score or the calibrated
    mean), who come first (so that their rank is their position), worked out by the database with every cell."""
    figures_fresh(call=call)
    scored = Q(review_consensus__score__isnull=False) | Q(ranking_figures__calibrated_mean__isnull=False)
    rows = (
        _submitted(call)
        .order_by(*_ranked())
        .values_list(
            Case(When(scored, then=Window(RowNumber(), order_by=_ranked())), output_field=IntegerField()),
            "reference",
            FormulaSafe("title"),
            FormulaSafe("organisation__name"),
            "state",
            Coalesce("ranking_figures__review_count", 0),  # no figures' row: no review counted
            FixedText("ranking_figures__raw_mean", 2),
            FixedText("ranking_figures__calibrated_mean", 2),
            FixedText("review_consensus__score", 2),
            FixedText("ranking_figures__spread", 2),
            yes_no_text("ranking_figures__disagreement", none="no"),
            yes_no_text("ranking_figures__passes"),
            Case(When(review_response__isnull=True, then=Value("no")), default=Value("yes")),
        )
    )
    return rows_as_read(rows)


DECISIONS_HEADER = (
    _("Reference"),
    _("Title"),
    _("Organisation"),
    _("Recommended"),
    _("Recommended subsidy rate"),
    _("Conditions"),
    _("Approved"),
    _("Decided by"),
    _("Decided at (HKT)"),
)


def _decision_rows(call: Call) -> Iterator[tuple]:
    """Every submitted proposal with a current recommendation, and its decision if one is made, in ranked order."""
    figures_fresh(call=call)
    rows = (
        Recommendation.objects.filter(is_current=True, proposal__call=call, proposal__current_version__isnull=False)
        .order_by(*_ranked("proposal__"))
        .values_list(
            "proposal__reference",
            FormulaSafe("proposal__title"),
            FormulaSafe("proposal__organisation__name"),
            yes_no_text("recommended"),
            FixedText("subsidy_rate", 3),
            FormulaSafe("conditions"),
            yes_no_text("decisions__approved"),
            FormulaSafe(Coalesce("decisions__decided_by__full_name", Value(""))),
            UtcMinute("decisions__decided_at"),
        )
    )
    return rows_as_read(rows)


def _awards_header(keys: list[tuple[str, str]]) -> list:
    return [
        _("Reference"),
        _("Title"),
        _("Organisation"),
        *[f"{pool} {quarter}" for pool, quarter, *_ids in keys],
        _("GPU-hours awarded"),
        _("GPU-hours reclaimed"),
        _("Subsidy rate"),
        _("Subsidy (HK$)"),
    ]


def _cell_keys(call: Call) -> list[tuple[str, str, int, int]]:
    """(pool code, quarter code, pool id, quarter id) of each of the call's cells, pools by code, quarters by date."""
    pools = list(call.pools.order_by("code").values_list("code", "pk"))
    quarters = list(call.quarters.order_by("starts_on").values_list("code", "pk"))
    return [(pool, quarter, pool_id, quarter_id) for pool, pool_id in pools for quarter, quarter_id in quarters]


def _award_rows(call: Call, keys: list[tuple[str, str, int, int]]) -> Iterator[tuple]:
    """Every submitted proposal with an award in a locked run of the call (several runs, a top-up: summed), in
    ranked order: the GPU-hours of each pool and quarter, in all, reclaimed, the rate (of the first run) and the
    subsidy. One query, every cell made by the database: the proposals in order joined to their locked awards'
    hours, summed per proposal, with the subsidy summed and the first run's rate read once per proposal by
    subqueries (a join would count the subsidy once per row of hours)."""
    figures_fresh(call=call)
    locked = Award.objects.filter(run__call=call, proposal=OuterRef("pk"), **_LOCKED)
    # The subsidy of every locked award summed (several only after a reallocation, which adds to the first) ...
    subsidy = OncePerGroup(
        locked.order_by()
        .values("proposal_id")
        .annotate(total=FixedText(Sum("subsidy"), 2, nullable=False))
        .values("total")
    )
    # ... at the first locked run's rate.
    rate = OncePerGroup(
        locked.order_by("run__locked_at", "pk").values(rate=FixedText("subsidy_rate", 3, nullable=False))[:1]
    )

    def hours_sum(field: str, **cell) -> FixedText:
        where = Q(**{f"awards__hours__{name}": value for name, value in cell.items()}) if cell else None
        return FixedText(Coalesce(Sum(f"awards__hours__{field}", filter=where), Value(0)), 2, nullable=False)

    rows = (
        _submitted(call)
        .filter(awards__run__call=call, awards__run__locked_at__isnull=False)
        .values("pk")  # grouped by the proposal (and the columns read), not by every column of it
        .order_by(*_ranked())
        .values_list(
            "reference",
            FormulaSafe("title"),
            FormulaSafe("organisation__name"),
            *[hours_sum("gpu_hours", pool_id=pool_id, quarter_id=quarter_id) for *_codes, pool_id, quarter_id in keys],
            hours_sum("gpu_hours"),
            hours_sum("reclaimed"),
            rate,
            subsidy,
        )
    )
    return rows_as_read(rows)


def call_sheet(call: Call, table: str) -> Sheet:
    """One official table of the call, read as values and written as it is read."""
    title = str(ExportTable(table).label)
    if table == ExportTable.RANKING:
        return Sheet(
            title=title,
            header=list(RANKING_HEADER),
            rows=_ranking_rows(call),
            columns=Columns(numbers=(6, 7, 8, 9)),
        )
    if table == ExportTable.DECISIONS:
        return Sheet(
            title=title,
            header=list(DECISIONS_HEADER),
            rows=_decision_rows(call),
            columns=Columns(numbers=(4,), utc_minutes=(8,)),
        )
    if table == ExportTable.AWARDS:
        keys = _cell_keys(call)
        return Sheet(
            title=title,
            header=_awards_header(keys),
            rows=_award_rows(call, keys),
            columns=Columns(numbers=tuple(range(3, 3 + len(keys) + 4))),
        )
    raise ValueError(f"unknown export table {table!r}")


def call_export_response(call: Call, table: str, fmt: str, *, filename: str) -> StreamingHttpResponse:
    """One official table as a CSV (streamed as it is read) or XLSX download, kept and sent again as it was while
    nothing it shows changes (:mod:`portal.reports.snapshots`)."""
    figures_fresh(call=call)  # before the generation is read: making the figures current is a change
    key = snapshots.snapshot_key("call export", call.pk, table, fmt)
    if fmt == "csv":
        return csv_download(snapshots.cached(key, lambda: csv_pieces(call_sheet(call, table))), filename=filename)
    return xlsx_download(snapshots.cached(key, lambda: [xlsx_bytes([call_sheet(call, table)])]), filename=filename)


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
