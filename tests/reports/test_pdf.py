"""The one PDF module and the submission receipt, read back with poppler (pdftotext, pdffonts, pdfinfo)."""

import io
import multiprocessing
import re
import subprocess
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from pypdf import PdfReader

from portal.proposals.enums import ProposalState
from portal.proposals.models import ProposalVersion
from portal.reports.documents import receipt_pdf
from portal.reports.pdf import (
    BASE_URL,
    PdfTimeLimitExceeded,
    RefusedURL,
    format_hkt,
    html_to_pdf,
    render_pdf,
    resolve_static_url,
)
from tests.factories import AttachmentFactory, CallFactory, OrganisationFactory, ProposalFactory, UserFactory

STATIC_DIR = Path(settings.STATICFILES_DIRS[0]).resolve()
SUBMISSION_SHA = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c0e2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e"
# What the base template and its print CSS load: all of it from our static directory.
OUR_STATIC_FILES = {BASE_URL + f"reports/{name}" for name in ("print.css", "aiss-mark.svg", "sRGB2014.icc")}
HOSTILE_TITLE = '<img src="file:///etc/passwd"> https://evil.example/x.png'


def pdftotext(pdf: bytes, *, layout: bool = False) -> str:
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), "-", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode()


def pdffonts(pdf: bytes, tmp_path: Path) -> list[tuple[str, str]]:
    """(font name without the subset prefix, embedded yes/no) for every font in the file."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    rows = out.splitlines()[2:]
    fonts = []
    for row in rows:
        name = row.split()[0]
        embedded = re.search(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s", row)[1]
        fonts.append((name.split("+", 1)[-1], embedded))
    return fonts


def pdfinfo(pdf: bytes) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def info_value(info: dict[str, str], key: str) -> str:
    return info[key].strip()


def catalog(pdf: bytes):
    return PdfReader(io.BytesIO(pdf)).trailer["/Root"]


def xmp(pdf: bytes) -> str:
    return catalog(pdf)["/Metadata"].get_object().get_data().decode()


def requested_urls(caplog) -> list[str]:
    """Every URL WeasyPrint asked our fetcher for, in order (the fetcher logs each one)."""
    return [r.pdf_url for r in caplog.records if hasattr(r, "pdf_url")]


@pytest.fixture
def fetch_log(caplog):
    caplog.set_level("DEBUG", logger="portal.reports.pdf")
    return caplog


@pytest.fixture
def version(db):
    """Version 2 of a submitted proposal, with two attachments."""
    user = UserFactory(full_name="Chan Tai Man", email="chan@example.hk")
    organisation = OrganisationFactory(name="University of Kowloon", name_zh="九龍大學")
    call = CallFactory(title="AISS 2026 first call")
    proposal = ProposalFactory(
        call=call,
        organisation=organisation,
        created_by=user,
        state=ProposalState.SUBMITTED,
        reference="AISS-2026-0001",
        title="Cantonese large language model",
    )
    technical = AttachmentFactory(proposal=proposal, original_name="technical-proposal.pdf", uploaded_by=user)
    budget = AttachmentFactory(proposal=proposal, original_name="budget.pdf", uploaded_by=user)
    version = ProposalVersion.objects.create(
        proposal=proposal,
        number=2,
        content={"fields": {"title": "Cantonese large language model", "title_zh": "粵語大型語言模型"}},
        sha256=SUBMISSION_SHA,
        submitted_by=user,
        submitted_at=datetime(2026, 11, 27, 7, 4, 31, tzinfo=UTC),
        min_share=Decimal("0.500"),
        total_hours=Decimal("200000.00"),
        cost=Decimal("5000000.00"),
        subsidy=Decimal("3500000.00"),
    )
    version.attachments.set([technical, budget])
    return version


# ---- The fetcher ------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_resolve_static_url_serves_our_print_css():
    assert resolve_static_url(BASE_URL + "reports/print.css") == STATIC_DIR / "reports" / "print.css"


@pytest.mark.unit
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "https://evil.example/x.png",
        "http://static.aiss-pdf.invalid/static/reports/print.css",
        "https://static.aiss-pdf.invalid.evil.example/static/reports/print.css",
        "https://static.aiss-pdf.invalid/static/reports/print.css?x=1",
        "https://static.aiss-pdf.invalid/etc/passwd",
        "https://static.aiss-pdf.invalid/static/../../../../etc/passwd",
        "https://static.aiss-pdf.invalid/static/reports/%2e%2e/%2e%2e/pyproject.toml",
        "https://static.aiss-pdf.invalid/static/reports/missing.css",
        "https://static.aiss-pdf.invalid/static/js/../../manage.py",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "ftp://evil.example/x.css",
        "https://[::1/static/reports/print.css",
        "https://static.aiss-pdf.invalid/static/css/portal.css.map",
    ],
)
def test_resolve_static_url_refuses_anything_else(url):
    with pytest.raises(RefusedURL):
        resolve_static_url(url)


@pytest.mark.unit
def test_resolve_static_url_refuses_a_symlink_out_of_the_static_directory(settings, tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.css").write_text("body { color: red }")
    (tmp_path / "static" / "leak.css").symlink_to(tmp_path / "secret.css")
    settings.STATICFILES_DIRS = [tmp_path / "static"]

    with pytest.raises(RefusedURL, match="no such static file"):
        resolve_static_url(BASE_URL + "leak.css")


@pytest.mark.unit
def test_resolve_static_url_refuses_a_huge_file(settings, tmp_path):
    (tmp_path / "big.css").write_bytes(b" " * (5 * 1024 * 1024 + 1))
    settings.STATICFILES_DIRS = [tmp_path]

    with pytest.raises(RefusedURL, match="too large"):
        resolve_static_url(BASE_URL + "big.css")


@pytest.mark.unit
def test_html_to_pdf_refuses_external_and_local_resources(fetch_log):
    html = """<html lang="en"><head><title>Hostile</title>
      <link rel="stylesheet" href="https://evil.example/x.css">
      <style>@import url("file:///etc/passwd"); body { background: url(http://evil.example/bg.png) }</style>
      </head><body><p>Hello</p><img src="file:///etc/passwd"><img src="https://evil.example/x.png">
      <img src="data:image/png;base64,iVBORw0KGgo="><img src="reports/aiss-mark.svg"></body></html>"""

    pdf = html_to_pdf(html)

    served = {r.pdf_url for r in fetch_log.records if getattr(r, "pdf_served", False)}
    refused = {r.pdf_url for r in fetch_log.records if getattr(r, "pdf_served", None) is False}
    assert served == {BASE_URL + "reports/sRGB2014.icc", BASE_URL + "reports/aiss-mark.svg"}
    assert refused == {
        "https://evil.example/x.css",
        "file:///etc/passwd",
        "http://evil.example/bg.png",
        "https://evil.example/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
    }
    assert pdftotext(pdf).strip() == "Hello"


# ---- render_pdf -------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_format_hkt_shows_hong_kong_time():
    assert format_hkt(datetime(2026, 11, 27, 7, 4, 59, tzinfo=UTC)) == "2026-11-27 15:04 HKT"


@pytest.mark.unit
def test_render_pdf_writes_pdfa_with_metadata_and_page_furniture(fetch_log):
    pdf = render_pdf(
        template="reports/base_document.html",
        context={},
        language="en",
        title="Test document",
        reference="AISS-2026-0042",
        version="3",
    )

    info = pdfinfo(pdf)
    assert info_value(info, "Title") == "Test document · AISS-2026-0042"
    assert info_value(info, "Author") == "AI Subsidy Scheme Secretariat"
    assert info_value(info, "Page size") == "595.276 x 841.89 pts (A4)"
    assert 'pdfaid:part="3" pdfaid:conformance="B"' in xmp(pdf)
    assert catalog(pdf)["/Lang"] == "en"
    intents = catalog(pdf)["/OutputIntents"]
    assert [(i["/S"], i["/OutputConditionIdentifier"]) for i in intents] == [
        ("/GTS_PDFA1", "IEC 61966-2-1 Default RGB Colour Space - sRGB")
    ]
    text = pdftotext(pdf)
    assert "AI Subsidy Scheme" in text
    assert "Test document · AISS-2026-0042" in text
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d HKT · Reference AISS-2026-0042 · Version 3", text)
    assert "Page 1 of 1" in text
    assert set(requested_urls(fetch_log)) == OUR_STATIC_FILES


@pytest.mark.unit
def test_render_pdf_keeps_document_for_itself():
    with pytest.raises(ValueError, match="'document' is reserved"):
        render_pdf(template="reports/base_document.html", context={"document": 1}, language="en", title="x")


@pytest.mark.unit
def test_render_pdf_rejects_unknown_language():
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        render_pdf(template="reports/base_document.html", context={}, language="fr", title="x")


@pytest.mark.unit
def test_render_pdf_stops_a_render_over_its_time_limit_and_leaves_the_process_as_it_was():
    rows = "".join(f"<tr><td>{i}</td><td>{'row ' * 40}</td></tr>" for i in range(3000))
    html = f'<html lang="en"><head><title>Long</title></head><body><table>{rows}</table></body></html>'
    html_to_pdf('<html lang="en"><body><p>Warm</p></body></html>')  # the render processes' server is running
    threads = sorted(t.name for t in threading.enumerate())

    started = time.monotonic()
    with pytest.raises(PdfTimeLimitExceeded, match=r"^the PDF took longer than 0.5 s and was stopped$"):
        html_to_pdf(html, time_limit=0.5)
    elapsed = time.monotonic() - started

    # The render ran in a child process, which was ended and reaped: nothing of it is left here, and the next
    # render runs as usual.
    assert elapsed < 5
    assert multiprocessing.active_children() == []
    assert sorted(t.name for t in threading.enumerate()) == threads
    assert pdftotext(html_to_pdf('<html lang="en"><body><p>Next</p></body></html>')).strip() == "Next"


@pytest.mark.unit
def test_render_pdf_with_a_tiny_time_limit_raises():
    with pytest.raises(PdfTimeLimitExceeded):
        render_pdf(template="reports/base_document.html", context={}, language="en", title="x", time_limit=0.001)


# ---- The receipt -------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_receipt_pdf_shows_the_exact_figures(version):
    pdf = receipt_pdf(version=version, language="en")

    text = pdftotext(pdf)
    attachments = list(version.attachments.all())
    assert "Submission receipt" in text
    assert "AISS-2026-0001" in text
    assert "AISS 2026 first call" in text
    assert "University of Kowloon" in text
    assert "Cantonese large language model" in text
    assert "粵語大型語言模型" in text
    assert "Chan Tai Man" in text
    assert "chan@example.hk" in text
    assert "2026-11-27 15:04 HKT" in text
    assert "200,000" in text
    assert "HK$5,000,000.00" in text
    assert "HK$3,500,000.00" in text
    assert SUBMISSION_SHA in text
    assert "technical-proposal.pdf" in text
    assert "budget.pdf" in text
    for attachment in attachments:
        assert attachment.sha256 in text
    assert "AISS-2026-0001-v2.json" in text
    assert "Reference AISS-2026-0001 · Version 2" in text
    assert info_value(pdfinfo(pdf), "Title") == "Submission receipt · AISS-2026-0001"


@pytest.mark.integration
def test_receipt_pdf_in_chinese_embeds_noto_sans_cjk_tc(version, tmp_path):
    pdf = receipt_pdf(version=version, language="zh-hant")

    assert "粵語大型語言模型" in pdftotext(pdf)
    fonts = pdffonts(pdf, tmp_path)
    assert {name for name, _embedded in fonts} == {"Noto-Sans-CJK-TC", "Noto-Sans-CJK-TC-Bold", "Noto-Sans-Mono-CJK-TC"}
    assert {embedded for _name, embedded in fonts} == {"yes"}
    assert catalog(pdf)["/Lang"] == "zh-Hant"


def assert_tagged_pdf_a(pdf: bytes, language: str) -> None:
    """Tagged for screen readers (a structure tree with headings and tables, every figure with its alternative text),
    PDF/A-3, in ``language``."""
    info = pdfinfo(pdf)
    assert info_value(info, "Tagged") == "yes"
    root = catalog(pdf)
    assert bool(root["/MarkInfo"]["/Marked"])
    tree = root["/StructTreeRoot"].get_object()
    kinds = set()
    figures = []  # each image's alternative text (a figure without one is read out as nothing, or as its file name)
    stack = [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "get_object"):
            node = node.get_object()
        if isinstance(node, dict):
            if "/S" in node:
                kinds.add(str(node["/S"]))
                if str(node["/S"]) == "/Figure":
                    figures.append(str(node.get("/Alt", "")))
            kids = node.get("/K")
            if kids is not None:
                stack.extend(kids if isinstance(kids, list) else [kids])
        elif isinstance(node, list):
            stack.extend(node)
    assert {"/H1", "/Table", "/TR", "/TH", "/TD", "/P"} <= kinds, kinds
    assert figures, "the scheme's logo is a tagged figure"
    assert all(figures), figures
    assert root["/Lang"] == language
    assert 'pdfaid:part="3"' in xmp(pdf) or "<pdfaid:part>3</pdfaid:part>" in xmp(pdf)


@pytest.mark.integration
@pytest.mark.parametrize(("language", "lang"), [("en", "en"), ("zh-hant", "zh-Hant")])
def test_receipt_pdf_is_tagged_pdf_a(version, tmp_path, language, lang):
    pdf = receipt_pdf(version=version, language=language)
    assert_tagged_pdf_a(pdf, lang)
    assert ("Noto-Sans-CJK-TC", "yes") in pdffonts(pdf, tmp_path)


@pytest.mark.integration
def test_receipt_pdf_prints_user_text_and_fetches_nothing_it_names(version, fetch_log):
    version.proposal.title = HOSTILE_TITLE
    version.proposal.organisation.name = "<link rel=stylesheet href=https://evil.example/a.css>"
    version.content["fields"]["title"] = HOSTILE_TITLE

    pdf = receipt_pdf(version=version, language="en")

    text = pdftotext(pdf)
    assert HOSTILE_TITLE in text
    assert "<link rel=stylesheet href=https://evil.example/a.css>" in text
    assert set(requested_urls(fetch_log)) == OUR_STATIC_FILES
