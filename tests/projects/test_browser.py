"""A change request in Chromium: the applicant asks for supplementary hours from the project page (refused beyond
the pool's capacity, keeping what was typed), the secretariat recommends it and the chair approves it; the award
gets its next version."""

import pytest
from playwright.sync_api import expect

from portal.allocations.models import AwardHours
from portal.projects.models import ChangeRequest
from portal.projects.versions import award_versions
from tests.browser.helpers import log_in_with_form
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_applicant_asks_secretariat_recommends_chair_approves(page, live_server, locked, officer, chair, call):
    idle = locked["idle"]
    MembershipFactory(organisation=idle.organisation, user__email="lead@hku.example.hk")
    for user, email in ((officer, "officer@aiss.example.hk"), (chair, "chair@aiss.example.hk")):
        user.email = email
        user.save(update_fields=["email"])
    q4 = call.quarters.get(code="2026Q4")

    log_in_with_form(page, "lead@hku.example.hk")
    page.goto(f"/allocations/projects/{idle.pk}/")
    expect(page.get_by_role("heading", name="Award versions")).to_be_visible()
    page.get_by_role("link", name="Request a change").click()
    page.get_by_label("Supplementary hours").check()
    page.get_by_label("Pool").select_option(str(call.pools.get().pk))
    page.locator("#id_quarter").select_option(str(q4.pk))
    page.get_by_label("GPU-hours").fill("970001")
    page.get_by_label("Reason").fill("The Cantonese speech corpus doubled in size.")
    page.get_by_role("button", name="Submit the change request").click()
    expect(page.get_by_text("above the 1,170,000 that may be awarded").first).to_be_visible()
    expect(page.get_by_label("Reason")).to_have_value("The Cantonese speech corpus doubled in size.")
    page.shot("capacity-refused")
    page.get_by_label("GPU-hours").fill("20000")
    page.get_by_role("button", name="Submit the change request").click()
    expect(page.get_by_text("Your change request is submitted")).to_be_visible()
    change = ChangeRequest.objects.get()

    page.context.clear_cookies()
    log_in_with_form(page, "officer@aiss.example.hk")
    page.get_by_role("link", name="Change requests").first.click()
    page.get_by_role("link", name=f"#{change.pk}").click()
    page.get_by_label("Note").fill("Within capacity and the budget.")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("The change is recommended")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # four-eyes

    page.context.clear_cookies()
    log_in_with_form(page, "chair@aiss.example.hk")
    page.get_by_role("link", name="Change requests").first.click()
    page.get_by_role("link", name=f"#{change.pk}").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("The change is approved")).to_be_visible()
    page.shot("approved")

    assert AwardHours.objects.get(award__proposal=idle, quarter=q4).gpu_hours == 120_000
    assert [(v.number, v.kind) for v in award_versions(proposal=idle)] == [(1, "lock"), (2, "supplement")]
