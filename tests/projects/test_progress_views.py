"""The project page, the officials' project list and the progress-report pages (issue 11 points 1 and 2): who sees
what, forms that keep what was typed, a fixed number of queries on lists, and the report's PDF read back."""

import re
from datetime import date

import pytest
from django.urls import reverse

from portal.accounts.enums import Role
from portal.allocations.models import Tranche
from portal.audit.models import AuditEvent
from portal.projects.enums import ReportState as R
from portal.projects.models import ProgressReport
from portal.projects.progress import progress_report_schedule
from portal.proposals.models import ProposalVersion
from tests.factories import MembershipFactory, UserFactory
from tests.factories.accounts import second_factor_pass
from tests.factories.allocations import usage
from tests.reports.test_pdf import pdftotext

from .conftest import locked_project

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
DASH = "\N{EN DASH}"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def project(call):
    proposal = locked_project(call, account="aiss-7101", hours={("h800", "2026Q1"): 1000, ("h800", "2026Q2"): 1000})
    ProposalVersion.objects.filter(pk=proposal.current_version_id).update(
        content={"fields": {"kpis": "WER below 9% on HK court audio.", "deliverables": "An open model by June."}}
    )
    progress_report_schedule(award=proposal.awards.get())
    return proposal


@pytest.fixture
def applicant(project):
    return MembershipFactory(organisation=project.organisation, user__role=Role.APPLICANT).user


def official(client, role):
    user = UserFactory(role=role)
    client.force_login(user)
    second_factor_pass(client, user)
    return user


def test_project_page_shows_award_usage_tranches_reports_and_links_from_the_proposal(client, project, applicant):
    usage(project, quarter="2026Q1", hours=250)
    client.force_login(applicant)
    detail = client.get(reverse("proposals:detail", args=[project.pk])).content.decode()
    assert reverse("projects:project", args=[project.pk]) in detail
    dashboard = client.get(reverse("proposals:dashboard")).content.decode()
    assert reverse("projects:project", args=[project.pk]) in dashboard
    page = text(client.get(reverse("projects:project", args=[project.pk])))
    assert "AISC H800 2026Q1 1,000 250 750" in page
    assert "Tranche 2: 50% of the award, After the first progress report is accepted — not released yet" in page
    assert f"Report 1 2026-01-01 {DASH} 2026-03-31 2026-04-01 Due Overdue" in page
    assert f"Final report (2) 2026-04-01 {DASH} 2026-06-30 2026-07-30" in page
    assert client.get(reverse("allocations:project", args=[project.pk])).url == reverse(
        "projects:project", args=[project.pk]
    )


def test_project_page_is_hidden_from_another_organisation(client, project):
    client.force_login(MembershipFactory(user__role=Role.APPLICANT).user)
    assert client.get(reverse("projects:project", args=[project.pk])).status_code == 404
    report = project.progress_reports.get(number=1)
    assert client.get(reverse("projects:report", args=[report.pk])).status_code == 404
    assert client.get(reverse("projects:report_edit", args=[report.pk])).status_code == 404
    assert client.get(reverse("projects:report_pdf", args=[report.pk])).status_code == 404


def test_the_form_starts_from_the_proposals_kpis_and_keeps_what_was_typed(client, project, applicant):
    report = project.progress_reports.get(number=1)
    client.force_login(applicant)
    url = reverse("projects:report_edit", args=[report.pk])
    page = client.get(url).content.decode()
    assert "WER below 9% on HK court audio." in page
    assert "An open model by June." in page
    data = {
        "kpis": "WER 8.4%",
        "deliverables": "Model v1 out",
        "problems": "",
        "next_plan": "More data",
        "outputs-TOTAL_FORMS": "2",
        "outputs-INITIAL_FORMS": "0",
        "outputs-MIN_NUM_FORMS": "0",
        "outputs-MAX_NUM_FORMS": "50",
        "outputs-0-kind": "paper",
        "outputs-0-title": "Court ASR <b>benchmark</b>",
        "outputs-0-doi": "not a doi",
        "outputs-0-count": "1",
        "action": "submit",
    }
    response = client.post(url, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a DOI such as 10.1000/xyz123" in html
    assert "Court ASR &lt;b&gt;benchmark&lt;/b&gt;" in html
    assert 'value="not a doi"' in html
    assert "WER 8.4%" in html
    report.refresh_from_db()
    assert (report.state, report.kpis) == (R.DUE, "")

    data["outputs-0-doi"] = "https://doi.org/10.5555/court.2026"
    response = client.post(url, data)
    assert response.url == reverse("projects:report", args=[report.pk])
    report.refresh_from_db()
    assert report.state == R.SUBMITTED
    assert [(o.kind, o.doi) for o in report.outputs.all()] == [("paper", "10.5555/court.2026")]


def test_save_keeps_a_draft_and_submit_says_what_is_missing(client, project, applicant):
    report = project.progress_reports.get(number=1)
    client.force_login(applicant)
    url = reverse("projects:report_edit", args=[report.pk])
    base = {"outputs-TOTAL_FORMS": "0", "outputs-INITIAL_FORMS": "0"}
    response = client.post(url, {**base, "kpis": "Half written", "action": "save"})
    assert response.url == url
    response = client.post(url, {**base, "kpis": "Half written", "action": "submit"})
    assert response.status_code == 422
    assert "Complete the report before submitting it" in response.content.decode()
    report.refresh_from_db()
    assert (report.state, report.kpis) == (R.DUE, "Half written")


def test_secretariat_screens_and_another_official_accepts_on_the_page(client, project, applicant):
    report = project.progress_reports.get(number=1)
    ProgressReport.objects.filter(pk=report.pk).update(
        state=R.SUBMITTED, kpis="k", deliverables="d", next_plan="n", due_on=date(2099, 1, 1)
    )
    ProgressReport.objects.filter(proposal=project, final=True).update(due_on=date(2099, 6, 1))
    url = reverse("projects:report", args=[report.pk])
    screener = official(client, Role.SECRETARIAT)
    page = client.get(url).content.decode()
    assert 'value="recommend_accept"' in page
    assert 'value="accept"' not in page
    # A step that needs a reason keeps the page and says so.
    response = client.post(url, {"action": "request_clarification", "reason": ""})
    assert response.status_code == 422
    assert "Give a reason." in response.content.decode()
    client.post(url, {"action": "recommend_accept", "reason": "Complete and on track."})
    report.refresh_from_db()
    assert (report.state, report.screened_by) == (R.RECOMMENDED, screener)
    # The screener may not accept it.
    assert client.post(url, {"action": "accept"}).status_code == 403
    chair = official(client, Role.COMMITTEE_CHAIR)
    client.post(url, {"action": "accept", "reason": ""})
    report.refresh_from_db()
    assert (report.state, report.decided_by) == (R.ACCEPTED, chair)
    assert Tranche.objects.get(award__proposal=project, number=2).released_at is not None
    page = text(client.get(reverse("projects:project", args=[project.pk])))
    assert "Tranche 2: 50% of the award, After the first progress report is accepted — released" in page


def test_applicant_cannot_take_an_officials_step(client, project, applicant):
    report = project.progress_reports.get(number=1)
    ProgressReport.objects.filter(pk=report.pk).update(state=R.SUBMITTED)
    client.force_login(applicant)
    url = reverse("projects:report", args=[report.pk])
    assert client.post(url, {"action": "recommend_accept"}).status_code == 403
    assert client.post(url, {"action": "no-such-step"}).status_code == 400
    assert client.get(reverse("projects:report_edit", args=[report.pk])).status_code == 403


def test_report_pdf_in_english_and_chinese_read_back(client, project, applicant):
    report = project.progress_reports.get(number=1)
    ProgressReport.objects.filter(pk=report.pk).update(
        state=R.SUBMITTED,
        kpis="WER 8.4% <script>alert(1)</script>",
        deliverables="Model v1",
        next_plan="More data",
        usage={
            "awarded": "2000.00",
            "used": "250.00",
            "rows": [{"pool": "h800", "quarter": "2026Q1", "awarded": "1000.00", "used": "250.00"}],
        },
    )
    client.force_login(applicant)
    response = client.get(reverse("projects:report_pdf", args=[report.pk]) + "?lang=en")
    assert response["Content-Type"] == "application/pdf"
    english = re.sub(r"\s+", " ", pdftotext(response.content))
    assert "Progress report" in english
    assert f"{project.reference}-PR1" in english
    assert "WER 8.4% <script>alert(1)</script>" in english
    assert f"2026-01-01 {DASH} 2026-03-31" in english
    assert "h800 2026Q1 1,000 250" in english
    chinese = re.sub(
        r"\s+", " ", pdftotext(client.get(reverse("projects:report_pdf", args=[report.pk]) + "?lang=zh-hant").content)
    )
    assert "進度報告" in chinese
    assert AuditEvent.objects.filter(action="progress_report.download").count() == 2


@pytest.mark.parametrize("n", [1, 5])
def test_project_list_query_count_is_fixed_and_flags_overdue(client, call, django_assert_max_num_queries, n):
    for i in range(n):
        proposal = locked_project(call, account=f"aiss-72{i:02d}", hours={("h800", "2026Q1"): 10})
        progress_report_schedule(award=proposal.awards.get())
    official(client, Role.SECRETARIAT)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("projects:list"))
    assert response.status_code == 200
    assert len(response.context["projects"]) == n
    assert text(response).count("Overdue: tranches held") == n


@pytest.mark.parametrize("n", [1, 4])
def test_project_page_query_count_is_fixed(client, call, django_assert_max_num_queries, n):
    proposal = locked_project(call, account="aiss-7300", hours={("h800", q): 10 for q in ("2026Q1", "2026Q2")})
    progress_report_schedule(award=proposal.awards.get())
    for i in range(n):
        usage(proposal, quarter="2026Q1", hours=1 + i)
    official(client, Role.SECRETARIAT)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("projects:project", args=[proposal.pk]))
    assert response.status_code == 200
