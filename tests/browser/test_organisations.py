"""In Chromium: a new applicant finds their organisation and asks to join it, its administrator approves; the
co-applicant picker suggests organisations from the server as one types."""

import pytest
from playwright.sync_api import expect

from portal.accounts.enums import MembershipRole
from portal.accounts.models import Membership
from portal.proposals import services
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_applicant_asks_to_join_and_the_administrator_approves(page, live_server):
    organisation = OrganisationFactory(name="Chinese University of Hong Kong", name_zh="香港中文大學")
    admin = MembershipFactory(organisation=organisation, role=MembershipRole.ADMIN, user__full_name="Prof Wong").user
    newcomer = UserFactory(full_name="Dr Lee Ka Yan")

    login(page, live_server, newcomer)
    page.goto("/accounts/organisation/")
    page.get_by_label("Name or Business Registration number").fill("Chinese University")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Ask to join Chinese University of Hong Kong").click()
    expect(page.locator("main")).to_contain_text("We have asked the administrators of Chinese University of Hong Kong")
    expect(page.locator("main")).to_contain_text("waiting for an administrator's answer")
    page.shot("asked")

    login(page, live_server, admin)
    page.goto("/notifications/")
    page.get_by_role("link", name="Dr Lee Ka Yan asks to join Chinese University of Hong Kong").click()
    page.get_by_role("button", name="Approve Dr Lee Ka Yan").click()
    expect(page.locator("main")).to_contain_text("Dr Lee Ka Yan is now a member.")
    assert Membership.objects.get(user=newcomer, organisation=organisation).role == MembershipRole.MEMBER

    login(page, live_server, newcomer)
    page.goto("/notifications/")
    expect(page.locator("main")).to_contain_text("You have joined Chinese University of Hong Kong")


def test_co_applicant_picker_suggests_organisations_as_one_types(page, live_server):
    partner = OrganisationFactory(name="Hong Kong University of Science and Technology", name_zh="香港科技大學")
    applicant = MembershipFactory(organisation=OrganisationFactory(name="University of Hong Kong")).user
    proposal = services.proposal_create(call=open_call(), organisation=applicant.organisations.get(), user=applicant)
    login(page, live_server, applicant)
    page.goto(f"/proposals/{proposal.pk}/edit/")
    page.get_by_label("Co-applicant 1: name").fill("Prof Lee")
    field = page.get_by_label("Co-applicant 1: organisation")
    field.fill("Science and Tech")
    options = page.locator("#id_co1_organisation-suggestions option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == partner.name
    field.fill(partner.name)
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("main")).to_contain_text("Draft saved")
    proposal.refresh_from_db()
    assert proposal.draft["co1_organisation"] == partner.name
