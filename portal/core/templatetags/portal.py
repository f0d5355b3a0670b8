"""Formatting used on every page: HK$ money, percentages, Hong Kong time."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from portal.core.i18n import lang_marked, localised, text_language

register = template.Library()

CENT = Decimal("0.01")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


def format_hkd(value) -> str:
    """``Decimal('1234567')`` → ``HK$1,234,567.00``; negative amounts keep their sign before HK$."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}HK${abs(amount):,.2f}"


@register.filter
def hkd(value) -> str:
    return format_hkd(value)


@register.filter
def percent(value, places: int = 0) -> str:
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError):
        return ""
    return f"{number:.{int(places)}f}%"


@register.filter
def hours(value) -> str:
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"


# ---- Stored names in the reader's language (portal/core/i18n.py) ---------------------------------------------


@register.filter
def local_text(obj, field: str = "name") -> str:
    """``{{ call|local_text:"title" }}``: the Chinese version for a Chinese reader, if there is one (plain text,
    for attributes and page titles)."""
    return localised(obj, field)


@register.filter
def local(obj, field: str = "name") -> str:
    """``{{ call|local:"title" }}``: like ``local_text``, escaped, with English left on a Chinese page marked
    ``lang="en"``."""
    return lang_marked(localised(obj, field))


@register.filter
def lang_mark(text) -> str:
    """Free text (a name, what an applicant typed), escaped and marked with its language when it differs from
    the page's."""
    return lang_marked(text)


@register.filter
def hkt(value) -> str:
    """An aware datetime as a ``<time>`` element in Hong Kong time: ``2026-11-27 17:00 HKT`` (香港時間 in
    Chinese), with a valid ISO 8601 ``datetime`` attribute."""
    if not value:
        return ""
    local = timezone.localtime(value, HONG_KONG)
    return format_html(
        '<time datetime="{}">{} {}</time>', local.isoformat(timespec="seconds"), f"{local:%Y-%m-%d %H:%M}", _("HKT")
    )


@register.filter
def share_after(price, rate) -> Decimal | str:
    """What the applicant pays of ``price`` after a subsidy at ``rate``."""
    try:
        return Decimal(str(price)) * (1 - Decimal(str(rate)))
    except (InvalidOperation, ValueError):
        return ""


@register.filter
def lang_attr(text) -> str:
    """`` lang="en"`` (with its leading space) for an element holding ``text`` when ``text`` is not in the page's
    language, else nothing: ``<div{{ text|lang_attr }}>``."""
    tag = text_language(str(text or ""))
    return format_html(' lang="{}"', tag) if tag else ""
