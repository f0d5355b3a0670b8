"""The approval report rendered in sections and joined into one PDF (pdf.render_pdf_in_sections, joining.py), read
back with poppler and pypdf: continuous page numbers, one outline with the chapters at their pages, every row in
order, one structure tree, PDF/A metadata, in English and Chinese. Tiny sections keep it fast."""

import io
import re
import subprocess

import pytest
from django.utils.translation import gettext, override
from pypdf import PdfReader

from portal.reports import joining
from portal.reports.documents import approval_report_pdf
from portal.reports.pdf import render_pdf
from portal.reports.selectors import approval_report_data
from tests.factories.reports import report_call
from tests.reports.test_pdf import assert_tagged_pdf_a, pdftotext, xmp

pytestmark = pytest.mark.integration
ROWS = 3  # rows of the long tables per section: ten proposals and their decisions make six sections
# The report factory's references carry the call's pk: more digits late in a long run on PostgreSQL.
REFERENCE = re.compile(r"AISS-\d+-\d{4}")


def page_texts(pdf: bytes) -> list[str]:
    return pdftotext(pdf).split("\f")[:-1]


def outline(pdf: bytes) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every outline entry, in order."""
    reader = PdfReader(io.BytesIO(pdf))
    entries = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                entries.append((depth, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return entries


@pytest.fixture(scope="module", params=["en", "zh-hant"])
def report(request, django_db_blocker, django_db_setup):
    """The approval report of ten proposals in sections of three rows, with the data it shows."""
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            rc = report_call(10, seed=5)
            data = approval_report_data(call=rc.call)
            pdf = approval_report_pdf(call=rc.call, language=request.param, data=data, version="2", section_rows=ROWS)
            transaction.set_rollback(True)
    return {"pdf": pdf, "data": data, "language": request.param}


def test_sections_have_continuous_page_numbers(report):
    pages = page_texts(report["pdf"])
    assert len(pages) > 8  # the front matter, four sections of the ranked list, two or more of the awards, approval
    with override(report["language"]):
        for number, text in enumerate(pages, start=1):
            label = gettext("Page %(page)s of %(pages)s") % {"page": number, "pages": len(pages)}
            assert label in text, (number, text[-200:])


def test_sections_keep_every_row_in_order(report):
    data = report["data"]
    ranked = [row.proposal.reference for row in data.rows]
    awarded = [row.proposal.reference for row in data.rows if row.approved or row.award]
    assert len(ranked) == 10
    assert len(awarded) > ROWS  # the awards too span sections
    assert any(row.approved is False for row in data.rows)  # not approved: in the ranked list only
    assert REFERENCE.findall(pdftotext(report["pdf"])) == ranked + awarded


def test_sections_make_one_outline_with_the_chapters_at_their_pages(report):
    pdf = report["pdf"]
    pages = page_texts(pdf)
    entries = outline(pdf)
    with override(report["language"]):
        chapters = [
            gettext("Summary figures"),
            gettext("Compute capacity and awards per pool"),
            gettext("Ranked list of proposals"),
            gettext("Decisions and awards"),
            gettext("Approval"),
        ]
        assert entries[0] == (0, gettext("Approval report"), 0)
        assert entries[1] == (1, gettext("Contents"), 0)
    titles = [f"{number}. {chapter}" for number, chapter in enumerate(chapters, start=1)]
    assert [(depth, title) for depth, title, _page in entries if depth == 1][1:] == [(1, t) for t in titles]
    where = {title: page for _depth, title, page in entries}
    # Each chapter starts on the first page (after the cover) that shows its title.
    for title in titles:
        first = next(i for i, text in enumerate(pages) if i > 0 and title in text)
        assert where[title] == first, title
    assert where[titles[2]] < where[titles[3]] < where[titles[4]] == len(pages) - 1
    pools = [page for depth, _title, page in entries if depth == 2]
    assert pools
    assert all(where[titles[1]] <= page < where[titles[2]] for page in pools)


def test_sections_make_one_tagged_pdf_a(report):
    pdf = report["pdf"]
    language = "zh-Hant" if report["language"] == "zh-hant" else "en"
    assert_tagged_pdf_a(pdf, language)
    assert 'pdfaid:part="3" pdfaid:conformance="B"' in xmp(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    assert [(i["/S"], i["/OutputConditionIdentifier"]) for i in root["/OutputIntents"]] == [
        ("/GTS_PDFA1", "IEC 61966-2-1 Default RGB Colour Space - sRGB")
    ]
    tree = root["/StructTreeRoot"].get_object()
    nums = tree["/ParentTree"].get_object()["/Nums"]
    keys = list(nums[::2])
    assert keys == list(range(len(reader.pages)))
    assert tree["/ParentTreeNextKey"] == len(reader.pages)
    assert [page["/StructParents"] for page in reader.pages] == keys
    (document,) = tree["/K"]
    assert document.get_object()["/S"] == "/Document"
    for page, marked in zip(reader.pages, nums[1::2], strict=True):
        # Every marked content of a page maps to an element on that page.
        assert marked
        assert {element.get_object().raw_get("/Pg").idnum for element in marked} == {page.indirect_reference.idnum}
    with override(report["language"]):
        assert reader.metadata.title.startswith(gettext("Approval report"))


def test_sections_embed_their_font_subsets_under_names_of_their_own(report, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(report["pdf"])
    rows = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout.splitlines()[2:]
    names = [row.split()[0] for row in rows]
    assert len(names) > 3  # each section embeds its own subsets
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Z]{6}\+Noto-Sans-(Mono-)?CJK-TC(-Bold)?", name) for name in names), names
    assert all(" yes " in row for row in rows)


@pytest.mark.unit
def test_join_refuses_a_pdf_with_object_streams():
    pdf = render_pdf(template="reports/base_document.html", context={}, language="en", title="x")
    with pytest.raises(joining.JoinError, match="classic cross-reference table"):
        joining.page_sizes(pdf)


@pytest.mark.django_db
def test_approval_report_refuses_sections_of_no_rows():
    rc = report_call(2, seed=3)
    with pytest.raises(ValueError, match="section_rows must be at least 1"):
        approval_report_pdf(call=rc.call, language="en", section_rows=0)
