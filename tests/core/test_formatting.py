from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from portal.core.formatting import (
    format_hk_clock,
    format_hkd,
    format_hkt,
    format_hours,
    format_percent,
    hk_localtime,
)

pytestmark = pytest.mark.unit

MOMENT = datetime(2026, 11, 27, 7, 4, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234567"), "HK$1,234,567.00"),
        (Decimal("0.005"), "HK$0.01"),
        (Decimal("-12.5"), "-HK$12.50"),
        ("99.994", "HK$99.99"),
        (0, "HK$0.00"),
        (None, ""),
        ("", ""),
        ("not a number", ""),
    ],
)
def test_format_hkd_two_decimals_half_up(value, expected):
    assert format_hkd(value) == expected


def test_format_hkt_hong_kong_time_to_the_minute():
    assert str(format_hkt(MOMENT)) == "2026-11-27 15:04 HKT"


def test_format_hkt_with_seconds():
    assert str(format_hkt(MOMENT, seconds=True)) == "2026-11-27 15:04:59 HKT"


def test_format_hkt_names_the_zone_in_the_language_it_is_rendered_in():
    text = format_hkt(MOMENT)

    with translation.override("zh-hant"):
        assert str(text) == "2026-11-27 15:04 香港時間"
    assert str(text) == "2026-11-27 15:04 HKT"


def test_hk_localtime_and_clock_are_hong_kong_time():
    assert hk_localtime(MOMENT).utcoffset().total_seconds() == 8 * 3600
    assert format_hk_clock(MOMENT) == "15:04"


@pytest.mark.parametrize(("value", "expected"), [(Decimal("0.7"), "70%"), ("0.126", "13%"), (None, ""), ("x", "")])
def test_format_percent(value, expected):
    assert format_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(Decimal("120000"), "120,000"), (Decimal("1.5"), "1.50"), (None, ""), ("x", "")]
)
def test_format_hours(value, expected):
    assert format_hours(value) == expected


def test_template_filters_use_the_same_formatting():
    template = Template(
        "{% load portal %}{{ money|hkd }}|{{ share|percent:1 }}|{{ hours|hours }}|{{ when|hkt }}|{{ when|hkt:True }}"
        "|{{ nothing|hkt }}"
    )

    text = template.render(
        Context({"money": Decimal("5"), "share": Decimal("0.7"), "hours": 1000, "when": MOMENT, "nothing": None})
    )

    moment = '<time datetime="2026-11-27T15:04:59+08:00">'
    assert text == f"HK$5.00|70.0%|1,000|{moment}2026-11-27 15:04 HKT</time>|{moment}2026-11-27 15:04:59 HKT</time>|"


def test_iso_datetime_is_a_valid_html_datetime_to_the_second_in_hong_kong_time():
    moment = datetime(2026, 11, 27, 7, 4, 59, 123456, tzinfo=UTC)
    html = Template('{% load portal %}<time datetime="{{ moment|iso_datetime }}">').render(Context({"moment": moment}))
    assert html == '<time datetime="2026-11-27T15:04:59+08:00">'
    assert Template("{% load portal %}{{ day|iso_datetime }}").render(Context({"day": moment.date()})) == "2026-11-27"
