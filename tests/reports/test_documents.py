"""The approval report, decision letters and usage statements, read back with poppler and compared with the
database (the expected figures are queried here directly, not through the report's selector)."""

import re
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils.translation import gettext, override

from portal.allocations.models import Award, AwardHours
from portal.decisions.models import Decision
from portal.proposals.models import Proposal
from portal.reports.documents import (
    NoDecision,
    approval_report_pdf,
    decision_letter_pdf,
    usage_statement_pdf,
)
from portal.reports.pdf import BASE_URL
from portal.reports.selectors import approval_report_data
from tests.factories.allocations import usage
from tests.factories.reports import report_call
from tests.reports.test_pdf import assert_tagged_pdf_a, pdffonts, pdfinfo, pdftotext, xmp

pytestmark = pytest.mark.integration
OUR_FILES = {BASE_URL + f"reports/{name}" for name in ("print.css", "report.css", "aiss-mark.svg", "sRGB2014.icc")}


def hkd(value: Decimal) -> str:
    return f"HK${value:,.2f}"


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def english_and_chinese(db, caplog):
    """The approval report of a call in English (Chinese on demand), with the figures expected from the database
    and every URL the PDF module was asked for."""
    rc = report_call(10, seed=7)
    hostile = rc.proposals[0]
    Proposal.objects.filter(pk=hostile.pk).update(
        title='<img src="file:///etc/passwd"> <a href="https://evil.example/x">x</a> Cantonese LLM'
    )
    data = approval_report_data(call=rc.call)
    expected = {
        "applications": Proposal.objects.filter(call=rc.call, current_version__isnull=False).count(),
        "approved": Decision.objects.filter(proposal__call=rc.call, approved=True).count(),
        "rejected": Decision.objects.filter(proposal__call=rc.call, approved=False).count(),
        "subsidy": Award.objects.filter(run__call=rc.call, run__locked_at__isnull=False).aggregate(s=Sum("subsidy"))[
            "s"
        ],
        "hours": AwardHours.objects.filter(award__run__call=rc.call).aggregate(s=Sum("gpu_hours"))["s"],
        "awards": {
            a.proposal.reference: a.subsidy
            for a in Award.objects.filter(run__call=rc.call, share__gt=0).select_related("proposal")
        },
        "budget": rc.call.budget,
        "references": list(
            Proposal.objects.filter(call=rc.call).order_by("reference").values_list("reference", flat=True)
        ),
        "chair": rc.chair.full_name,
        "call_reference": rc.call.reference.upper(),
    }
    caplog.set_level("DEBUG", logger="portal.reports.pdf")
    english = approval_report_pdf(call=rc.call, language="en", data=data, version="3")
    return {
        "en": english,
        "zh": lambda: approval_report_pdf(call=rc.call, language="zh-hant", data=data, version="3"),
        "expected": expected,
        "records": list(caplog.records),
    }


def test_approval_report_figures_match_the_database(english_and_chinese):
    expected = english_and_chinese["expected"]
    text = pdftotext(english_and_chinese["en"], layout=True)
    flat = squash(text)
    assert f"Applications received {expected['applications']}" in flat
    assert f"Approved {expected['approved']}" in flat
    assert f"Not approved {expected['rejected']}" in flat
    assert f"Subsidy committed (locked awards) {hkd(expected['subsidy'])}" in flat
    assert f"Budget remaining {hkd(expected['budget'] - expected['subsidy'])}" in flat
    plain = squash(pdftotext(english_and_chinese["en"]))
    assert (
        "APPLICATIONS APPROVED GPU-HOURS AWARDED SUBSIDY COMMITTED "
        f"{expected['applications']} {expected['approved']} {expected['hours']:,.0f} {hkd(expected['subsidy'])}"
    ) in plain
    for reference in expected["references"]:
        assert reference in text
    lines = text.splitlines()
    for reference, subsidy in expected["awards"].items():
        # In the decisions and awards (section 4), the project's line carries its awarded subsidy.
        assert any(reference in line and line.rstrip().endswith(hkd(subsidy)) for line in lines), reference
    # Section 4 lists the approved proposals and counts the others, which the ranked list shows with their decision.
    assert f"The {expected['rejected']} proposals not approved are in the ranked list (section 3)" in flat
    assert expected["chair"] in text


def test_approval_report_has_header_footer_reference_version_and_pages(english_and_chinese):
    pdf = english_and_chinese["en"]
    info = pdfinfo(pdf)
    pages = int(info["Pages"].strip())
    text = pdftotext(pdf)
    reference = f"{english_and_chinese['expected']['call_reference']}-AR"
    assert info["Title"].strip() == f"Approval report · {reference}"
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert f"Reference {reference} · Version 3" in squash(text)
    assert re.search(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} HKT", text)
    assert 'pdfaid:part="3"' in xmp(pdf) or "<pdfaid:part>3</pdfaid:part>" in xmp(pdf)
    assert_tagged_pdf_a(pdf, "en")


def test_approval_report_in_chinese_extracts_and_embeds_the_tc_font(english_and_chinese, tmp_path):
    pdf = english_and_chinese["zh"]()
    text = pdftotext(pdf)
    with override("zh-hant"):
        assert gettext("Approval report") != "Approval report"
        assert gettext("Approval report") in text
        assert gettext("Applications received") in text
    assert "已批准" in text or "批准" in text
    assert "人工智能資助計劃 2026 年第一輪" in text
    fonts = pdffonts(pdf, tmp_path)
    assert ("Noto-Sans-CJK-TC", "yes") in fonts
    assert all("JP" not in name and "SC" not in name and "KR" not in name for name, _ in fonts)
    with override("zh-hant"):
        assert pdfinfo(pdf)["Title"].strip().startswith(gettext("Approval report"))
    assert gettext("Approval report") == "Approval report"  # the test itself runs in English


def test_approval_report_prints_user_content_as_text_and_fetches_nothing_else(english_and_chinese):
    text = squash(pdftotext(english_and_chinese["en"]))
    assert '<img src="file:///etc/passwd">' in text
    assert '<a href="https://evil.example/x">x</a> Cantonese LLM' in text
    urls = {r.pdf_url for r in english_and_chinese["records"] if hasattr(r, "pdf_url")}
    assert urls <= OUR_FILES
    assert not any(getattr(r, "pdf_served", True) is False for r in english_and_chinese["records"])


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 30])
def test_approval_report_data_runs_a_fixed_number_of_queries(
    size, django_assert_num_queries, django_assert_max_num_queries
):
    rc = report_call(size, seed=size)
    with django_assert_max_num_queries(29):  # the first time, the ranking figures are computed and stored too
        approval_report_data(call=rc.call)
    with django_assert_num_queries(11):
        data = approval_report_data(call=rc.call)
        data.fingerprint()
    assert len(data.rows) == size


@pytest.mark.django_db
def test_approval_report_fingerprint_changes_with_the_data(rc):
    before = approval_report_data(call=rc.call).fingerprint()
    assert approval_report_data(call=rc.call).fingerprint() == before
    Award.objects.filter(run=rc.run, share__gt=0).update(subsidy=Decimal("1.00"))
    assert approval_report_data(call=rc.call).fingerprint() != before


# ---- Decision letters and usage statements ----------------------------------------------------------------------


@pytest.mark.django_db
def test_decision_letter_approved_shows_hours_rate_subsidy_conditions_and_tranches(rc):
    proposal = rc.proposals[0]  # approved, funded, with conditions
    award = Award.objects.get(run=rc.run, proposal=proposal)
    cells = list(award.hours.select_related("quarter").order_by("quarter__starts_on"))
    text = squash(pdftotext(decision_letter_pdf(proposal=proposal, language="en")))
    assert "Your proposal has been approved." in text
    for cell in cells:
        assert f"AISC H800 {cell.quarter.code} {cell.gpu_hours:,.0f}" in text
    total = sum(c.gpu_hours for c in cells)
    assert f"Total {total:,.0f}" in text
    assert f"Subsidy rate 70% Subsidy amount {hkd(award.subsidy)}" in text
    assert "Quarterly progress reports to the Secretariat." in text
    assert f"1 50% {total / 2:,.0f} At the start" in text
    assert f"2 50% {total / 2:,.0f} After the first progress report is accepted" in text
    assert rc.chair.full_name in text


@pytest.mark.django_db
def test_decision_letter_not_approved_gives_anonymised_comments_and_feedback(rc):
    proposal = rc.proposals[6]  # not recommended, not approved, with the committee's feedback
    text = squash(pdftotext(decision_letter_pdf(proposal=proposal, language="en")))
    assert "We regret that your proposal has not been approved." in text
    assert "The committee asks for a clearer schedule for the use of compute." in text
    assert "Reviewer 1" in text
    assert "Reviewer 3" in text
    for reviewer in rc.reviewers:  # names are anonymised: the comment text mentions them only by the label
        assert f"{reviewer.email}" not in text
    assert "Confidential remark for the committee." not in text


@pytest.mark.django_db
def test_decision_letter_in_chinese_embeds_the_tc_font(rc, tmp_path):
    pdf = decision_letter_pdf(proposal=rc.proposals[0], language="zh-hant")
    text = pdftotext(pdf)
    with override("zh-hant"):
        assert gettext("Your proposal has been approved.") in text
        assert gettext("Decision letter") in text
    assert ("Noto-Sans-CJK-TC", "yes") in pdffonts(pdf, tmp_path)
    assert_tagged_pdf_a(pdf, "zh-Hant")
    # Labels made before rendering (tranche conditions, times) are in the letter's language too.
    assert "At the start" not in text
    assert " HKT" not in text
    assert "香港時間" in text


@pytest.mark.django_db
def test_decision_letter_without_a_decision_is_refused(submitted):
    with pytest.raises(NoDecision):
        decision_letter_pdf(proposal=submitted, language="en")


@pytest.mark.django_db
def test_usage_statement_shows_awarded_used_remaining(rc):
    proposal = rc.proposals[0]
    Proposal.objects.filter(pk=proposal.pk).update(account_code="aiss-test-0001")
    proposal.refresh_from_db()
    cells = list(AwardHours.objects.filter(award__proposal=proposal).select_related("quarter"))
    first = min(cells, key=lambda c: c.quarter.starts_on)
    usage(proposal, quarter=first.quarter.code, hours=1234)
    from datetime import date

    pdf = usage_statement_pdf(proposal=proposal, language="en", today=date(2026, 5, 1))
    assert_tagged_pdf_a(pdf, "en")
    text = squash(pdftotext(pdf))
    awarded = sum(c.gpu_hours for c in cells)
    assert f"AWARDED USED REMAINING RELEASED SO FAR {awarded:,.0f} 1,234 {awarded - 1234:,.0f}" in text.upper()
    assert f"{first.quarter.code} {first.gpu_hours:,.0f} 1,234 {first.gpu_hours - 1234:,.0f}" in text
    assert "No hours have been reclaimed from this project." in text


@pytest.mark.django_db
def test_approval_report_lists_an_award_whose_decision_changed_after_the_lock():
    """Section 4 lists the approved proposals, and an award whose decision is no longer an approval with what
    became of it, so that every awarded figure is in the report."""
    rc = report_call(6, seed=3)
    award = rc.run.awards.filter(share__gt=0).select_related("proposal").first()
    Decision.objects.filter(proposal=award.proposal).update(approved=False)
    text = squash(pdftotext(approval_report_pdf(call=rc.call, language="en")))
    awards = text[text.index("4. Decisions and awards") :]
    assert award.proposal.reference in awards
    assert "(Not approved)" in awards
