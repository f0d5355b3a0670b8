"""The pages of change requests, statements and finance: who may see and do what, forms that keep what was typed
and say what is wrong beside the field, finance figures worked by hand, and list pages at a fixed query count."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.accounts.enums import Role
from portal.projects.changes import change_request_submit, change_request_transition
from portal.projects.enums import ChangeRequestState
from portal.projects.models import ChangeRequest
from portal.projects.selectors import finance_rows
from portal.projects.services import billing_statement_issue
from tests.factories import MembershipFactory, UserFactory
from tests.factories.allocations import usage

D = Decimal
pytestmark = [pytest.mark.django_db, pytest.mark.integration]
JAN = timezone.make_aware(datetime(2026, 1, 10, 10))


@pytest.fixture
def idle(locked):
    proposal = locked["idle"]
    proposal.member = MembershipFactory(organisation=proposal.organisation).user
    usage(proposal, quarter="2026Q1", hours=5_000)
    return proposal


def a_change(proposal, hours=1_000):
    from portal.calls.models import Quarter

    return change_request_submit(
        proposal=proposal,
        kind="supplement",
        pool=proposal.call.pools.get(),
        quarter=Quarter.objects.get(code="2026Q4"),
        gpu_hours=hours,
        reason="More data",
        actor=proposal.member,
        now=JAN,
    )


def test_project_page_shows_versions_and_the_request_link_to_its_applicant(client, idle):
    client.force_login(idle.member)
    page = client.get(reverse("projects:project", args=[idle.pk])).content.decode()
    assert "Award versions" in page
    assert reverse("projects:change_request_create", args=[idle.pk]) in page
    client.force_login(UserFactory(role=Role.AUDITOR))
    page = client.get(reverse("projects:project", args=[idle.pk])).content.decode()
    assert "Award versions" in page
    assert reverse("projects:change_request_create", args=[idle.pk]) not in page


def test_change_form_keeps_input_and_ties_the_capacity_refusal_to_its_field(client, idle):
    client.force_login(idle.member)
    url = reverse("projects:change_request_create", args=[idle.pk])
    assert client.get(url).status_code == 200
    q4 = idle.call.quarters.get(code="2026Q4")
    reason = "Our <b>Cantonese</b> corpus doubled"
    response = client.post(
        url,
        {
            "kind": "supplement",
            "pool": idle.call.pools.get().pk,
            "quarter": q4.pk,
            "gpu_hours": "970001",
            "reason": reason,
        },
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors == {
        "gpu_hours": [
            "Capacity: AISC H800 in 2026Q4: 970,001 GPU-hours more would make 1,170,001, above the 1,170,000 that "
            "may be awarded."
        ]
    }
    page = response.content.decode()
    assert "Our &lt;b&gt;Cantonese&lt;/b&gt; corpus doubled" in page
    assert 'value="970001"' in page
    assert not ChangeRequest.objects.exists()
    response = client.post(url, {"kind": "extension", "quarter": q4.pk, "reason": reason})
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"pool", "gpu_hours", "to_quarter"}
    response = client.post(
        url,
        {"kind": "supplement", "pool": idle.call.pools.get().pk, "quarter": q4.pk, "gpu_hours": "-5", "reason": reason},
    )
    assert response.context["form"].errors["gpu_hours"] == ["Ensure this value is greater than or equal to 1."]
    response = client.post(
        url,
        {
            "kind": "supplement",
            "pool": idle.call.pools.get().pk,
            "quarter": q4.pk,
            "gpu_hours": "1000",
            "reason": reason,
        },
    )
    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("projects:change_request", args=[change.pk])
    assert (change.gpu_hours, change.reason, change.submitted_by) == (1000, reason, idle.member)


def test_change_form_refused_to_officials_and_hidden_from_other_organisations(client, idle, officer):
    url = reverse("projects:change_request_create", args=[idle.pk])
    client.force_login(officer)
    assert client.get(url).status_code == 403
    client.force_login(MembershipFactory().user)
    assert client.get(url).status_code == 404


def test_officials_act_on_the_change_request_page_four_eyes(client, idle, officer, chair):
    change = a_change(idle)
    url = reverse("projects:change_request", args=[change.pk])
    client.force_login(idle.member)
    assert client.post(url, {"action": "recommend"}).status_code == 403
    client.force_login(officer)
    page = client.get(url).content.decode()
    assert 'value="recommend"' in page
    assert 'value="approve"' not in page
    assert client.post(url, {"action": "recommend", "note": "Fits the plan."}).status_code == 302
    response = client.post(url, {"action": "approve"}, follow=True)
    assert (
        "You recommended this change: another official must approve it (four-eyes rule)." in response.content.decode()
    )
    response = client.post(url, {"action": "refuse", "note": ""})
    assert response.status_code == 422
    assert response.context["form"].errors == {"note": ["Give the reason."]}
    client.force_login(chair)
    assert client.post(url, {"action": "approve"}).status_code == 302
    change.refresh_from_db()
    assert (change.state, change.recommended_by, change.decided_by) == (ChangeRequestState.APPROVED, officer, chair)
    client.force_login(MembershipFactory().user)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("count", [1, 6])
def test_officials_list_of_change_requests_query_count(client, idle, officer, count, django_assert_max_num_queries):
    for _ in range(count):
        a_change(idle)
    client.force_login(officer)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("projects:change_requests"))
    assert response.status_code == 200
    assert len(response.context["changes"]) == count
    with django_assert_max_num_queries(9):
        response = client.get(reverse("projects:change_requests"), {"state": "all"})
    assert len(response.context["changes"]) == count
    client.force_login(idle.member)
    assert client.get(reverse("projects:change_requests")).status_code == 403


@pytest.mark.parametrize("count", [1, 4])
def test_project_changes_page_query_count(client, idle, officer, chair, count, django_assert_max_num_queries):
    for _ in range(count):
        change = a_change(idle)
        change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
        change_request_transition(request=change, action="approve", actor=chair, now=JAN)
    client.force_login(idle.member)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("projects:project_changes", args=[idle.pk]))
    assert response.status_code == 200
    assert len(response.context["change_section"].versions) == count + 1


def test_finance_figures_worked_by_hand(client, idle, call, django_assert_max_num_queries):
    # Two awards of 100,000 GPU-hours a quarter at HK$25.00 and 70%: HK$1,750,000.00 each, HK$3,500,000.00 a quarter.
    billing_statement_issue(proposal=idle, quarter="2026Q1", now=JAN)  # 5,000 used: subsidy 5,000 x 25 x 0.7
    usage(idle, quarter="2026Q1", hours=1_000)
    billing_statement_issue(proposal=idle, quarter="2026Q1", now=JAN)  # version 2: 6,000 used, HK$105,000.00
    rows = {(r.call.pk, r.quarter): r for r in finance_rows()}
    q1 = rows[(call.pk, "2026Q1")]
    assert (q1.approved, q1.billed, q1.remaining, q1.payable, q1.statements, q1.final) == (
        D("3500000.00"),
        D("105000.00"),
        D("3395000.00"),
        D("45000.00"),  # applicant's share: 6,000 x 25 x 0.3
        1,
        0,
    )
    q2 = rows[(call.pk, "2026Q2")]
    assert (q2.approved, q2.billed, q2.remaining) == (D("3500000.00"), D(0), D("3500000.00"))
    auditor = UserFactory(role=Role.AUDITOR)
    client.force_login(auditor)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("projects:finance")).content.decode()
    assert "HK$3,395,000.00" in page
    assert "HK$14,000,000.00" in page  # the call over its four quarters
    response = client.get(reverse("projects:finance_export", args=["csv"]))
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0][:5] == [
        "Call",
        "Quarter",
        "Subsidy approved (HK$)",
        "Subsidy billed (HK$)",
        "Subsidy remaining (HK$)",
    ]
    assert lines[1][1:6] == ["2026Q1", "3500000.00", "105000.00", "3395000.00", "45000.00"]
    response = client.get(reverse("projects:finance_export", args=["xlsx"]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get(reverse("projects:finance_export", args=["pdf"])).status_code == 404
    client.force_login(UserFactory(role=Role.COMMITTEE_MEMBER))
    assert client.get(reverse("projects:finance")).status_code == 403
    client.force_login(idle.member)
    assert client.get(reverse("projects:finance")).status_code == 403


def test_statements_listed_and_downloaded_by_the_organisation_and_officials(client, idle, officer):
    statement = billing_statement_issue(proposal=idle, quarter="2026Q1", now=JAN)
    client.force_login(idle.member)
    page = client.get(reverse("projects:statements", args=[idle.pk])).content.decode()
    assert reverse("projects:statement_download", args=[statement.pk, "pdf"]) in page
    response = client.get(reverse("projects:statement_download", args=[statement.pk, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "account",
        "pool",
        "quarter",
        "used_hours",
        "awarded_hours",
        "subsidised_hours",
        "overage_hours",
        "list_price",
        "rate",
        "cost",
        "subsidy",
        "applicant_share",
        "overage_charge",
        "total_payable",
    ]
    assert rows[1][:3] == [idle.account_code, "h800", "2026Q1"]
    assert rows[1][-5:] == ["125000.00", "87500.00", "37500.00", "0.00", "37500.00"]
    response = client.get(reverse("projects:statement_download", args=[statement.pk, "pdf"]))
    assert (response.status_code, response["Content-Type"], response.content[:4]) == (200, "application/pdf", b"%PDF")
    client.force_login(officer)
    assert client.get(reverse("projects:statement_download", args=[statement.pk, "csv"])).status_code == 200
    assert client.get(reverse("projects:statement_download", args=[statement.pk, "xml"])).status_code == 404
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("projects:statements", args=[idle.pk])).status_code == 404
    assert client.get(reverse("projects:statement_download", args=[statement.pk, "csv"])).status_code == 404


@pytest.mark.parametrize("quarters", [1, 3])
def test_statements_page_query_count(client, idle, quarters, django_assert_max_num_queries):
    for n in range(1, quarters + 1):
        usage(idle, quarter=f"2026Q{n}", hours=10)
        billing_statement_issue(proposal=idle, quarter=f"2026Q{n}", now=JAN)
    client.force_login(idle.member)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("projects:statements", args=[idle.pk]))
    assert len(response.context["history"]) == quarters


def test_pending_change_requests_wait_on_the_officials_work_page(client, idle, officer, chair):
    change = a_change(idle)
    client.force_login(officer)
    kinds = {k.key: k for k in client.get(reverse("decisions:work")).context["kinds"]}
    assert [i.url for i in kinds["changes_to_recommend"].items] == [
        reverse("projects:change_request", args=[change.pk])
    ]
    change_request_transition(request=change, action="recommend", actor=officer, now=JAN)
    kinds = {k.key: k for k in client.get(reverse("decisions:work")).context["kinds"]}
    assert (kinds["changes_to_recommend"].total, kinds["changes_to_approve"].total) == (0, 0)  # four-eyes
    client.force_login(chair)
    kinds = {k.key: k for k in client.get(reverse("decisions:work")).context["kinds"]}
    assert kinds["changes_to_approve"].total == 1


def test_pages_in_chinese(client, idle, officer, settings):
    change = a_change(idle)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    client.force_login(idle.member)
    page = client.get(reverse("projects:change_request_create", args=[idle.pk])).content.decode()
    assert "申請變更分配額" in page
    assert "延期：把未用時數移至較後的季度" in page
    response = client.post(
        reverse("projects:change_request_create", args=[idle.pk]),
        {"kind": "extension", "quarter": idle.call.quarters.get(code="2026Q4").pk, "reason": "數據延遲"},
    )
    assert response.context["form"].errors["to_quarter"] == ["請選擇時數移往的季度。"]
    client.force_login(officer)
    page = client.get(reverse("projects:change_request", args=[change.pk])).content.decode()
    assert "於 2026Q4 追加 AISC H800 的 1,000 GPU 小時" in page
    assert "建議批准" in page
    page = client.get(reverse("projects:finance")).content.decode()
    assert "財務：已批資助額、已開帳單及餘額" in page
