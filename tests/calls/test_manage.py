"""The secretariat sets up and changes a call in the portal, without the Django admin; every change audited, and
what applicants submitted against cannot change once there are submissions."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.accounts.enums import Role
from portal.allocations.models import CallAllocationSettings
from portal.audit.models import AuditEvent
from portal.calls.models import Call, PoolCapacity, ResourcePool
from portal.reviews.models import CallReviewSettings
from tests.calls.forms_data import call_page_data
from tests.factories import CallFactory, ResourcePoolFactory, SchemeFactory, UserFactory, open_call
from tests.factories.reviews import submitted_proposal

pytestmark = pytest.mark.django_db
HKT = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture
def officer():
    return UserFactory(role=Role.SECRETARIAT, email="officer@example.hk")


def new_call_data(**changes) -> dict:
    SchemeFactory()
    pool = ResourcePoolFactory()
    data = call_page_data()
    data.update(
        {
            "call-reference": "aiss-2027-b1",
            "call-title": "AISS 2027 Batch 1",
            "call-title_zh": "人工智能資助計劃 2027 第一批",
            "call-guidance": "Read the whole call.",
            "call-guidance_zh": "請細閱整份徵集文件。",
            "call-opens_at": "2099-01-05T09:00",
            "call-closes_at": "2099-03-31T17:00",
            "call-budget": "300000000.00",
            "call-subsidy_rate": "0.700",
            "call-max_subsidy_rate": "0.900",
            "call-org_cap": "0.250",
            "call-quarters_text": "2099Q2, 2099Q3",
            "call-reviewers_per_proposal": "3",
            "call-min_reviewers": "2",
            "call-pass_mean": "3.00",
            "review-review_deadline": "2099-04-30T17:00",
            "review-response_days": "10",
            "allocation-tiers": "4.0, 3.0",
            "allocation-first_tranche_share": "0.500",
            "allocation-first_report_after_months": "3",
            "allocation-report_every_months": "6",
            "allocation-final_report_within_days": "30",
            "pools-TOTAL_FORMS": "2",
            "pools-0-pool": str(pool.pk),
            "pools-0-list_price": "25.00",
            "pools-0-held_back_share": "0.100",
            "pools-1-code": "a100",
            "pools-1-name": "AISC A100",
            "pools-1-name_zh": "超算中心 A100",
            "pools-1-gpu_type": "NVIDIA A100",
            "pools-1-list_price": "18.50",
            "pools-1-held_back_share": "0.050",
            "capacities-TOTAL_FORMS": "3",
            "capacities-0-pool": "h800",
            "capacities-0-quarter": "2099Q2",
            "capacities-0-gpu_hours": "1300000",
            "capacities-1-pool": "h800",
            "capacities-1-quarter": "2099Q3",
            "capacities-1-gpu_hours": "1200000",
            "capacities-2-pool": "a100",
            "capacities-2-quarter": "2099Q2",
            "capacities-2-gpu_hours": "400000",
            "criteria-TOTAL_FORMS": "2",
            "criteria-0-number": "1",
            "criteria-0-name": "Scientific merit",
            "criteria-0-name_zh": "科學價值",
            "criteria-0-weight": "60",
            "criteria-0-min_to_pass": "3",
            "criteria-1-number": "2",
            "criteria-1-name": "Reasonableness of the compute request",
            "criteria-1-name_zh": "算力申請是否合理",
            "criteria-1-weight": "40",
            "screening-TOTAL_FORMS": "1",
            "screening-0-number": "1",
            "screening-0-kind": "documents",
            "screening-0-text": "The technical proposal is attached",
            "screening-0-text_zh": "已附技術建議書",
            "screening-0-required_documents": ["technical"],
            "checkpoints-TOTAL_FORMS": "1",
            "checkpoints-0-number": "1",
            "checkpoints-0-due_on": "2099-08-15",
            "checkpoints-0-threshold": "0.100",
            "checkpoints-0-reclaim_share": "0.250",
        }
    )
    data.update(changes)
    return data


def test_secretariat_creates_a_call_with_its_whole_set_up(client, officer):
    client.force_login(officer)
    response = client.post(reverse("calls:manage_create"), new_call_data())
    assert response.status_code == 302, _errors(response)
    call = Call.objects.get(reference="aiss-2027-b1")
    assert response.url == reverse("calls:manage_edit", args=["aiss-2027-b1"])
    assert call.title_zh == "人工智能資助計劃 2027 第一批"
    assert timezone.localtime(call.opens_at, HKT) == datetime(2099, 1, 5, 9, 0, tzinfo=HKT)
    assert [q.code for q in call.quarters.order_by("starts_on")] == ["2099Q2", "2099Q3"]
    assert sorted(call.pools.values_list("code", flat=True)) == ["a100", "h800"]
    assert ResourcePool.objects.get(code="a100").held_back_share == Decimal("0.050")
    assert PoolCapacity.objects.get(pool__code="h800", quarter__code="2099Q3").gpu_hours == 1_200_000
    assert [(c.name_zh, c.weight, c.min_to_pass) for c in call.criteria.order_by("number")] == [
        ("科學價值", Decimal("60.00"), 3),
        ("算力申請是否合理", Decimal("40.00"), None),
    ]
    item = call.screening_items.get()
    assert (item.text_zh, item.required_documents) == ("已附技術建議書", ["technical"])
    review = CallReviewSettings.objects.get(call=call)
    assert (review.response_days, timezone.localtime(review.review_deadline, HKT).hour) == (10, 17)
    allocation = CallAllocationSettings.objects.get(call=call)
    assert (allocation.tiers, allocation.report_every_months) == (["4.0", "3.0"], 6)
    assert call.clawback_checkpoints.get().reclaim_share == Decimal("0.250")
    created = AuditEvent.objects.filter(action="config.create", object_type="calls.call").get()
    assert created.actor == officer
    assert created.after["budget"] == "300000000.00"
    assert sorted(row["name"] for row in created.after["criteria"].values()) == [
        "Reasonableness of the compute request",
        "Scientific merit",
    ]
    assert AuditEvent.objects.filter(action="config.create", object_type="calls.resourcepool").count() == 1


def test_weights_must_add_up_to_100(client, officer):
    client.force_login(officer)
    response = client.post(reverse("calls:manage_create"), new_call_data(**{"criteria-1-weight": "30"}))
    assert response.status_code == 400, _errors(response)
    assert "The rubric&#x27;s weights add up to 90%; they must add up to 100%." in response.content.decode(), _errors(
        response
    )
    assert not Call.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="config.").exists()


def test_a_change_is_audited_with_before_and_after(client, officer):
    call = open_call(reference="aiss-2099-x")
    client.force_login(officer)
    url = reverse("calls:manage_edit", args=[call.reference])
    data = call_page_data(call, **{"call-budget": "250000000.00", "call-reason": "Budget cut by the Bureau"})
    response = client.post(url, data)
    assert response.status_code == 302, _errors(response)
    call.refresh_from_db()
    assert call.budget == Decimal("250000000.00")
    event = AuditEvent.objects.get(action="config.change", object_type="calls.call")
    assert (event.before, event.after, event.reason) == (
        {"budget": "300000000.00"},
        {"budget": "250000000.00"},
        "Budget cut by the Bureau",
    )


def test_with_submissions_the_rubric_cannot_change(client, officer):
    call = open_call(reference="aiss-2099-y")
    submitted_proposal(call)
    client.force_login(officer)
    before = AuditEvent.objects.count()
    data = call_page_data(call, **{"criteria-0-weight": "30", "criteria-1-weight": "15"})
    response = client.post(reverse("calls:manage_edit", args=[call.reference]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This call has submissions, so the change was not saved: the rubric and its pass mark cannot change" in html
    assert call.criteria.get(number=1).weight == Decimal("25.00")
    assert AuditEvent.objects.count() == before


def test_with_submissions_a_passed_date_cannot_change_but_the_budget_can(client, officer):
    call = open_call(reference="aiss-2099-z")
    submitted_proposal(call)
    client.force_login(officer)
    url = reverse("calls:manage_edit", args=[call.reference])
    earlier = timezone.localtime(call.opens_at - timedelta(days=2), HKT).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, call_page_data(call, **{"call-opens_at": earlier}))
    assert response.status_code == 400
    assert "the opening time has passed" in response.content.decode()
    response = client.post(url, call_page_data(call, **{"call-budget": "310000000.00"}))
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.budget == Decimal("310000000.00")


def test_others_may_not_set_up_calls(client):
    call = open_call(reference="aiss-2099-w")
    client.force_login(UserFactory(role=Role.COMMITTEE_CHAIR))
    assert client.get(reverse("calls:manage_list")).status_code == 403
    assert client.post(reverse("calls:manage_edit", args=[call.reference]), {}).status_code == 403
    client.logout()
    assert client.get(reverse("calls:manage_create")).status_code == 302


def test_the_edit_page_shows_the_set_up(client, officer):
    call = open_call(reference="aiss-2099-v", title_zh="測試徵集")
    client.force_login(officer)
    html = client.get(reverse("calls:manage_edit", args=[call.reference])).content.decode()
    assert 'value="測試徵集"' in html
    assert "Reasonableness of the compute request" in html
    assert 'value="2026Q1, 2026Q2, 2026Q3, 2026Q4"' in html


@pytest.mark.parametrize("count", [2, 12])
def test_call_list_query_count(client, officer, django_assert_max_num_queries, count):
    for i in range(count):
        call = CallFactory(reference=f"aiss-q-{i}")
        if i == 0:
            submitted_proposal(call)
    client.force_login(officer)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("calls:manage_list"))
    assert response.status_code == 200
    assert response.content.decode().count("/calls/manage/aiss-q-") == count


def test_admin_sends_the_secretariat_to_the_portal_pages(client, officer):
    officer.is_staff = True
    officer.save()
    client.force_login(officer)
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("calls:manage_list")
    assert "The Django admin is for superusers: calls are set up on these pages." in response.content.decode()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:calls_call_changelist")).status_code == 200


def _errors(response) -> str:
    forms = response.context["forms"]
    found = [f.errors for f in forms.forms] + [(fs.prefix, fs.errors, fs.non_form_errors()) for fs in forms.formsets]
    return repr(found)


def test_call_lists_count_each_calls_own_rows():
    """The secretariat's list of calls and the allocation index count per call by subquery: each call its own."""
    from portal.allocations.selectors import calls_with_allocations
    from portal.calls.selectors import calls_for_secretariat
    from portal.proposals.enums import ProposalState
    from tests.factories import ProposalFactory

    busy, quiet = open_call(reference="AISS-2099-03"), open_call(reference="AISS-2099-04")
    for _ in range(3):
        submitted_proposal(busy)
    submitted_proposal(quiet)
    ProposalFactory(call=busy)  # a draft: not submitted
    ProposalFactory(call=busy, state=ProposalState.APPROVED)
    ProposalFactory(call=busy, state=ProposalState.RECOMMENDED)

    submitted = {c.reference: c.submitted for c in calls_for_secretariat()}
    allocatable = {c.reference: (c.allocatable, c.runs) for c in calls_with_allocations()}

    assert (submitted["AISS-2099-03"], submitted["AISS-2099-04"]) == (3, 1)
    assert allocatable == {"AISS-2099-03": (2, 0)}
