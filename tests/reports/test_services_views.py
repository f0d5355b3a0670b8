"""Generating, reusing and downloading the approval report; exports; permissions; audit; the command line."""

import csv
import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from portal.accounts.enums import Role
from portal.allocations.models import Award
from portal.audit.models import AuditEvent
from portal.proposals.models import Proposal
from portal.reports.enums import DocumentStatus
from portal.reports.models import ExportSnapshot, GeneratedDocument
from portal.reports.services import approval_report_request
from portal.reviews.models import Declaration
from tests.factories import UserFactory
from tests.factories.reports import report_call
from tests.reports.test_pdf import pdftotext

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def conflicted_member(rc):
    member = UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Conflicted")
    Declaration.objects.create(
        proposal=rc.proposals[3], user=member, conflicted=True, reason="Co-author", recorded_by=member
    )
    return member


def test_approval_report_request_generates_once_and_reuses_until_the_data_changes(
    rc, officer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = approval_report_request(call=rc.call, language="en", actor=officer)
    first.refresh_from_db()
    assert (first.status, first.version, first.progress) == (DocumentStatus.SUCCEEDED, 1, 100)
    assert first.pages > 3
    assert first.file.name.endswith(".pdf")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = approval_report_request(call=rc.call, language="en", actor=officer)
    assert (again.pk, len(callbacks)) == (first.pk, 0)
    with django_capture_on_commit_callbacks(execute=True):
        chinese = approval_report_request(call=rc.call, language="zh-hant", actor=officer)
    assert (chinese.pk != first.pk, chinese.version) == (True, 1)
    Proposal.objects.filter(pk=rc.proposals[0].pk).update(title="A changed title")
    with django_capture_on_commit_callbacks(execute=True):
        changed = approval_report_request(call=rc.call, language="en", actor=officer)
    changed.refresh_from_db()
    assert (changed.version, changed.status) == (2, DocumentStatus.SUCCEEDED)
    with changed.file.open("rb") as stored:
        assert "A changed title" in pdftotext(stored.read())
    actions = list(AuditEvent.objects.filter(action="reports.approval_report_request").values_list("after", flat=True))
    assert [a["reused"] for a in actions] == [False, True, False, False]


def test_approval_report_request_refused_to_a_conflicted_member(rc, conflicted_member):
    with pytest.raises(PermissionDenied):
        approval_report_request(call=rc.call, language="en", actor=conflicted_member)


def test_reports_page_for_officials_only_and_nav_link(client, rc, officer):
    applicant = Proposal.objects.get(pk=rc.proposals[0].pk).created_by
    client.force_login(applicant)
    assert client.get(reverse("reports:index")).status_code == 403
    assert client.get(reverse("reports:call", args=[rc.call.pk])).status_code == 403
    client.force_login(officer)
    page = client.get(reverse("reports:index"))
    assert page.status_code == 200
    assert f'href="{reverse("reports:index")}"' in page.content.decode()
    assert rc.call.title in page.content.decode()


def test_conflicted_member_sees_why_and_cannot_export(client, rc, conflicted_member):
    client.force_login(conflicted_member)
    page = client.get(reverse("reports:call", args=[rc.call.pk]))
    assert "You have a conflict of interest" in page.content.decode()
    assert client.post(reverse("reports:approval_report", args=[rc.call.pk])).status_code == 403
    for table in ("ranking", "decisions", "awards"):
        assert client.get(reverse("reports:call_export", args=[rc.call.pk, table, "csv"])).status_code == 403


def test_generate_poll_and_download_from_the_page(client, rc, officer, django_capture_on_commit_callbacks):
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:approval_report", args=[rc.call.pk]), {"language": "en"})
    document = GeneratedDocument.objects.get()
    assert response.status_code == 302
    status = client.get(reverse("reports:document_status", args=[document.pk])).json()
    assert (status["status"], status["progress"], status["url"]) == (
        "succeeded",
        100,
        reverse("reports:document_download", args=[document.pk]),
    )
    download = client.get(status["url"])
    pdf = b"".join(download.streaming_content)
    assert download["Content-Type"] == "application/pdf"
    assert pdf.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="reports.approval_report_download", actor=officer).count() == 1


def test_ranking_decisions_awards_exports_match_the_database(client, rc, officer):
    client.force_login(officer)
    ranking = client.get(reverse("reports:call_export", args=[rc.call.pk, "ranking", "csv"]))
    rows = list(csv.reader(io.StringIO(ranking.getvalue().decode("utf-8-sig"))))
    assert rows[0][:3] == ["Rank", "Reference", "Title"]
    assert sorted(r[1] for r in rows[1:]) == sorted(p.reference for p in rc.proposals)
    awards = client.get(reverse("reports:call_export", args=[rc.call.pk, "awards", "xlsx"]))
    sheet = load_workbook(io.BytesIO(awards.getvalue())).active
    values = list(sheet.values)
    subsidy = {r[0]: r[-1] for r in values[1:]}
    expected = {a.proposal.reference: a.subsidy for a in Award.objects.filter(run=rc.run).select_related("proposal")}
    assert subsidy == {k: float(v) for k, v in expected.items()} or subsidy == expected
    decisions = client.get(reverse("reports:call_export", args=[rc.call.pk, "decisions", "csv"]))
    assert decisions.status_code == 200
    assert AuditEvent.objects.filter(action="reports.call_export").count() == 3


def test_exports_neutralise_formulas(client, rc, officer):
    Proposal.objects.filter(pk=rc.proposals[0].pk).update(title='=HYPERLINK("https://evil.example","x")')
    client.force_login(officer)
    content = (
        client.get(reverse("reports:call_export", args=[rc.call.pk, "ranking", "csv"])).getvalue().decode("utf-8-sig")
    )
    assert "'=HYPERLINK(" in content


# A table read afresh as values and kept (portal/reports/snapshots.py): the request's own queries (session, user,
# permission, audit record: head locked, event, head), the figures checked current (two, and again by the table's
# reader), the exports' generation, the kept export looked for, the table (and the call's pools and quarters for the
# awards), the snapshot kept (older ones and this one's dropped, this one written, a savepoint) and the changes counted.
EXPORT_KEPT = {"ranking": 24, "decisions": 24, "awards": 26}
# Sent again as it was kept: the request's own queries, the figures checked current, the generation, the export.
EXPORT_SENT_AGAIN = 16
# On PostgreSQL the audit record and the chain head are written in one round trip.
AUDIT_SAVED_ON_POSTGRESQL = 1


@pytest.mark.parametrize("size", [10, 30])
def test_call_export_runs_a_fixed_number_of_queries(
    client, officer, size, django_assert_num_queries, django_assert_max_num_queries
):
    rc = report_call(size, seed=size)
    client.force_login(officer)
    saved = AUDIT_SAVED_ON_POSTGRESQL if connection.vendor == "postgresql" else 0
    # the first time, the ranking figures are computed and stored too
    with django_assert_max_num_queries(42):
        b"".join(client.get(reverse("reports:call_export", args=[rc.call.pk, "ranking", "csv"])).streaming_content)
    ExportSnapshot.objects.all().delete()
    for table, kept_queries in EXPORT_KEPT.items():
        for fmt in ("csv", "xlsx"):
            url = reverse("reports:call_export", args=[rc.call.pk, table, fmt])
            with django_assert_num_queries(kept_queries - saved):
                kept = b"".join(client.get(url).streaming_content)
            with django_assert_num_queries(EXPORT_SENT_AGAIN - saved):
                assert b"".join(client.get(url).streaming_content) == kept


def test_open_data_has_approved_projects_and_no_personal_data(client, rc, officer):
    client.force_login(officer)
    body = client.get(reverse("reports:open_data", args=["json"])).content.decode()
    data = json.loads(body)
    funded = Award.objects.filter(run=rc.run, share__gt=0).select_related("proposal", "proposal__organisation")
    assert sorted(p["reference"] for p in data["projects"]) == sorted(a.proposal.reference for a in funded)
    first = next(p for p in data["projects"] if p["reference"] == funded[0].proposal.reference)
    assert first["subsidy_hkd"] == f"{funded[0].subsidy:.2f}"
    assert first["organisation"] == funded[0].proposal.organisation.name
    people = [rc.chair, rc.member, *rc.reviewers, *(p.created_by for p in rc.proposals)]
    csv_body = client.get(reverse("reports:open_data", args=["csv"])).getvalue().decode("utf-8-sig")
    for person in people:
        assert person.email not in body
        assert person.full_name not in body
        assert person.email not in csv_body
        assert person.full_name not in csv_body
    assert AuditEvent.objects.filter(action="reports.open_data_export").count() == 2


def test_decision_letter_for_members_and_unconflicted_officials(client, rc, officer, conflicted_member, outsider):
    proposal = rc.proposals[3]
    url = reverse("reports:decision_letter", args=[proposal.pk])
    client.force_login(Proposal.objects.get(pk=proposal.pk).created_by)
    response = client.get(url + "?lang=zh-hant")
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(conflicted_member)
    assert client.get(url).status_code == 404  # not among the proposals a conflicted official sees (issue 9)
    client.force_login(officer)
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.filter(action="reports.decision_letter").count() == 2


def test_letter_of_an_undecided_proposal_is_not_found(client, submitted, applicant):
    client.force_login(applicant)
    assert client.get(reverse("reports:decision_letter", args=[submitted.pk])).status_code == 404
    assert client.get(reverse("reports:usage_statement", args=[submitted.pk])).status_code == 404


def test_usage_statement_for_a_funded_project(client, rc):
    proposal = rc.proposals[0]
    client.force_login(Proposal.objects.get(pk=proposal.pk).created_by)
    response = client.get(reverse("reports:usage_statement", args=[proposal.pk]))
    assert response.status_code == 200
    assert "Usage statement" in pdftotext(response.content)


def test_proposal_documents_include_links_by_state(rc):
    from django.template.loader import render_to_string

    active = render_to_string("reports/_proposal_documents.html", {"proposal": rc.proposals[0]})
    assert reverse("reports:decision_letter", args=[rc.proposals[0].pk]) in active
    assert reverse("reports:usage_statement", args=[rc.proposals[0].pk]) in active
    waiting = render_to_string("reports/_proposal_documents.html", {"proposal": rc.proposals[7]})
    assert "decision-letter" not in waiting


# ---- Command line ------------------------------------------------------------------------------------------------


def test_commands_write_pdfs_and_open_data(rc, tmp_path):
    call_command("approval_report", rc.call.reference, "--lang", "zh-hant", "--output", str(tmp_path / "r.pdf"))
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    call_command("decision_letter", rc.proposals[0].reference, "--output", str(tmp_path / "l.pdf"))
    assert "Decision letter" in pdftotext((tmp_path / "l.pdf").read_bytes())
    call_command("export_open_data", "--format", "csv", "--output", str(tmp_path / "o.csv"))
    assert rc.proposals[0].reference in (tmp_path / "o.csv").read_text(encoding="utf-8-sig")
    assert AuditEvent.objects.filter(action__endswith="_cli", actor=None).count() == 3


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("approval_report", ["no-such-call"], "unknown call reference: no-such-call"),
        ("decision_letter", ["AISS-0000-9999"], "unknown proposal reference: AISS-0000-9999"),
        ("usage_statement", ["AISS-0000-9999"], "unknown proposal reference: AISS-0000-9999"),
    ],
)
def test_commands_fail_with_one_line_on_an_unknown_reference(db, tmp_path, command, args, message):
    with pytest.raises(CommandError) as error:
        call_command(command, *args, "--output", str(tmp_path / "x.pdf"))
    assert str(error.value) == message


@pytest.fixture
def outsider(db):
    from tests.factories import MembershipFactory, OrganisationFactory

    return MembershipFactory(organisation=OrganisationFactory(name="Other University")).user


__all__ = ["report_call"]
