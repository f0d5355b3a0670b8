"""Billing statements (issue 11 point 4; domain brief §10), worked by hand from tests/data/sacct-sample.txt."""

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from portal.audit.models import AuditEvent
from portal.projects.billing import CSV_COLUMNS, LineInput, billing_line, billing_lines, parse_quarter, totals
from portal.projects.documents import billing_statement_pdf
from portal.projects.models import BillingStatement
from portal.projects.services import billing_statement_issue
from tests.factories.allocations import usage
from tests.reports.test_pdf import assert_tagged_pdf_a, pdftotext

from .conftest import locked_project

SAMPLE = Path(settings.BASE_DIR) / "tests" / "data" / "sacct-sample.txt"
HEADER = ",".join(CSV_COLUMNS)
D = Decimal


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# ---- The calculation alone --------------------------------------------------------------------------------------


@pytest.mark.unit
def test_line_rounds_half_up_per_line_not_to_even():
    # 17.5 h x HK$25.00 = 437.50; x 0.702 = 307.125 → 307.13 half-up (half-even would give 307.12).
    line = billing_line(account="a", line=LineInput("h800", "2026Q1", D("17.5"), D("1000"), D("25.00"), D("0.702")))
    assert (line.cost, line.subsidy, line.applicant_share, line.overage_charge, line.total_payable) == (
        D("437.50"),
        D("307.13"),
        D("130.37"),
        D("0.00"),
        D("130.37"),
    )


@pytest.mark.unit
def test_line_overage_at_full_list_price():
    line = billing_line(account="a", line=LineInput("h800", "2026Q1", D("640"), D("500"), D("25.00"), D("0.7")))
    assert (line.subsidised_hours, line.overage_hours) == (D("500.00"), D("140.00"))
    assert (line.cost, line.subsidy, line.applicant_share, line.overage_charge, line.total_payable) == (
        D("12500.00"),
        D("8750.00"),
        D("3750.00"),
        D("3500.00"),
        D("7250.00"),
    )


@pytest.mark.unit
def test_lines_never_pay_more_subsidy_than_approved():
    inputs = [
        LineInput("h800", "2026Q2", D("100"), D("100"), D("25.00"), D("0.7")),  # would be 1,750.00
        LineInput("h800", "2026Q1", D("100"), D("100"), D("25.00"), D("0.7")),  # would be 1,750.00
    ]
    lines = billing_lines(account="a", inputs=inputs, approved_subsidy=D("3000.00"))
    assert [(line.quarter, line.subsidy, line.applicant_share, line.capped) for line in lines] == [
        ("2026Q1", D("1750.00"), D("750.00"), False),
        ("2026Q2", D("1250.00"), D("1250.00"), True),
    ]
    assert totals(lines).subsidy == D("3000.00")


@pytest.mark.unit
def test_totals_are_sums_of_rounded_lines():
    # Each line's subsidy is 0.005 → 0.01 half-up; the sum of the lines is 0.02, not round(0.01) = 0.01.
    inputs = [
        LineInput("a100", "2026Q1", D("0.01"), D("1"), D("1.00"), D("0.5")),
        LineInput("h800", "2026Q1", D("0.01"), D("1"), D("1.00"), D("0.5")),
    ]
    lines = billing_lines(account="a", inputs=inputs)
    assert [line.subsidy for line in lines] == [D("0.01"), D("0.01")]
    assert totals(lines).subsidy == D("0.02")


@pytest.mark.unit
@pytest.mark.parametrize("code", ["2026Q5", "2026-Q1", "26Q1", "", "2026q1"])
def test_parse_quarter_refuses_what_is_not_a_quarter(code):
    with pytest.raises(ValueError, match="not a quarter"):
        parse_quarter(code)


@pytest.mark.unit
def test_quarter_span_and_final_date():
    span = parse_quarter("2026Q4")
    assert (span.starts_on.isoformat(), span.ends_on.isoformat(), span.final_on.isoformat()) == (
        "2026-10-01",
        "2026-12-31",
        "2027-01-30",
    )
    assert parse_quarter("2026Q1").ends_on.isoformat() == "2026-03-31"


# ---- From the Slurm sample to the statement ----------------------------------------------------------------------


@pytest.fixture
def sample_projects(call):
    """aiss-0007: 500 GPU-hours awarded in 2026Q1 at 70%; aiss-0012: 1,000 at 70.2%; then the sample imported
    (640.0 GPU-hours for aiss-0007, 17.5 for aiss-0012, all in January 2026)."""
    projects = {
        "aiss-0007": locked_project(call, account="aiss-0007", hours={("h800", "2026Q1"): 500}),
        "aiss-0012": locked_project(call, account="aiss-0012", hours={("h800", "2026Q1"): 1000}, rate="0.702"),
    }
    call_command("import_usage", str(SAMPLE), stdout=io.StringIO())
    return projects


def statement(account: str, *options: str) -> str:
    out = io.StringIO()
    call_command("billing_statement", account, *options, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_billing_csv_worked_by_hand_from_the_sample(sample_projects):
    # aiss-0007: job 4101, 64 GPUs x 36,000 s = 640.00 GPU-hours (its .batch/.extern/.0 lines and the CPU job
    # 4104 add nothing). Subsidised min(640, 500) = 500.00, overage 140.00; cost 500 x 25.00 = 12,500.00;
    # subsidy x 0.700 = 8,750.00; applicant's share 3,750.00; overage 140 x 25.00 = 3,500.00; payable 7,250.00.
    assert statement("aiss-0007", "--quarter", "2026Q1") == (
        f"{HEADER}\naiss-0007,h800,2026Q1,640.00,500.00,500.00,140.00,25.00,0.700,"
        "12500.00,8750.00,3750.00,3500.00,7250.00\n"
    )
    # aiss-0012: jobs 4102 (8 GPUs x 7,200 s = 16.00) and 4103 (1 x 5,400 s = 1.50) = 17.50 GPU-hours, all within
    # the award. Cost 17.5 x 25.00 = 437.50; subsidy x 0.702 = 307.125 → 307.13 (half-up); share 130.37.
    assert statement("aiss-0012", "--quarter", "2026Q1", "--format", "csv") == (
        f"{HEADER}\naiss-0012,h800,2026Q1,17.50,1000.00,17.50,0.00,25.00,0.702,437.50,307.13,130.37,0.00,130.37\n"
    )
    issued = BillingStatement.objects.get(account="aiss-0012")
    assert (issued.version, issued.final, issued.total_payable, issued.subsidy) == (1, True, D("130.37"), D("307.13"))
    event = AuditEvent.objects.get(action="billing.statement_issue", object_id=str(issued.pk))
    assert event.after["total_payable"] == "130.37"


@pytest.mark.django_db
def test_quarter_without_usage_bills_nothing(call):
    locked_project(call, account="aiss-0100", hours={("h800", "2026Q2"): 300})
    assert statement("aiss-0100", "--quarter", "2026Q2") == (
        f"{HEADER}\naiss-0100,h800,2026Q2,0.00,300.00,0.00,0.00,25.00,0.700,0.00,0.00,0.00,0.00,0.00\n"
    )
    assert statement("aiss-0100", "--quarter", "2026Q1") == f"{HEADER}\n"


@pytest.mark.django_db
def test_statement_is_versioned_while_usage_can_change_then_final(call):
    project = locked_project(call, account="aiss-0200", hours={("h800", "2026Q1"): 100})
    usage(project, quarter="2026Q1", hours=40, job_id="9001")
    april = datetime(2026, 4, 10, 2, tzinfo=UTC)

    first = billing_statement_issue(proposal=project, quarter="2026Q1", now=april)
    again = billing_statement_issue(proposal=project, quarter="2026Q1", now=april)
    usage(project, quarter="2026Q1", hours=20, job_id="9002")
    second = billing_statement_issue(proposal=project, quarter="2026Q1", now=april)
    # 2026-04-30 00:00 in Hong Kong is 30 days after the quarter ended: final.
    final = billing_statement_issue(proposal=project, quarter="2026Q1", now=datetime(2026, 4, 29, 16, tzinfo=UTC))
    usage(project, quarter="2026Q1", hours=20, job_id="9003")
    after = billing_statement_issue(proposal=project, quarter="2026Q1", now=datetime(2026, 6, 1, tzinfo=UTC))

    assert (first.version, first.final, first.cost) == (1, False, D("1000.00"))
    assert again.pk == first.pk
    assert (second.version, second.final, second.cost) == (2, False, D("1500.00"))
    assert (final.version, final.final, final.cost) == (3, True, D("1500.00"))
    assert after.pk == final.pk
    assert AuditEvent.objects.filter(action="billing.statement_issue").count() == 3


@pytest.mark.django_db
def test_hours_in_a_pool_without_award_are_overage(call):
    from tests.factories import ResourcePoolFactory

    ResourcePoolFactory(code="a100", name="AISC A100", list_price=D("12.50"))
    project = locked_project(call, account="aiss-0300", hours={("h800", "2026Q1"): 100})
    usage(project, quarter="2026Q1", hours=10, partition="a100")
    usage(project, quarter="2026Q1", hours=5, partition="login")  # no pool: not billed
    assert statement("aiss-0300", "--quarter", "2026Q1").splitlines()[1:] == [
        "aiss-0300,a100,2026Q1,10.00,0.00,0.00,10.00,12.50,0.700,0.00,0.00,0.00,125.00,125.00",
        "aiss-0300,h800,2026Q1,0.00,100.00,0.00,0.00,25.00,0.700,0.00,0.00,0.00,0.00,0.00",
    ]


@pytest.mark.django_db
def test_command_writes_pdf_in_both_languages(sample_projects, tmp_path):
    english, chinese = tmp_path / "en.pdf", tmp_path / "zh.pdf"
    out = statement("aiss-0007", "--quarter", "2026Q1", "--format", "pdf", "--output", str(english))
    statement("aiss-0007", "--quarter", "2026Q1", "--format", "pdf", "--lang", "zh-hant", "--output", str(chinese))

    assert (
        out
        == f"{english}: billing statement {sample_projects['aiss-0007'].reference}-BS-2026Q1 version 1 (final), total payable 7250.00\n"
    )
    en = squash(pdftotext(english.read_bytes()))
    assert "Billing statement" in en
    assert "HK$12,500.00 HK$8,750.00 HK$3,500.00 HK$7,250.00" in en
    assert "Used (GPU-hours) 640 Awarded (GPU-hours) 500 Subsidised (GPU-hours) 500 Overage (GPU-hours) 140" in en
    assert re.search(r"List price per GPU-hour (Subsidy rate )?HK\$25\.00 (Subsidy rate )?70\.0%", en)
    assert (
        "Cost of subsidised hours HK$12,500.00 Subsidy HK$8,750.00 Applicant's share HK$3,750.00 "
        "Overage charge HK$3,500.00 Total payable HK$7,250.00"
    ) in en
    zh = squash(pdftotext(chinese.read_bytes()))
    assert "帳單" in zh
    assert "應付總額 HK$7,250.00" in zh
    assert "HK$7,250.00" in zh
    assert_tagged_pdf_a(chinese.read_bytes(), "zh-Hant")
    assert BillingStatement.objects.filter(account="aiss-0007").count() == 1


@pytest.mark.django_db
def test_pdf_escapes_what_applicants_typed(call):
    from portal.proposals.models import Proposal

    project = locked_project(call, account="aiss-0400", hours={("h800", "2026Q1"): 10})
    Proposal.objects.filter(pk=project.pk).update(title='<img src="file:///etc/passwd"> Typhoon model')
    project.refresh_from_db()
    issued = billing_statement_issue(proposal=project, quarter="2026Q1")
    text = squash(pdftotext(billing_statement_pdf(statement=issued, language="en")))
    assert '<img src="file:///etc/passwd"> Typhoon model' in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["aiss-0007", "--quarter", "2026Q5"], "--quarter must look like 2026Q1, not '2026Q5'"),
        (["aiss-9999", "--quarter", "2026Q1"], "unknown account: aiss-9999"),
        (["aiss-0500", "--quarter", "2026Q1"], "aiss-0500 has no locked award to bill"),
        (["aiss-0007", "--quarter", "2026Q1", "--format", "xlsx"], "argument --format: invalid choice: 'xlsx'"),
        (
            ["aiss-0007", "--quarter", "2026Q1", "--output", "/nonexistent/dir/x.csv"],
            "cannot write /nonexistent/dir/x.csv",
        ),
    ],
)
def test_command_refuses_bad_arguments_in_one_line(sample_projects, call, args, message):
    from portal.proposals.models import Proposal
    from tests.factories.allocations import allocatable_proposal

    Proposal.objects.filter(pk=allocatable_proposal(call).pk).update(account_code="aiss-0500")
    with pytest.raises(CommandError) as raised:
        call_command("billing_statement", *args, stdout=io.StringIO())
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
