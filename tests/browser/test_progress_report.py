"""Issue 11's "Done when", in Chromium: the applicant submits a progress report from the project page (the
proposal's KPIs filled in, the usage taken from the imported usage), the secretariat screens it, another official
accepts it, and the tranche held for it is released, as the project page then shows."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.allocations.models import Tranche
from portal.core.formatting import hk_today
from portal.projects.enums import ReportState
from portal.projects.models import ProgressReport
from portal.projects.progress import progress_report_schedule
from portal.proposals.models import ProposalVersion
from tests.browser.helpers import log_in_with_form
from tests.factories import MembershipFactory, UserFactory, open_call
from tests.factories.allocations import usage
from tests.projects.conftest import locked_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_applicant_submits_secretariat_screens_another_official_accepts_and_the_tranche_is_released(page):
    call = open_call()
    project = locked_project(call, account="aiss-8001", hours={("h800", "2026Q1"): 1000, ("h800", "2026Q2"): 1000})
    ProposalVersion.objects.filter(pk=project.current_version_id).update(
        content={"fields": {"kpis": "Word error rate below 9% on court audio.", "deliverables": "An open model."}}
    )
    progress_report_schedule(award=project.awards.get())
    # The first report falls due in ten days and the final one later: nothing is overdue.
    today = hk_today()
    ProgressReport.objects.filter(proposal=project, number=1).update(due_on=today + timedelta(days=10))
    ProgressReport.objects.filter(proposal=project, final=True).update(due_on=today + timedelta(days=200))
    usage(project, quarter="2026Q1", hours=250)
    MembershipFactory(organisation=project.organisation, user__email="lead@hku.example.hk", user__role=Role.APPLICANT)
    UserFactory(email="officer@aiss.example.hk", role=Role.SECRETARIAT)
    UserFactory(email="chair@aiss.example.hk", role=Role.COMMITTEE_CHAIR)

    # The applicant: from the proposal to the project page, to the report.
    log_in_with_form(page, "lead@hku.example.hk")
    page.goto(f"/proposals/{project.pk}/")
    page.get_by_role("link", name="Project page: award, usage, progress reports and statements").click()
    expect(page.get_by_role("heading", name="Progress reports")).to_be_visible()
    page.get_by_role("link", name="Report 1", exact=True).click()
    page.get_by_role("link", name="Write the report").click()
    expect(page.get_by_label("Progress against the key performance indicators")).to_have_value(
        "Word error rate below 9% on court audio."
    )
    expect(page.get_by_role("row", name="AISC H800 2026Q1 1,000 250")).to_be_visible()
    page.get_by_label("Progress against the key performance indicators").fill("Word error rate 8.4% on court audio.")
    page.get_by_label("Progress against the deliverables").fill("Model v1 released in March.")
    page.get_by_label("Plan for the next period").fill("Fine-tune on tribunal recordings.")
    page.locator("#id_outputs-0-kind").select_option("paper")
    page.locator("#id_outputs-0-title").fill("Cantonese ASR for courts")
    page.locator("#id_outputs-0-doi").fill("doi 10/abc")
    page.get_by_role("button", name="Submit the report").click()
    expect(page.get_by_text("Enter a DOI such as 10.1000/xyz123").first).to_be_visible()
    expect(page.get_by_label("Plan for the next period")).to_have_value("Fine-tune on tribunal recordings.")
    page.shot("doi-refused")
    page.locator("#id_outputs-0-doi").fill("https://doi.org/10.5555/court.2026")
    page.get_by_role("button", name="Submit the report").click()
    expect(page.get_by_text("The report is submitted to the secretariat.")).to_be_visible()
    expect(page.locator("#report-state")).to_contain_text("Submitted")

    # The secretariat screens it and recommends acceptance; it may not accept it itself.
    page.context.clear_cookies()
    log_in_with_form(page, "officer@aiss.example.hk")
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("link", name=project.reference).click()
    page.get_by_role("link", name="Report 1", exact=True).click()
    expect(page.get_by_text("10.5555/court.2026")).to_be_visible()
    page.get_by_label("Reason, question or answer").fill("Complete and on track.")
    page.get_by_role("button", name="Recommend acceptance").click()
    expect(page.get_by_text("Done: Recommend acceptance.")).to_be_visible()
    expect(page.get_by_role("button", name="Accept the report")).to_have_count(0)  # four-eyes

    # Another official (the chair) accepts it: the held tranche is released by itself.
    page.context.clear_cookies()
    log_in_with_form(page, "chair@aiss.example.hk")
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("link", name=project.reference).click()
    expect(page.locator("#tranche-2")).to_contain_text("not released yet")
    page.get_by_role("link", name="Report 1", exact=True).click()
    page.get_by_role("button", name="Accept the report").click()
    expect(page.get_by_text("Done: Accept the report.")).to_be_visible()
    expect(page.locator("#report-state")).to_contain_text("Accepted")
    page.get_by_role("link", name=f"Project {project.reference}").click()
    expect(page.locator("#tranche-2")).to_contain_text("released")
    expect(page.locator("#tranche-2")).not_to_contain_text("not released")
    page.shot("tranche-released")

    report = ProgressReport.objects.get(proposal=project, number=1)
    assert report.state == ReportState.ACCEPTED
    assert report.screened_by.email == "officer@aiss.example.hk"
    assert report.decided_by.email == "chair@aiss.example.hk"
    assert Tranche.objects.get(award__proposal=project, number=2).released_by == report.decided_by
