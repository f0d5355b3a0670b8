"""The public pages of calls: reachable without logging in, in both languages."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import CallFactory, open_call
from tests.factories.calls import CallQuestionFactory

pytestmark = pytest.mark.django_db
HKT = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture
def call():
    call = open_call(
        reference="aiss-2027-b1",
        title="AISS 2027 Batch 1",
        title_zh="人工智能資助計劃 2027 第一批",
        closes_at=datetime(2099, 11, 27, 17, 0, tzinfo=HKT),
        eligible_org_types=["university", "enterprise"],
        guidance="Read the whole call before you start.",
        guidance_zh="開始前請細閱整份徵集文件。",
        contact_email="aiss@example.hk",
        contact_phone="+852 2123 4567",
        max_subsidy_per_proposal=Decimal("50000000.00"),
    )
    criterion = call.criteria.get(number=1)
    criterion.name_zh = "配合香港創新科技發展需要"
    criterion.save()
    pool = call.pools.get()
    pool.name_zh = "人工智能超算中心 H800"
    pool.save()
    CallQuestionFactory(
        call=call, question="May a company apply?", question_zh="公司可以申請嗎？", answer="Yes.", answer_zh="可以。"
    )
    return call


def _zh(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    return client


def test_home_lists_open_and_upcoming_calls_but_not_closed_ones(client, call):
    upcoming = CallFactory(
        title="AISS 2028 Batch 1",
        opens_at=timezone.now() + timedelta(days=40),
        closes_at=timezone.now() + timedelta(days=90),
    )
    closed = CallFactory(
        title="AISS 2025 Batch 1",
        opens_at=timezone.now() - timedelta(days=90),
        closes_at=timezone.now() - timedelta(days=40),
    )
    html = client.get(reverse("core:home")).content.decode()
    assert 'href="/calls/aiss-2027-b1/"' in html
    assert '<time datetime="2099-11-27T17:00:00+08:00">2099-11-27 17:00 HKT</time>' in html
    assert upcoming.title in html
    assert closed.title not in html
    assert "HK$25.00 per GPU-hour" in html


def test_call_page_tells_an_applicant_everything_without_logging_in(client, call):
    response = client.get(reverse("calls:detail", args=[call.reference]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "2099-11-27 17:00 HKT" in html
    assert "University" in html
    assert "Enterprise" in html
    assert "Government department" not in html
    assert "AISC H800" in html
    assert "HK$25.00" in html
    assert "HK$7.50" in html  # 30% of the list price
    assert "70% of the list price" in html
    assert "at most 90%" in html
    assert "HK$50,000,000.00" in html
    assert "Alignment with Hong Kong&#x27;s innovation-and-technology" in html
    assert "25%" in html
    assert "5 = Excellent" in html
    assert "0 = Not adequate" in html
    assert "Read the whole call before you start." in html
    assert "May a company apply?" in html
    assert 'href="mailto:aiss@example.hk"' in html
    assert 'href="tel:+85221234567"' in html
    assert "Create an account to apply" in html


def test_call_page_in_chinese_shows_the_chinese_versions(client, call):
    html = _zh(client).get(reverse("calls:detail", args=[call.reference])).content.decode()
    assert "人工智能資助計劃 2027 第一批" in html
    assert "2099-11-27 17:00 香港時間" in html
    assert "配合香港創新科技發展需要" in html
    assert "人工智能超算中心 H800" in html
    assert "開始前請細閱整份徵集文件。" in html
    assert "公司可以申請嗎？" in html
    # A criterion without a Chinese name stays English, marked as English.
    assert '<span lang="en">Deliverables, KPIs and wider impact</span>' in html
    assert "5 = 優秀" in html


def test_unknown_call_is_404(client):
    assert client.get(reverse("calls:detail", args=["no-such-call"])).status_code == 404


@pytest.mark.parametrize("n", [1, 6])
def test_call_list_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, n):
    for i in range(n):
        open_call(reference=f"aiss-open-{i}")
        CallFactory(opens_at=timezone.now() + timedelta(days=10 + i), closes_at=timezone.now() + timedelta(days=60))
    with django_assert_max_num_queries(16):
        response = client.get(reverse("calls:list"))
    assert response.content.decode().count('href="/calls/aiss-open-') == n
