"""The call's exports (ranking, decisions, awards) are read as values in the database (issue 14): they must show,
cell for cell, what the approval report's data shows, in the order of the committee's ranking, with a top-up run
summed, numbers as numbers in XLSX and Hong Kong time for the decisions."""

import csv
import io
from datetime import UTC, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import DecimalField, Value
from django.urls import reverse
from openpyxl import load_workbook

from portal.allocations.models import AllocationRun, Award, AwardHours, RunKind, RunStatus
from portal.core.formatting import format_hkt
from portal.core.queries import FixedText, UtcMinute
from portal.decisions.models import Decision
from portal.proposals.models import Proposal
from portal.reports.selectors import approval_report_data
from tests.factories.reports import report_call


def _fixed(value, places: int = 2) -> str:
    if value is None:
        return ""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _yes_no(value) -> str:
    return "" if value is None else ("yes" if value else "no")


def _safe(text: str) -> str:
    return "'" + text if text[:1] in "=+-@\t\r" else text


def _expected(data, table: str) -> list[list[str]]:
    """The table as the approval report's data gives it (the report's own gathering, model objects and all)."""
    if table == "ranking":
        return [
            [
                str(r.rank or ""),
                r.proposal.reference,
                _safe(r.proposal.title),
                _safe(r.proposal.organisation.name),
                r.proposal.state,
                str(r.figures.review_count),
                _fixed(r.figures.raw_mean),
                _fixed(r.figures.calibrated_mean),
                _fixed(r.figures.consensus),
                _fixed(r.figures.spread),
                _yes_no(r.figures.disagreement),
                _yes_no(r.figures.passes),
                _yes_no(r.figures.has_response),
            ]
            for r in data.rows
        ]
    if table == "decisions":
        return [
            [
                r.proposal.reference,
                _safe(r.proposal.title),
                _safe(r.proposal.organisation.name),
                _yes_no(r.recommended),
                _fixed(r.recommendation.subsidy_rate, 3),
                r.recommendation.conditions,
                _yes_no(r.approved),
                r.decision.decided_by.full_name if r.decision else "",
                str(format_hkt(r.decision.decided_at)) if r.decision else "",
            ]
            for r in data.rows
            if r.recommendation is not None
        ]
    return [
        [
            r.proposal.reference,
            _safe(r.proposal.title),
            _safe(r.proposal.organisation.name),
            *[_fixed(r.award.cells.get(key, 0)) for key in data.cell_keys],
            _fixed(r.award.hours),
            _fixed(r.award.reclaimed),
            _fixed(r.award.subsidy_rate, 3),
            _fixed(r.award.subsidy),
        ]
        for r in data.rows
        if r.award is not None
    ]


@pytest.fixture
def call_with_top_up(db):
    """Thirty proposals, one titled like a formula, and a locked reallocation run (a top-up) adding hours, reclaimed
    hours and subsidy to one funded proposal."""
    rc = report_call(30, seed=11)
    first = rc.run.awards.filter(share__gt=0).order_by("pk").first()
    Proposal.objects.filter(pk=first.proposal_id).update(title="=1+1 top-up")
    top_up = AllocationRun.objects.create(
        kind=RunKind.REALLOCATION,
        call=rc.call,
        policy="rank",
        status=RunStatus.SUCCEEDED,
        progress=100,
        inputs={},
        started_by=rc.member,
        finished_at=rc.run.locked_at + timedelta(days=1),
        locked_at=rc.run.locked_at + timedelta(days=1),
        locked_by=rc.chair,
    )
    award = Award.objects.create(
        run=top_up,
        proposal_id=first.proposal_id,
        score=Decimal("4"),
        min_share=Decimal("0.5"),
        share=Decimal("0.25"),
        subsidy_rate=Decimal("0.850"),
        subsidy=Decimal("1234.56"),
    )
    cell = first.hours.order_by("pk").first()
    AwardHours.objects.create(
        award=award,
        pool=cell.pool,
        quarter=cell.quarter,
        requested=Decimal(500),
        gpu_hours=Decimal(250),
        reclaimed=Decimal("12.345678"),
    )
    return rc


@pytest.mark.parametrize("table", ["ranking", "decisions", "awards"])
def test_each_export_shows_what_the_approval_report_shows(client, call_with_top_up, officer, table):
    rc = call_with_top_up
    client.force_login(officer)
    response = client.get(reverse("reports:call_export", args=[rc.call.pk, table, "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    expected = _expected(approval_report_data(call=rc.call), table)
    assert len(expected) >= 5
    assert rows[1:] == expected
    if table == "awards":
        topped = next(row for row in rows if row[1] == "'=1+1 top-up")
        assert topped[-2] == "0.700"  # the rate of the first locked run, not the reallocation's
        assert topped[-3] == "12.35"  # the top-up's reclaimed hours, rounded half up


def test_xlsx_has_numbers_and_hong_kong_times(client, call_with_top_up, officer):
    rc = call_with_top_up
    client.force_login(officer)
    csv_rows = {}
    for table in ("ranking", "decisions", "awards"):
        body = b"".join(client.get(reverse("reports:call_export", args=[rc.call.pk, table, "csv"])).streaming_content)
        csv_rows[table] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        body = b"".join(client.get(reverse("reports:call_export", args=[rc.call.pk, table, "xlsx"])).streaming_content)
        sheet = list(load_workbook(io.BytesIO(body)).active.values)
        assert len(sheet) == len(csv_rows[table])
        for xlsx_row, csv_row in zip(sheet[1:], csv_rows[table][1:], strict=True):
            for value, text in zip(xlsx_row, csv_row, strict=True):
                if isinstance(value, (int, float)):
                    assert Decimal(str(value)) == Decimal(text), (table, xlsx_row)
                elif value is None:
                    assert text == ""
                elif table == "decisions" and text.endswith("HKT"):
                    assert f"{value:%Y-%m-%d %H:%M} HKT" == text
                else:
                    assert value == text
        if table == "awards":
            assert all(isinstance(v, (int, float)) for v in sheet[1][3:])


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [("3.125", 2, "3.13"), ("2.675", 2, "2.68"), ("0.7", 3, "0.700"), ("12.345678", 2, "12.35"), (None, 2, None)],
)
def test_numbers_are_formatted_by_the_database_rounded_half_up(rc, value, places, shown):
    number = Value(
        None if value is None else Decimal(value), output_field=DecimalField(max_digits=18, decimal_places=6)
    )
    assert Proposal.objects.annotate(x=FixedText(number, places)).values_list("x", flat=True)[0] == shown


def test_a_stored_time_is_read_to_the_minute_in_utc(rc):
    decisions = Decision.objects.filter(proposal__call=rc.call).order_by("pk")
    decided_at, minute = decisions.values_list("decided_at", UtcMinute("decided_at"))[0]
    assert minute == decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
