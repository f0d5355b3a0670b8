"""Issue 10 §7: every CSV and XLSX the portal hands out goes through the one writer (portal.core.exports), which
neutralises formulas typed by applicants; dates in XLSX are real dates."""

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

from portal.accounts.models import Organisation
from portal.core.exports import FORMULA_STARTS, Sheet, csv_bytes, safe_cell, xlsx_bytes
from portal.core.formatting import HONG_KONG
from portal.decisions.models import Decision
from portal.proposals.models import Proposal

HOSTILE_TITLE = '=HYPERLINK("https://evil.example","click")'
HOSTILE_ORG = "@SUM(1+1)*cmd|' /C calc'!A0"
PORTAL = Path(__file__).resolve().parents[2] / "portal"


@pytest.mark.unit
@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_starting_like_a_formula_gets_an_apostrophe(start):
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"


@pytest.mark.unit
def test_numbers_and_plain_text_are_left_alone():
    assert safe_cell(Decimal("-5.00")) == Decimal("-5.00")
    assert safe_cell(-3) == -3
    assert safe_cell("Cantonese LLM") == "Cantonese LLM"
    assert safe_cell(gettext_lazy("=lazy")) == "'=lazy"
    assert csv_bytes(["a", "b"], [[Decimal("-5.00"), "-5"]]).decode("utf-8-sig") == "a,b\r\n-5.00,'-5\r\n"


@pytest.mark.unit
def test_xlsx_has_real_dates_in_hong_kong_time_and_safe_text():
    decided = datetime(2026, 11, 27, 7, 4, tzinfo=UTC)
    content = xlsx_bytes([Sheet(title="Decisions: [all]", header=["When", "Title"], rows=[[decided, HOSTILE_TITLE]])])
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.title == "Decisions   all"
    assert sheet["A2"].value == datetime(2026, 11, 27, 15, 4)
    assert sheet["A2"].is_date
    assert sheet["B2"].value == "'" + HOSTILE_TITLE
    assert sheet["A1"].font.bold


def _hostile(rc):
    """A funded proposal (in every table and the open data) whose title and organisation are formulas."""
    first = rc.run.awards.filter(share__gt=0).select_related("proposal").first().proposal
    Proposal.objects.filter(pk=first.pk).update(title=HOSTILE_TITLE)
    Organisation.objects.filter(pk=first.organisation_id).update(name=HOSTILE_ORG)
    return first


def _cells_of(response) -> list[str]:
    body = response.getvalue()
    if response["Content-Type"].startswith("text/csv"):
        return [cell for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for cell in row]
    workbook = load_workbook(io.BytesIO(body))
    return [v for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None]


def _assert_safe(cells):
    texts = [c for c in cells if isinstance(c, str)]
    assert "'" + HOSTILE_TITLE in texts
    assert [c for c in texts if c.startswith(FORMULA_STARTS)] == []


@pytest.mark.parametrize(
    ("table", "fmt"), [(t, f) for t in ("ranking", "decisions", "awards") for f in ("csv", "xlsx")]
)
def test_every_official_export_neutralises_formulas(client, rc, officer, table, fmt):
    _hostile(rc)
    client.force_login(officer)
    response = client.get(reverse("reports:call_export", args=[rc.call.pk, table, fmt]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == f'attachment; filename="{rc.call.reference}-{table}.{fmt}"'
    cells = _cells_of(response)
    _assert_safe(cells)
    if fmt == "csv":
        assert "'" + HOSTILE_ORG in cells


def test_decisions_xlsx_once_a_decision_exists_has_real_dates(client, rc, officer):
    """Today a 500 (a lazy HKT string given to openpyxl)."""
    decision = Decision.objects.filter(proposal__call=rc.call).select_related("proposal").first()
    assert decision is not None
    client.force_login(officer)
    response = client.get(reverse("reports:call_export", args=[rc.call.pk, "decisions", "xlsx"]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == decision.proposal.reference)
    assert row[-1].is_date
    expected = decision.decided_at.astimezone(HONG_KONG).replace(tzinfo=None, second=0, microsecond=0)
    assert row[-1].value.replace(second=0, microsecond=0) == expected


def test_ranking_csv_and_open_data_neutralise_formulas(client, rc, officer):
    first = _hostile(rc)
    client.force_login(officer)
    ranking = client.get(reverse("reviews:ranking_csv", args=[rc.call.pk]))
    assert ranking.status_code == 200
    _assert_safe(_cells_of(ranking))
    open_data = client.get(reverse("reports:open_data", args=["csv"]))
    assert open_data.status_code == 200
    cells = _cells_of(open_data)
    _assert_safe(cells)
    assert "'" + HOSTILE_ORG in cells
    assert first.reference in cells


def test_open_data_command_writes_safe_csv(rc, tmp_path):
    _hostile(rc)
    out = tmp_path / "o.csv"
    call_command("export_open_data", "--format", "csv", "--output", str(out))
    cells = [c for row in csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))) for c in row]
    assert [c for c in cells if c.startswith(FORMULA_STARTS)] == []


def test_no_other_spreadsheet_writer_in_the_portal():
    """ONE export helper: nothing else in portal/ writes CSV or XLSX itself."""
    writers = re.compile(r"csv\.writer|csv\.DictWriter|openpyxl|xlsxwriter")
    offenders = [
        str(path.relative_to(PORTAL))
        for path in PORTAL.rglob("*.py")
        if writers.search(path.read_text(encoding="utf-8")) and path.name != "exports.py"
    ]
    assert offenders == []
    assert writers.search((PORTAL / "reports" / "exports.py").read_text(encoding="utf-8")) is None
