import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.services import audit_verify
from portal.proposals import services
from portal.proposals.enums import ProposalState
from portal.proposals.models import Attachment, Proposal, ProposalVersion, ReferenceCounter
from tests.factories import MembershipFactory, UserFactory
from tests.factories.proposals import complete_draft, pdf_bytes

pytestmark = pytest.mark.django_db


def _post_form(client, proposal, data, follow=False, **extra):
    return client.post(reverse("proposals:edit", args=[proposal.pk]), data={**data, **extra}, follow=follow)


def _close_file(response) -> None:
    # The test client closes a streamed response (and its file) once its content has been read to the end;
    # response.close() itself would also close the database connection the test's transaction runs on.
    if response.streaming:
        b"".join(response.streaming_content)


def _status(client, url) -> int:
    response = client.get(url)
    _close_file(response)
    return response.status_code


# ---- Permissions ------------------------------------------------------------------------------------------------


def _urls(proposal):
    version = proposal.current_version
    attachment = proposal.attachments.first()
    return [
        reverse("proposals:detail", args=[proposal.pk]),
        reverse("proposals:edit", args=[proposal.pk]),
        reverse("proposals:budget", args=[proposal.pk]),
        reverse("proposals:withdraw", args=[proposal.pk]),
        reverse("proposals:receipt", args=[proposal.pk, version.number]),
        reverse("proposals:version_content", args=[proposal.pk, version.number]),
        reverse("proposals:receipt_pdf", args=[proposal.pk, version.number]),
        reverse("proposals:attachment", args=[proposal.pk, attachment.pk]),
    ]


def test_every_proposal_url_is_404_for_another_organisation(client, submitted, outsider):
    client.force_login(outsider)
    for url in _urls(submitted):
        assert _status(client, url) == 404, url
    assert client.post(reverse("proposals:withdraw", args=[submitted.pk]), {"reason": "x"}).status_code == 404


def test_every_proposal_url_works_for_the_organisation(client, submitted, applicant):
    client.force_login(applicant)
    statuses = [_status(client, url) for url in _urls(submitted)]
    # The edit page of a submitted proposal leads to its detail page.
    assert statuses == [200, 302, 200, 200, 200, 200, 200, 200]


def test_reviewer_without_assignment_sees_no_proposal(client, submitted):
    client.force_login(UserFactory(role="reviewer"))
    for url in _urls(submitted):
        assert _status(client, url) == 404, url


def test_anonymous_user_is_sent_to_login(client, submitted):
    for url in _urls(submitted):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_secretariat_sees_submitted_proposal_but_not_drafts(client, submitted, draft):
    client.force_login(UserFactory(role="secretariat"))
    assert client.get(reverse("proposals:detail", args=[submitted.pk])).status_code == 200
    other_draft = services.proposal_create(call=draft.call, organisation=draft.organisation, user=draft.created_by)
    assert client.get(reverse("proposals:detail", args=[other_draft.pk])).status_code == 404


def test_attachment_is_downloaded_as_attachment(client, submitted, applicant):
    client.force_login(applicant)
    attachment = submitted.attachments.get()
    response = client.get(reverse("proposals:attachment", args=[submitted.pk, attachment.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="technical.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


# ---- The form ---------------------------------------------------------------------------------------------------


def test_save_draft_keeps_every_value_even_invalid(client, draft, applicant, call):
    client.force_login(applicant)
    data = complete_draft(call, lead_email="nope", min_share="150", hours__h800__2026Q1="-5", title="")
    response = _post_form(client, draft, data, action="save")
    assert response.status_code == 302
    draft.refresh_from_db()
    for name in ("lead_email", "min_share", "hours__h800__2026Q1", "title", "summary"):
        assert draft.draft[name] == data[name]
    page = client.get(reverse("proposals:edit", args=[draft.pk])).content.decode()
    assert 'value="nope"' in page
    assert 'value="-5"' in page
    assert "incomplete" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("title", "x" * 301, "Ensure this value has at most 300 characters (it has 301)."),
        ("summary", "", "This field is required."),
        ("objectives", "", "This field is required."),
        ("lead_name", "", "This field is required."),
        ("lead_email", "chan-at-hku", "Enter a valid email address."),
        ("lead_phone", "call me", "Enter a telephone number, e.g. +852 2123 4567."),
        ("workload", "quantum", "Select a valid choice. quantum is not one of the available choices."),
        ("precision", "", "This field is required."),
        ("technical_approach", "", "This field is required."),
        ("implementation_plan", "", "This field is required."),
        ("deliverables", "", "This field is required."),
        ("kpis", "", "This field is required."),
        ("hours__h800__2026Q1", "ten", "Enter a whole number."),
        ("hours__h800__2026Q1", "-1", "Ensure this value is greater than or equal to 0."),
        ("min_share", "0", "Ensure this value is greater than or equal to 1."),
        ("min_share", "101", "Ensure this value is less than or equal to 100."),
        ("compute_justification", "", "This field is required."),
        ("other_funding", "-3", "Ensure this value is greater than or equal to 0."),
        ("other_funding", "12.345", "Ensure that there are no more than 2 decimal places."),
        ("ethics_statement", "", "This field is required."),
        ("data_declaration", "", "This field is required."),
        ("accuracy_confirm", "", "This field is required."),
        ("pics_consent", "", "This field is required."),
        ("co1_email", "lee@", "Enter a valid email address."),
    ],
)
def test_submit_with_bad_field_shows_error_and_keeps_input(client, ready_draft, applicant, call, field, value, message):
    client.force_login(applicant)
    data = complete_draft(call, **{field: value})
    if field == "co1_email":
        data["co1_name"] = "Prof Lee"
    response = _post_form(client, ready_draft, data, action="submit")
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors[field] == [message]
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.DRAFT
    assert ready_draft.draft[field] == ("on" if value and field in {"data_declaration"} else value)
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "There is a problem" in html


def test_co_applicant_row_needs_name_and_email(client, ready_draft, applicant, call):
    client.force_login(applicant)
    response = _post_form(client, ready_draft, complete_draft(call, co2_name="Dr Wong"), action="submit")
    assert response.context["form"].errors["co2_email"] == ["Give the co-applicant's email, or clear this row."]


def _confirm(client, proposal, follow=False):
    """The final Submit on the review-and-confirm page, with the digest that page showed."""
    page = client.get(reverse("proposals:confirm", args=[proposal.pk]))
    digest = page.context["digest"]
    return client.post(reverse("proposals:confirm", args=[proposal.pk]), {"digest": digest}, follow=follow)


def test_submit_complete_proposal_shows_receipt(client, ready_draft, applicant, call):
    client.force_login(applicant)
    first = _post_form(client, ready_draft, complete_draft(call), action="submit")
    assert first.url == reverse("proposals:confirm", args=[ready_draft.pk])
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.DRAFT
    response = _confirm(client, ready_draft, follow=True)
    ready_draft.refresh_from_db()
    version = ready_draft.current_version
    assert response.redirect_chain[-1][0] == reverse("proposals:receipt", args=[ready_draft.pk, 1])
    html = response.content.decode()
    assert ready_draft.reference in html
    assert version.sha256 in html
    assert "HK$3,500,000.00" in html


def test_submit_twice_from_two_tabs_makes_one_version(client, ready_draft, applicant, call):
    client.force_login(applicant)
    _post_form(client, ready_draft, complete_draft(call), action="submit")
    url = reverse("proposals:confirm", args=[ready_draft.pk])
    digest = client.get(url).context["digest"]
    first = client.post(url, {"digest": digest})
    second = client.post(url, {"digest": digest})
    receipt = reverse("proposals:receipt", args=[ready_draft.pk, 1])
    assert first.url == receipt
    assert second.url == receipt
    assert ProposalVersion.objects.filter(proposal=ready_draft).count() == 1


def test_submit_after_deadline_is_refused_and_draft_kept(client, ready_draft, applicant, call):
    call.closes_at = call.opens_at + timedelta(seconds=1)
    call.save()
    client.force_login(applicant)
    data = complete_draft(call, title="Late but kept")
    response = _post_form(client, ready_draft, data, action="submit")
    assert response.status_code == 422
    assert "The call closed at" in response.content.decode()
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.DRAFT
    assert ready_draft.draft["title"] == "Late but kept"


def test_expired_session_keeps_what_was_typed(client, draft, applicant, call):
    response = _post_form(client, draft, {"title": "Typed while logged out", "summary": "Not lost"}, action="save")
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    client.force_login(applicant)
    page = client.get(reverse("proposals:edit", args=[draft.pk]))
    assert "Typed while logged out" in page.content.decode()
    draft.refresh_from_db()
    assert draft.draft["title"] == "Typed while logged out"
    assert draft.draft["summary"] == "Not lost"


def test_budget_preview_is_worked_out_in_decimal(client, draft, applicant):
    client.force_login(applicant)
    response = client.get(
        reverse("proposals:budget", args=[draft.pk]),
        {"hours__h800__2026Q1": "1,000", "hours__h800__2026Q2": "333", "other_funding": "0.5"},
    )
    assert response.json() == {
        "total_hours": "1,333",
        "cost": "HK$33,325.00",
        "subsidy": "HK$23,327.50",
        "applicant_share": "HK$9,997.50",
        "other_funding": "HK$0.50",
        "own_funds": "HK$9,997.00",
        "problems": {},
    }


def test_budget_preview_names_unreadable_cells(client, draft, applicant):
    client.force_login(applicant)
    response = client.get(reverse("proposals:budget", args=[draft.pk]), {"hours__h800__2026Q1": "lots"})
    assert response.json()["problems"] == {"hours__h800__2026Q1": "Enter a whole number of GPU-hours."}


def test_withdraw_with_reason(client, submitted, applicant):
    client.force_login(applicant)
    assert client.post(reverse("proposals:withdraw", args=[submitted.pk]), {"reason": ""}).status_code == 200
    response = client.post(reverse("proposals:withdraw", args=[submitted.pk]), {"reason": "Funded elsewhere"})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.state == ProposalState.WITHDRAWN


def test_start_proposal_creates_draft(client, call, applicant, organisation):
    client.force_login(applicant)
    response = client.post(reverse("proposals:start"), {"call": call.pk, "organisation": organisation.pk})
    proposal = Proposal.objects.get()
    assert response.url == reverse("proposals:edit", args=[proposal.pk])


# ---- Uploads ----------------------------------------------------------------------------------------------------


def _upload(client, proposal, name, content, content_type="application/pdf"):
    return client.post(
        reverse("proposals:edit", args=[proposal.pk]),
        {
            "action": "save",
            "title": "Kept",
            "attachment_kind": "technical",
            "attachment": SimpleUploadedFile(name, content, content_type=content_type),
        },
    )


def test_upload_real_pdf_is_stored_under_generated_name(client, draft, applicant):
    client.force_login(applicant)
    response = _upload(client, draft, "My Proposal.pdf", pdf_bytes(pages=3))
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.original_name == "My Proposal.pdf"
    assert attachment.pages == 3
    assert "My Proposal" not in attachment.file.name
    assert attachment.file.name.startswith(f"attachments/{draft.pk}/")


def _png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("picture.pdf", _png_bytes(), "This file is not a PDF."),
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 200, "This file is not a PDF."),
        ("broken.pdf", b"%PDF-1.7\n" + b"garbage" * 50, "This PDF is damaged and cannot be read."),
        ("empty.pdf", b"", "The submitted file is empty."),
    ],
)
def test_upload_bad_file_is_refused_and_draft_kept(client, draft, applicant, name, content, message):
    client.force_login(applicant)
    response = _upload(client, draft, name, content)
    assert response.status_code == 422
    errors = " ".join(response.context["attachment_form"].errors["attachment"])
    assert message in errors
    assert Attachment.objects.count() == 0
    draft.refresh_from_db()
    assert draft.draft["title"] == "Kept"


def test_upload_encrypted_pdf_is_refused(client, draft, applicant):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    client.force_login(applicant)
    response = _upload(client, draft, "locked.pdf", buffer.getvalue())
    assert response.context["attachment_form"].errors["attachment"] == [
        "This PDF is encrypted or password-protected. Please attach a copy without a password."
    ]


def test_upload_oversized_pdf_is_refused(client, draft, applicant, settings):
    settings.PORTAL_MAX_ATTACHMENT_BYTES = 1000
    client.force_login(applicant)
    response = _upload(client, draft, "big.pdf", pdf_bytes() + b"\n%" + b"x" * 2000)
    assert "the limit is 1000" in " ".join(response.context["attachment_form"].errors["attachment"])
    assert Attachment.objects.count() == 0


def test_remove_attachment(client, ready_draft, applicant):
    client.force_login(applicant)
    attachment = ready_draft.attachments.get()
    _post_form(client, ready_draft, {"title": "x"}, action="save", remove_attachment=attachment.pk)
    attachment.refresh_from_db()
    assert attachment.removed_at is not None


# ---- Query counts -----------------------------------------------------------------------------------------------


def _make_proposals(call, organisation, user, n):
    for i in range(n):
        Proposal.objects.create(call=call, organisation=organisation, created_by=user, title=f"P{i}")


@pytest.mark.parametrize("size", [2, 20])
def test_dashboard_query_count_is_constant(client, call, organisation, applicant, django_assert_num_queries, size):
    _make_proposals(call, organisation, applicant, size)
    client.force_login(applicant)
    client.get(reverse("proposals:dashboard"))  # warm the session
    with django_assert_num_queries(7):
        response = client.get(reverse("proposals:dashboard"))
    assert len(response.context["proposals"]) == size


@pytest.mark.parametrize("size", [2, 20])
def test_official_dashboard_query_count_is_constant(
    client, call, organisation, applicant, django_assert_num_queries, size
):
    _make_proposals(call, organisation, applicant, size)
    Proposal.objects.update(reference=None)
    for i, p in enumerate(Proposal.objects.all()):
        Proposal.objects.filter(pk=p.pk).update(reference=f"AISS-2026-{i + 1:04d}", state="submitted")
    officer = UserFactory(role="secretariat")
    client.force_login(officer)
    # one of them: the officer's conflicted proposals, read from the officer's few rows and left out by id
    with django_assert_num_queries(11):
        response = client.get(reverse("proposals:dashboard"))
    assert len(response.context["proposals"]) == size


__all__ = ["MembershipFactory"]


@pytest.mark.integration
def test_receipt_pdf_downloads_with_the_digest(client, submitted, applicant):
    import subprocess

    client.force_login(applicant)
    version = submitted.current_version
    response = client.get(reverse("proposals:receipt_pdf", args=[submitted.pk, version.number]))
    assert response["Content-Type"] == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=response.content, capture_output=True, check=True).stdout
    text = text.decode()
    assert submitted.reference in text
    assert version.sha256 in text.replace("\n", "").replace(" ", "")


def test_receipt_pdf_is_404_for_another_organisation(client, submitted, outsider):
    client.force_login(outsider)
    url = reverse("proposals:receipt_pdf", args=[submitted.pk, submitted.current_version.number])
    assert client.get(url).status_code == 404


# ---- Save draft in place (the page's script) ---------------------------------------------------------------------

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def test_save_in_place_answers_small_json_and_keeps_everything(
    client, draft, applicant, call, django_assert_num_queries
):
    client.force_login(applicant)
    data = complete_draft(call, summary="Saved in place.", lead_email="nope")
    with django_assert_num_queries(9):  # the membership is read with the proposal: no query for the checks
        response = client.post(reverse("proposals:edit", args=[draft.pk]), {**data, "action": "save"}, **FETCH)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert len(response.content) < 200
    draft.refresh_from_db()
    body = response.json()
    assert body["saved"] is True
    assert body["message"].startswith("Draft saved at ")
    assert body["saved_at"] == draft.draft_saved_at.isoformat()
    assert draft.draft["summary"] == "Saved in place."
    assert draft.draft["lead_email"] == "nope"
    page = client.get(reverse("proposals:edit", args=[draft.pk])).content.decode()
    assert "Saved in place." in page
    assert "Draft saved at" not in page  # no message left waiting for the next page


def test_save_without_script_still_redirects_to_the_page(client, draft, applicant, call):
    client.force_login(applicant)
    data = complete_draft(call, summary="Saved the ordinary way.")
    response = client.post(reverse("proposals:edit", args=[draft.pk]), {**data, "action": "save"}, follow=True)
    assert response.redirect_chain == [(reverse("proposals:edit", args=[draft.pk]) + "#status", 302)]
    html = response.content.decode()
    assert "Draft saved at" in html
    assert "Saved the ordinary way." in html


def test_save_in_place_of_a_too_long_field_asks_for_the_page(client, draft, applicant, call):
    """The script then sends the form itself: the page comes back with the error next to what was typed."""
    client.force_login(applicant)
    data = {**complete_draft(call, summary="Kept.", objectives="x" * 20_001), "action": "save"}
    url = reverse("proposals:edit", args=[draft.pk])
    response = client.post(url, data, **FETCH)
    assert (response.status_code, response.json()) == (422, {"saved": False})
    draft.refresh_from_db()
    assert draft.draft["summary"] == "Kept."
    assert draft.draft.get("objectives", "") == ""
    page = client.post(url, data)
    assert page.status_code == 422
    assert page.context["form"].errors["objectives"] == [
        "This is longer than 20,000 characters and was not saved: shorten it. The rest is saved."
    ]
    assert "x" * 20_001 in page.content.decode()


def test_save_in_place_with_a_file_is_the_ordinary_save(client, draft, applicant, call):
    client.force_login(applicant)
    upload = SimpleUploadedFile("technical.pdf", pdf_bytes(), content_type="application/pdf")
    data = {**complete_draft(call), "action": "save", "attachment": upload, "attachment_kind": "technical"}
    response = client.post(reverse("proposals:edit", args=[draft.pk]), data, **FETCH)
    assert response.status_code == 302
    assert draft.attachments.filter(removed_at__isnull=True).count() == 1


def test_save_in_place_of_a_submitted_proposal_is_refused(client, submitted, applicant, call):
    client.force_login(applicant)
    data = {**complete_draft(call, summary="Too late."), "action": "save"}
    response = client.post(reverse("proposals:edit", args=[submitted.pk]), data, **FETCH)
    assert response.status_code == 302  # not editable: the proposal's page, as without the script
    submitted.refresh_from_db()
    assert submitted.draft["summary"] == "Train a 70B Cantonese model."


def test_save_in_place_with_an_expired_session_asks_for_the_page(client, draft, call):
    data = {**complete_draft(call, summary="Typed while logged out."), "action": "save"}
    response = client.post(reverse("proposals:edit", args=[draft.pk]), data, **FETCH)
    assert (response.status_code, response.json()) == (403, {"saved": False})
    assert "pending-draft:" not in " ".join(client.session.keys())


# ---- What the deadline rush costs (issue 14 goal 6) -------------------------------------------------------------


def test_final_submit_query_count_is_pinned(client, ready_draft, applicant, django_assert_max_num_queries):
    """The final Submit: the session and the person, the proposal with the permission (the membership read in the
    same query, for the view's, the service's and the workflow step's checks), the call's pools and quarters, the
    state change (first: a second Submit waits there), the attachments read once, the version and its rows, the
    reference, and both audit records appended at once. It was 43 queries, then 20; now 18 on SQLite and 13 on
    PostgreSQL, where the state change writes the step on the timeline too, the version is written with its links
    and its compute requests, the reference counter's step writes the proposal's changes too, and the audit records
    and the chain head go in one round trip. The chain head and the reference counter, which every submission
    takes, are locked last."""
    ReferenceCounter.objects.create(prefix=settings.PORTAL_REFERENCE_PREFIX, year=timezone.localtime().year)
    client.force_login(applicant)
    url = reverse("proposals:confirm", args=[ready_draft.pk])
    digest = client.get(url).context["digest"]
    with django_assert_max_num_queries(13 if connection.vendor == "postgresql" else 18):
        response = client.post(url, {"digest": digest})
    assert response.url == reverse("proposals:receipt", args=[ready_draft.pk, 1])
    assert AuditEvent.objects.filter(action__in=["proposal.submit", "proposal.version"]).count() == 2
    assert audit_verify() is None


def test_confirm_page_and_receipt_query_counts_are_pinned(
    client, ready_draft, applicant, django_assert_max_num_queries
):
    client.force_login(applicant)
    url = reverse("proposals:confirm", args=[ready_draft.pk])
    with django_assert_max_num_queries(8):  # the attachments read once for the check, the content and the digest
        digest = client.get(url).context["digest"]
    receipt = client.post(url, {"digest": digest}).url
    with django_assert_max_num_queries(6):
        assert client.get(receipt).status_code == 200


def test_official_list_leaves_out_conflicted_proposals_as_the_detail_rule_does(client, call, organisation, applicant):
    """The list reads an official's conflicted proposals first and leaves them out by id (issue 14); it must leave
    out exactly what the per-proposal rule (every other page's) leaves out: a declared conflict and a membership."""
    from portal.proposals.selectors import proposals_visible_to
    from portal.reviews.services import conflict_record
    from tests.factories import OrganisationFactory

    _make_proposals(call, organisation, applicant, 4)
    other = OrganisationFactory()
    MembershipFactory(user=applicant, organisation=other)
    _make_proposals(call, other, applicant, 2)
    for i, p in enumerate(Proposal.objects.order_by("pk")):
        Proposal.objects.filter(pk=p.pk).update(reference=f"AISS-2026-{i + 1:04d}", state="submitted")
    member = UserFactory(role="committee_member")
    MembershipFactory(user=member, organisation=other)  # both proposals of this organisation
    declared = Proposal.objects.filter(organisation=organisation).order_by("pk").first()
    conflict_record(proposal=declared, user=member, reason="Co-author", actor=UserFactory(role="secretariat"))
    hidden = {declared.pk, *Proposal.objects.filter(organisation=other).values_list("pk", flat=True)}

    listed = set(proposals_visible_to(member, many=True).values_list("pk", flat=True))
    assert listed == set(proposals_visible_to(member).values_list("pk", flat=True))
    assert listed.isdisjoint(hidden)
    assert len(listed) == 3
    client.force_login(member)
    page = client.get(reverse("proposals:dashboard"))
    assert {p.pk for p in page.context["proposals"]} == listed
