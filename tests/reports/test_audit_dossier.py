"""The audit dossier of a proposal (en and zh-Hant) through the one PDF module, read back with pdftotext."""

import pytest
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.reports.documents import audit_dossier_pdf
from tests.factories import UserFactory
from tests.reports.test_pdf import pdftotext

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposal(rc):
    proposal = rc.proposals[0]
    reviewer = proposal.review_assignments.order_by("assigned_at", "pk").first().reviewer
    audit_record(actor=reviewer, action="review.submit", obj=proposal, after={"state": "submitted"})
    audit_record(
        actor=rc.chair,
        action="proposal.decide",
        obj=proposal,
        before={"state": "recommended"},
        after={"state": "approved", "note": "x" * 400},
        reason="Meets every criterion",
    )
    return proposal


def test_dossier_in_english_has_every_part(proposal, rc):
    text = " ".join(pdftotext(audit_dossier_pdf(proposal=proposal, language="en")).split())
    version = proposal.versions.get()
    assert proposal.reference in text
    assert version.sha256 in text.replace(" ", "")
    assert "Audit dossier" in text
    assert f"Verified: the audit chain of {AuditEvent.objects.count()} records is intact." in text
    assert "Reviewer A · version 1 · submitted" in text
    assert "Reviewer B · version 1 · submitted" in text
    for reviewer in rc.reviewers:
        assert reviewer.full_name not in text  # "Reviewer 0".."Reviewer 5": the real names never appear
        assert reviewer.email not in text
    assert f"Decision by {rc.chair.full_name} on" in text
    assert "Meets every criterion" in text
    assert f"locked by {rc.chair.full_name}" in text
    assert "review.submit" in text
    assert "proposal.decide" in text


def test_dossier_in_chinese(proposal):
    text = " ".join(pdftotext(audit_dossier_pdf(proposal=proposal, language="zh-hant")).split())
    assert "審計檔案" in text
    assert "審計鏈完整" in text
    assert "評審員 A" in text


def test_only_auditors_download_the_dossier(client, proposal):
    url = reverse("reports:audit_dossier", args=[proposal.pk])
    client.force_login(UserFactory(role=Role.SECRETARIAT))
    assert client.get(url).status_code == 403
    auditor = UserFactory(role=Role.AUDITOR)
    client.force_login(auditor)
    response = client.get(url + "?lang=zh-hant")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"{proposal.reference}-audit-dossier-zh-hant.pdf" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="reports.audit_dossier", actor=auditor).count() == 1
