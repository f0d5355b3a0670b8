"""Submitting safely: files chosen with Submit, the review-and-confirm step, reopening and amending before the
deadline, the error summary, autosave, removing an attachment, and the clarification reply."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.decisions import services as decisions
from portal.proposals import services
from portal.proposals.enums import ProposalState
from portal.proposals.models import ProposalEvent
from tests.factories import UserFactory
from tests.factories.proposals import complete_draft, pdf_bytes

pytestmark = pytest.mark.django_db


def _edit(client, proposal, data, **extra):
    return client.post(reverse("proposals:edit", args=[proposal.pk]), data={**data, **extra})


def _confirm(client, proposal):
    url = reverse("proposals:confirm", args=[proposal.pk])
    return client.post(url, {"digest": client.get(url).context["digest"]})


def test_file_chosen_with_submit_is_in_the_submitted_version(client, draft, applicant, call):
    client.force_login(applicant)
    upload = SimpleUploadedFile("technical.pdf", pdf_bytes(pages=3), content_type="application/pdf")
    response = _edit(
        client, draft, complete_draft(call), action="submit", attachment=upload, attachment_kind="technical"
    )
    assert response.url == reverse("proposals:confirm", args=[draft.pk])
    page = client.get(response.url).content.decode()
    assert "technical.pdf" in page
    _confirm(client, draft)
    draft.refresh_from_db()
    version = draft.current_version
    assert [a["name"] for a in version.content["attachments"]] == ["technical.pdf"]
    assert list(version.attachments.values_list("original_name", flat=True)) == ["technical.pdf"]


def test_bad_file_with_submit_says_the_proposal_was_not_submitted(client, ready_draft, applicant, call):
    client.force_login(applicant)
    upload = SimpleUploadedFile("notes.pdf", b"not a pdf at all", content_type="application/pdf")
    response = _edit(client, ready_draft, complete_draft(call), action="submit", attachment=upload)
    html = response.content.decode()
    assert response.status_code == 422
    assert "The proposal was not submitted: the file you chose could not be attached" in html
    assert 'id="error-summary"' in html
    assert '<li><a href="#id_attachment">' in html
    ready_draft.refresh_from_db()
    assert ready_draft.state == ProposalState.DRAFT
    assert ready_draft.current_version is None


def test_missing_attachment_is_in_the_error_summary(client, draft, applicant, call):
    client.force_login(applicant)
    response = _edit(client, draft, complete_draft(call), action="submit")
    html = response.content.decode()
    assert response.status_code == 422
    assert '<li><a href="#id_attachment">Attach the technical proposal as a PDF.</a></li>' in html


def test_confirm_page_shows_the_whole_proposal_and_submits_only_what_it_showed(client, ready_draft, applicant, call):
    client.force_login(applicant)
    url = reverse("proposals:confirm", args=[ready_draft.pk])
    page = client.get(url)
    html = page.content.decode()
    for text in ("Continued pre-training then instruction tuning.", "HK$3,500,000.00", "Training", "BF16"):
        assert text in html
    services.proposal_save_draft(proposal=ready_draft, raw={"summary": "Changed in another tab."}, user=applicant)
    stale = client.post(url, {"digest": page.context["digest"]})
    assert stale.status_code == 409
    assert "Changed in another tab." in stale.content.decode()
    ready_draft.refresh_from_db()
    assert ready_draft.current_version is None


def test_confirm_page_of_an_incomplete_draft_goes_back_to_the_form(client, draft, applicant):
    client.force_login(applicant)
    response = client.get(reverse("proposals:confirm", args=[draft.pk]))
    assert response.url == reverse("proposals:edit", args=[draft.pk])


def test_confirm_page_is_404_for_another_organisation(client, ready_draft, outsider):
    client.force_login(outsider)
    assert client.get(reverse("proposals:confirm", args=[ready_draft.pk])).status_code == 404


def test_reopen_and_amend_before_the_deadline_makes_a_new_version_and_receipt(client, submitted, applicant, call):
    client.force_login(applicant)
    first = submitted.current_version
    assert client.post(reverse("proposals:reopen", args=[submitted.pk])).url == reverse(
        "proposals:edit", args=[submitted.pk]
    )
    submitted.refresh_from_db()
    assert submitted.state == ProposalState.AMENDING
    assert submitted.current_version == first  # the submitted version stands meanwhile
    _edit(client, submitted, complete_draft(call, summary="Amended summary."), action="submit")
    assert _confirm(client, submitted).url == reverse("proposals:receipt", args=[submitted.pk, 2])
    submitted.refresh_from_db()
    assert submitted.state == ProposalState.SUBMITTED
    assert submitted.current_version.number == 2
    assert submitted.current_version.content["fields"]["summary"] == "Amended summary."
    assert submitted.current_version.sha256 != first.sha256
    assert submitted.reference == first.proposal.reference
    actions = list(ProposalEvent.objects.filter(proposal=submitted).values_list("action", flat=True))
    assert actions == ["create", "submit", "reopen", "submit"]
    assert AuditEvent.objects.filter(action="proposal.reopen", object_id=str(submitted.pk)).count() == 1
    receipt = client.get(reverse("proposals:receipt", args=[submitted.pk, 2])).content.decode()
    assert submitted.current_version.sha256 in receipt


def test_reopen_is_refused_after_the_deadline(client, submitted, applicant, call):
    call.closes_at = timezone.now() - timedelta(minutes=1)
    call.opens_at = call.closes_at - timedelta(days=30)
    call.save()
    client.force_login(applicant)
    response = client.post(reverse("proposals:reopen", args=[submitted.pk]))
    assert response.url == reverse("proposals:detail", args=[submitted.pk])
    submitted.refresh_from_db()
    assert submitted.state == ProposalState.SUBMITTED


def test_keep_submitted_discards_the_amendment(client, submitted, applicant, call):
    client.force_login(applicant)
    client.post(reverse("proposals:reopen", args=[submitted.pk]))
    attachment = submitted.attachments.get()
    _edit(client, submitted, complete_draft(call, summary="Half-done change."), remove_attachment=attachment.pk)
    client.post(reverse("proposals:keep_submitted", args=[submitted.pk]))
    submitted.refresh_from_db()
    attachment.refresh_from_db()
    assert submitted.state == ProposalState.SUBMITTED
    assert submitted.draft["summary"] == complete_draft(call)["summary"]
    assert submitted.draft["hours__h800__2026Q1"] == "100000"
    assert attachment.removed_at is None
    assert submitted.versions.count() == 1


def test_screening_waits_while_the_applicant_amends_before_the_deadline(submitted, applicant, call):
    officer = UserFactory(role="secretariat")
    services.proposal_reopen(proposal=submitted, user=applicant)
    assert not officer.has_perm("portal.proposals.screen_proposal", submitted)
    call.closes_at = timezone.now() - timedelta(minutes=1)
    call.opens_at = call.closes_at - timedelta(days=30)
    call.save()
    submitted.refresh_from_db()
    assert officer.has_perm("portal.proposals.screen_proposal", submitted)
    services.proposal_transition(proposal=submitted, action="start_screening", actor=officer)
    assert submitted.state == ProposalState.SCREENING


def test_save_draft_is_the_default_button_and_remove_is_not_a_button(client, ready_draft, applicant):
    client.force_login(applicant)
    html = client.get(reverse("proposals:edit", args=[ready_draft.pk])).content.decode()
    form = html[html.index('id="proposal-form"') :]
    form = form[: form.index("</form>")]
    first_submit = form.index('<button type="submit"')
    assert form[first_submit : first_submit + 80].startswith('<button type="submit" name="action" value="save"')
    attachment = ready_draft.attachments.get()
    assert f'href="/proposals/{ready_draft.pk}/attachments/{attachment.pk}/remove/"' in form


def test_removing_an_attachment_asks_first(client, ready_draft, applicant):
    client.force_login(applicant)
    attachment = ready_draft.attachments.get()
    url = reverse("proposals:attachment_remove", args=[ready_draft.pk, attachment.pk])
    page = client.get(url).content.decode()
    assert "Remove the attachment?" in page
    attachment.refresh_from_db()
    assert attachment.removed_at is None
    client.post(url)
    attachment.refresh_from_db()
    assert attachment.removed_at is not None


def test_autosave_keeps_what_is_typed(client, draft, applicant, call):
    client.force_login(applicant)
    response = client.post(
        reverse("proposals:autosave", args=[draft.pk]), {"title": "Typed, not saved", "summary": "x"}
    )
    assert response.status_code == 200
    assert response.json()["saved"] is True
    assert response.json()["message"].startswith("Draft saved automatically at ")
    draft.refresh_from_db()
    assert draft.draft["title"] == "Typed, not saved"
    assert draft.title == "Typed, not saved"


def test_autosave_of_a_submitted_proposal_is_refused(client, submitted, applicant):
    client.force_login(applicant)
    response = client.post(reverse("proposals:autosave", args=[submitted.pk]), {"title": "Late"})
    assert response.status_code == 409
    submitted.refresh_from_db()
    assert submitted.draft["title"] == "Cantonese large language model"


def test_autosave_is_404_for_another_organisation(client, draft, outsider):
    client.force_login(outsider)
    assert client.post(reverse("proposals:autosave", args=[draft.pk]), {"title": "x"}).status_code == 404


@pytest.fixture
def clarification(submitted):
    officer = UserFactory(role="secretariat")
    services.proposal_transition(proposal=submitted, action="start_screening", actor=officer)
    request = decisions.clarification_request(
        proposal=submitted,
        actor=officer,
        questions="Why 100,000 hours in the first quarter?",
        due_at=timezone.now() + timedelta(days=7),
    )
    submitted.refresh_from_db()
    return request


def test_clarification_questions_are_at_the_top_with_a_reply_box(client, clarification, applicant, call):
    proposal = clarification.proposal
    client.force_login(applicant)
    html = client.get(reverse("proposals:detail", args=[proposal.pk])).content.decode()
    assert html.index("Why 100,000 hours in the first quarter?") < html.index("Submitted version 1")
    assert 'name="clarification_reply"' in html
    response = client.post(
        reverse("proposals:clarification_reply", args=[proposal.pk]), {"clarification_reply": "Data preparation."}
    )
    assert response.url == reverse("proposals:edit", args=[proposal.pk]) + "#section-clarification"
    edit = client.get(reverse("proposals:edit", args=[proposal.pk])).content.decode()
    assert "Data preparation.</textarea>" in edit


def test_resubmission_needs_the_reply_and_records_it(client, clarification, applicant, call):
    proposal = clarification.proposal
    client.force_login(applicant)
    refused = _edit(client, proposal, complete_draft(call), action="submit", clarification_reply="")
    assert refused.status_code == 422
    assert '<li><a href="#id_clarification_reply">' in refused.content.decode()
    _edit(client, proposal, complete_draft(call), action="submit", clarification_reply="Data preparation first.")
    _confirm(client, proposal)
    clarification.refresh_from_db()
    proposal.refresh_from_db()
    assert clarification.answer == "Data preparation first."
    assert clarification.answered_version == proposal.current_version
    assert proposal.current_version.content["clarification_reply"] == "Data preparation first."
    assert proposal.state == ProposalState.SCREENING
    assert "clarification_reply" not in proposal.draft


def test_reviews_ready_is_a_notice_and_an_email_with_the_response_date(
    client, submitted, applicant, django_capture_on_commit_callbacks
):
    from django.core import mail

    from portal.notifications.models import Notification
    from portal.reviews.selectors import reviews_status
    from tests.factories.reviews import reviews_submitted

    officer = UserFactory(role="secretariat")
    services.proposal_transition(proposal=submitted, action="start_screening", actor=officer)
    from portal.decisions import services as decisions_services

    items = decisions_services.screening_checklist_ensure(call=submitted.call)
    decisions_services.screening_record(proposal=submitted, actor=officer, answers={item.pk: True for item in items})
    submitted.refresh_from_db()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reviews_submitted(submitted, secretariat=officer)
    due = timezone.localtime(reviews_status(proposal=submitted).response_closes_at)
    note = Notification.objects.get(user=applicant, key=f"reviews-ready:{submitted.pk}")
    expected = f"Reviews of {submitted.reference} are ready: respond by {due:%Y-%m-%d %H:%M} HKT"
    assert note.message == expected
    assert note.url == reverse("reviews:feedback", args=[submitted.pk])
    emails = [m for m in mail.outbox if m.to == [applicant.email]]
    assert [m.subject for m in emails] == [expected]
    assert f"/reviews/feedback/{submitted.pk}/" in emails[0].body
    client.force_login(applicant)
    html = client.get(reverse("proposals:detail", args=[submitted.pk])).content.decode()
    assert "The reviews are ready: respond by" in html
    assert f'href="/reviews/feedback/{submitted.pk}/"' in html


def test_co_applicant_organisation_is_found_by_name_not_listed(client, draft, applicant, call):
    from tests.factories import OrganisationFactory

    partner = OrganisationFactory(name="Hong Kong University of Science and Technology", name_zh="香港科技大學")
    OrganisationFactory.create_batch(5)
    client.force_login(applicant)
    html = client.get(reverse("proposals:edit", args=[draft.pk])).content.decode()
    assert "<option" not in html.split('id="id_co1_organisation"')[1].split("</datalist>")[0]
    assert 'data-suggestions="/accounts/organisations/search/"' in html
    data = complete_draft(
        call, co1_name="Prof Lee", co1_organisation="hong kong university of science and technology", co1_email="l@x.hk"
    )
    data.update(co2_name="Dr Ho", co2_organisation="香港科技大學", co2_email="h@x.hk")
    data.update(co3_name="Dr Nobody", co3_organisation="No Such Institute", co3_email="n@x.hk")
    response = _edit(client, draft, data, action="submit")
    assert response.status_code == 422
    assert "No registered organisation has this name." in response.content.decode()
    data.update(co3_organisation="")
    services.proposal_save_draft(proposal=draft, raw=data, user=applicant)
    from tests.factories.proposals import AttachmentFactory

    AttachmentFactory(proposal=draft, uploaded_by=applicant)
    version = services.proposal_submit(proposal=draft, user=applicant)
    assert [(c["name"], c["organisation_id"]) for c in version.content["co_applicants"]] == [
        ("Prof Lee", partner.pk),
        ("Dr Ho", partner.pk),
        ("Dr Nobody", None),
    ]
    assert list(version.co_organisations.all()) == [partner]
