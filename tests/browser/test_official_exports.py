"""In Chromium: the secretariat downloads the call's tables from the call's reports page (read as values, issue 14)
and the committee's ranking as CSV from the ranking page, and finds in them what the portal shows."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.decisions.models import Decision, Recommendation
from tests.factories import UserFactory
from tests.factories.reports import report_call

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _download(page, name: str) -> bytes:
    with page.expect_download() as download:
        page.get_by_role("link", name=name, exact=True).click()
    return Path(download.value.path()).read_bytes()


def test_the_secretariat_downloads_the_calls_tables_and_the_ranking(page, live_server):
    rc = report_call(12, seed=3)
    officer = UserFactory(role=Role.SECRETARIAT, full_name="Ms Lau Mei Ling")
    login(page, live_server, officer)

    page.goto(live_server.url + reverse("reports:call", args=[rc.call.pk]))
    expect(page.get_by_role("heading", name="Spreadsheets for officials")).to_be_visible()
    page.shot("call-exports")
    ranking = list(csv.reader(io.StringIO(_download(page, "CSV Ranking").decode("utf-8-sig"))))
    assert ranking[0][:3] == ["Rank", "Reference", "Title"]
    assert sorted(row[1] for row in ranking[1:]) == sorted(p.reference for p in rc.proposals)
    ranks = [row[0] for row in ranking[1:] if row[0]]
    assert ranks == [str(i) for i in range(1, len(ranks) + 1)]  # best first, numbered in order
    awards = load_workbook(io.BytesIO(_download(page, "XLSX Awards"))).active
    rows = list(awards.values)
    assert rows[0][0] == "Reference"
    assert all(isinstance(value, (int, float)) for value in rows[1][3:])  # hours and money are numbers

    page.goto(live_server.url + reverse("reviews:ranking", args=[rc.call.pk]))
    committee = list(csv.reader(io.StringIO(_download(page, "Download CSV").decode("utf-8-sig"))))
    assert committee[0][:2] == ["rank", "reference"]
    shown = page.locator("main table tbody tr").first.inner_text()
    assert committee[1][1] in shown  # the first row downloaded is the first row on the page


def test_a_table_downloaded_again_shows_a_change_made_since(page, live_server):
    """The call's tables are kept as they were sent (portal/reports/snapshots.py): downloaded again they are the
    same file, until something they show changes; the next download then shows it."""
    rc = report_call(8, seed=4)
    officer = UserFactory(role=Role.SECRETARIAT, full_name="Ms Lau Mei Ling")
    login(page, live_server, officer)
    page.goto(live_server.url + reverse("reports:call", args=[rc.call.pk]))
    first = _download(page, "CSV Decisions")
    assert _download(page, "CSV Decisions") == first
    decided = Decision.objects.filter(proposal__call=rc.call).first()
    Recommendation.objects.filter(pk=decided.recommendation_id).update(conditions="Report to the committee monthly")
    page.reload()
    page.shot("call-exports-after-a-change")
    rows = list(csv.reader(io.StringIO(_download(page, "CSV Decisions").decode("utf-8-sig"))))
    row = next(r for r in rows if r[0] == decided.proposal.reference)
    assert row[5] == "Report to the committee monthly"
