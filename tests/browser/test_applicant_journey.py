"""An applicant's whole journey in Debian's Chromium: sign up, verify by the emailed link, create the
organisation, draft, leave, come back, attach a PDF, submit, see the receipt."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import open_call
from tests.factories.proposals import pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_applicant_signs_up_drafts_and_submits(page, live_server, tmp_path):
    call = open_call(title="AISS 2027 Batch 1")

    page.goto("/")
    page.get_by_role("link", name="Create an account").first.click()
    expect(page.get_by_role("heading", name="Personal Information Collection Statement")).to_be_visible()
    page.get_by_label("Full name").fill("Dr Chan Tai Man")
    page.get_by_label("Email").fill("chan@hku.example.hk")
    page.get_by_label("Password").first.fill("a-long-Passphrase-2026")
    page.get_by_label("Password again").fill("a-long-Passphrase-2026")
    page.get_by_label(re.compile("I have read the Personal Information Collection Statement")).check()
    page.shot("signup")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("main")).to_contain_text("email")
    page.shot("check-email")

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/verify/\S+", mail.outbox[0].body).group(0)
    page.goto(link.replace("http://testserver", live_server.url))
    expect(page.get_by_role("heading", name="Your organisation", exact=True)).to_be_visible()
    page.shot("verified")

    page.get_by_role("link", name="Register an organisation").click()
    page.get_by_label("name (English)").fill("University of Hong Kong")
    page.get_by_label("type").select_option("university")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("main")).to_contain_text("University of Hong Kong")
    page.shot("organisation")

    page.get_by_role("link", name="Proposals").click()
    page.get_by_role("link", name="Start a new proposal").click()
    page.get_by_role("button", name="Create the draft").click()
    page.get_by_label("Project title (English)").fill("Cantonese large language model")
    page.get_by_label("Summary").fill("Train a 13B Cantonese model on local data.")
    page.get_by_label("GPU-hours in AISC H800, 2026Q1").fill("100,000")
    page.get_by_label("GPU-hours in AISC H800, 2026Q2").fill("20000")
    expect(page.locator("[data-budget=subsidy]")).to_have_text("HK$2,100,000.00")
    page.shot("draft-typed")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("main")).to_contain_text("Draft saved")

    # Leave, and come back later.
    page.goto("/")
    page.get_by_role("link", name="Cantonese large language model").click()
    page.get_by_role("link", name="Edit the draft").click()
    expect(page.get_by_label("Summary")).to_have_value("Train a 13B Cantonese model on local data.")
    expect(page.get_by_label("GPU-hours in AISC H800, 2026Q1")).to_have_value("100,000")
    page.shot("came-back")

    fields = {
        "Objectives": "An open Cantonese model.",
        "Project lead: name": "Dr Chan Tai Man",
        "Project lead: position": "Associate Professor",
        "Project lead: email": "chan@hku.example.hk",
        "Model size": "13 billion parameters",
        "Dataset size": "400 billion tokens",
        "Technical approach": "Continued pre-training.",
        "Implementation plan and schedule": "Q1 data, Q2 training.",
        "Deliverables": "Weights and report.",
        "Key performance indicators": "Benchmark scores.",
        "Minimum viable share (%)": "50",
        "Justification of the compute request": "6ND estimate.",
        "Ethics and data statement": "Public data only.",
    }
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Training or inference").select_option("training")
    page.get_by_label("Numerical precision").select_option("bf16")
    page.get_by_label(re.compile("The data will be used lawfully")).check()
    page.get_by_label(re.compile("true and complete")).check()
    page.get_by_label(re.compile("I have read the Personal Information Collection Statement and agree")).check()
    pdf = tmp_path / "technical-proposal.pdf"
    pdf.write_bytes(pdf_bytes(pages=2))
    page.get_by_label("Add a PDF attachment").set_input_files(str(pdf))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("main")).to_contain_text("technical-proposal.pdf")
    expect(page.locator("main")).to_contain_text("Everything needed is there")
    page.shot("attached")

    page.get_by_role("button", name="Check and submit").click()
    expect(page.get_by_role("heading", name="Check your proposal, then submit it")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Continued pre-training.")
    page.get_by_role("button", name="Submit proposal").click()
    expect(page.get_by_role("heading", name="Submission receipt")).to_be_visible()
    proposal = Proposal.objects.get()
    assert proposal.state == ProposalState.SUBMITTED
    assert re.fullmatch(r"AISS-\d{4}-0001", proposal.reference)
    expect(page.locator("#receipt-sha256")).to_have_text(proposal.current_version.sha256)
    expect(page.locator("main")).to_contain_text(proposal.reference)
    page.shot("receipt")
    assert call.proposals.count() == 1
