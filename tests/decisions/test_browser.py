"""In Chromium: a secretariat officer screens a proposal; after a committee member's recommendation, the chair
approves it; the applicant sees the decision on the timeline."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.audit.services import audit_verify
from portal.proposals.enums import ProposalState as S
from portal.proposals.models import Proposal
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call
from tests.factories.reviews import reviews_submitted

from .conftest import make_submitted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_secretariat_screens_and_chair_approves(page, live_server):
    call = open_call(title="AISS 2027 Batch 1")
    organisation = OrganisationFactory(name="University of Hong Kong")
    applicant = MembershipFactory(organisation=organisation, user__full_name="Dr Chan").user
    proposal = make_submitted(call, organisation, applicant)
    officer = UserFactory(role=Role.SECRETARIAT, full_name="Ms Lee")
    member = UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Ho")
    chair = UserFactory(role=Role.COMMITTEE_CHAIR, full_name="Prof Cheung")

    # The secretariat officer finds the proposal in the work list and screens it.
    _login(page, live_server, officer)
    page.goto("/")
    page.get_by_role("link", name="Decisions").click()
    page.get_by_role("link", name=proposal.reference).click()
    page.get_by_role("link", name="Start screening").click()
    page.get_by_role("button", name="Start screening").click()
    expect(page.locator("main")).to_contain_text("Done: Start screening.")
    page.get_by_role("link", name="Screen eligibility").click()
    expect(page.get_by_role("heading", name="Eligibility checklist")).to_be_visible()
    page.shot("screening-checklist")
    for radio in page.get_by_role("radio", name="Met", exact=True).all():
        radio.check()
    page.get_by_role("button", name="Record the screening").click()
    expect(page.locator("main")).to_contain_text("The proposal is eligible and goes to review.")
    # The reviewers do their part (their own browser test walks it); then the review round can close.
    reviews_submitted(proposal, secretariat=officer)
    page.reload()
    page.get_by_role("link", name="Close the review").click()
    page.get_by_role("button", name="Close the review").click()
    page.shot("screened")

    # A committee member recommends.
    _login(page, live_server, member)
    page.goto(f"/proposals/{proposal.pk}/")
    page.get_by_role("link", name="Recommend").click()
    page.get_by_role("radio", name="Recommend", exact=True).check()
    page.get_by_label("Conditions").fill("Publish the model weights.")
    page.shot("recommendation")
    page.get_by_role("button", name="Record the recommendation").click()
    expect(page.locator("main")).to_contain_text("The recommendation is recorded")

    # The committee member may not approve (four-eyes): no button for them.
    expect(page.get_by_role("link", name="Approve")).to_have_count(0)

    # The chair approves.
    _login(page, live_server, chair)
    page.goto("/decisions/")
    page.get_by_role("link", name=proposal.reference).click()
    page.get_by_role("link", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Publish the model weights.")
    page.get_by_role("radio", name="Approve").check()
    page.shot("decision")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("main")).to_contain_text("The decision is recorded.")
    page.shot("approved")

    # The applicant sees the decision on the timeline, and was told.
    _login(page, live_server, applicant)
    page.goto(f"/proposals/{proposal.pk}/")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.locator("main")).to_contain_text(re.compile("Approved"))
    page.shot("applicant-timeline")
    assert Proposal.objects.get(pk=proposal.pk).state == S.APPROVED
    assert applicant.notifications.filter(message=f"{proposal.reference} is now “Approved”").count() == 1
    assert audit_verify() is None
