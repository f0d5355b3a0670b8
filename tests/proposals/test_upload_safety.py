"""Issue 10 §5: uploads with active content or compressed bombs are refused with a reason, never a server error,
and the bomb check's memory stays bounded; a stored file is always downloaded as ``….pdf``."""

import tracemalloc
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.proposals.models import Attachment
from portal.proposals.pdfsafety import MAX_LAYERS, InflationLimit, inflated_size_check
from portal.proposals.validators import pdf_download_name, validate_pdf
from tests.factories.proposals import AttachmentFactory, pdf_bytes

from . import pdf_samples

pytestmark = pytest.mark.django_db

JAVASCRIPT = "This PDF contains JavaScript"
OPEN_ACTION = "This PDF runs an action when it is opened or used"
LAUNCH = "This PDF tries to launch another program or file."
EMBEDDED = "This PDF has other files embedded in it."
XFA = "This PDF is an XFA (dynamic) form"
BOMB = 'expands to more than 256.0\xa0MB (a "decompression bomb")'


def _upload(client, proposal, name, content):
    return client.post(
        reverse("proposals:edit", args=[proposal.pk]),
        {
            "action": "save",
            "title": "Kept",
            "attachment_kind": "technical",
            "attachment": SimpleUploadedFile(name, content, content_type="application/pdf"),
        },
    )


def _refusal(client, draft, name, content) -> str:
    response = _upload(client, draft, name, content)
    assert response.status_code == 422
    assert Attachment.objects.count() == 0
    draft.refresh_from_db()
    assert draft.draft["title"] == "Kept"
    return " ".join(response.context["attachment_form"].errors["attachment"])


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("javascript_pdf", JAVASCRIPT),
        ("hex_escaped_javascript_pdf", JAVASCRIPT),
        ("launch_pdf", LAUNCH),
        ("uri_open_action_pdf", OPEN_ACTION),
        ("embedded_file_pdf", EMBEDDED),
        ("xfa_pdf", XFA),
    ],
)
def test_pdf_with_active_content_is_refused_saying_why(client, draft, applicant, sample, message):
    client.force_login(applicant)
    errors = _refusal(client, draft, f"{sample}.pdf", getattr(pdf_samples, sample)())
    assert message in errors
    assert "Print or export it again" in errors or "Attach each document" in errors or "Print it to" in errors


def test_opening_at_a_page_is_harmless_and_accepted(client, draft, applicant):
    client.force_login(applicant)
    response = _upload(client, draft, "latex.pdf", pdf_samples.goto_open_action_pdf())
    assert response.status_code == 302
    assert Attachment.objects.get().pages == 1


def test_decompression_bomb_is_refused_with_a_message(client, draft, applicant):
    client.force_login(applicant)
    errors = _refusal(client, draft, "bomb.pdf", pdf_samples.bomb_pdf())
    assert BOMB in errors


def test_bomb_check_memory_is_bounded():
    """A 1.4 MB PDF expanding to 320 MB: the check holds no more than a few pieces of 64 KB at a time."""
    data = pdf_samples.bomb_pdf()
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as refused:
            validate_pdf(SimpleUploadedFile("bomb.pdf", data))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "bomb"
    assert peak < len(data) + 2 * 1024 * 1024


def test_bomb_compressed_twice_is_followed_through_the_layers(settings):
    inner = pdf_samples.zeros_deflated(8 * 1024 * 1024)
    twice = b"1 0 obj\n<< /Filter [/FlateDecode /FlateDecode] >>\nstream\n" + zlib.compress(inner) + b"\nendstream"
    report = inflated_size_check(twice, limit=64 * 1024 * 1024)
    assert report.streams == 1
    assert report.counted > 8 * 1024 * 1024 + len(inner)
    with pytest.raises(InflationLimit):
        inflated_size_check(twice, limit=8 * 1024 * 1024)
    assert MAX_LAYERS == 3


def test_stream_whose_content_only_looks_compressed_is_still_counted():
    """A bomb whose inflated content starts like zlib but is not: every byte of the outer layer counts."""
    fake = zlib.compress(b"\x78\x9c" + b"\xff" * (4 * 1024 * 1024))
    data = b"<< /Filter /FlateDecode >>\nstream\n" + fake + b"\nendstream"
    with pytest.raises(InflationLimit):
        inflated_size_check(data, limit=4 * 1024 * 1024)


def test_zip_bomb_is_refused_as_not_a_pdf(client, draft, applicant):
    client.force_login(applicant)
    errors = _refusal(client, draft, "archive.pdf", pdf_samples.zip_bomb())
    assert "This file is not a PDF." in errors


def test_zip_bomb_dressed_as_a_pdf_is_refused_without_a_server_error(client, draft, applicant):
    client.force_login(applicant)
    errors = _refusal(client, draft, "archive.pdf", b"%PDF-1.7\n" + pdf_samples.zip_bomb())
    assert "This PDF is damaged and cannot be read." in errors


@pytest.mark.unit
@pytest.mark.parametrize(
    ("uploaded", "downloaded"),
    [
        ("My Proposal.pdf", "My Proposal.pdf"),
        ("REPORT.PDF", "REPORT.PDF"),
        ("evil.html", "evil.html.pdf"),
        ("C:\\Users\\me\\plan.docx", "plan.docx.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
        ("line\r\nbreak.pdf", "linebreak.pdf"),
        ("", "document.pdf"),
        ("...", "document.pdf"),
        ("x" * 300 + ".exe", "x" * 251 + ".pdf"),
    ],
)
def test_download_name_always_ends_in_pdf(uploaded, downloaded):
    assert pdf_download_name(uploaded) == downloaded


def test_upload_named_otherwise_is_stored_and_served_as_pdf(client, draft, applicant):
    client.force_login(applicant)
    assert _upload(client, draft, "proposal.html", pdf_bytes()).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.original_name == "proposal.html.pdf"
    legacy = AttachmentFactory(proposal=draft, uploaded_by=applicant, original_name="run-me.exe")
    response = client.get(reverse("proposals:attachment", args=[draft.pk, legacy.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="run-me.exe.pdf"'
    assert response["Content-Type"] == "application/pdf"
    b"".join(response.streaming_content)
