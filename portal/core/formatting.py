"""Hong Kong time and money, formatted the one way the portal shows them (pages, emails, PDFs, exports).

Times are stored in UTC and shown in Hong Kong time with the zone's name, translated in the reader's language
(``HKT``, ``香港時間``); money is HK$ in ``Decimal`` with two decimals, never a float."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
CENT = Decimal("0.01")


def hk_localtime(value: datetime | None = None) -> datetime:
    """An aware datetime (default: now) in Hong Kong time."""
    return timezone.localtime(value, HONG_KONG)


def hk_today() -> date:
    """Today's date in Hong Kong."""
    return hk_localtime().date()


def format_hkt(value: datetime, *, seconds: bool = False):
    """An aware datetime as Hong Kong time: ``2026-11-27 15:04 HKT`` (``…:59`` with ``seconds``).

    Lazy: the zone's name is translated where the text is rendered (a page, an email in its recipient's language,
    a PDF in the document's language)."""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return format_lazy("{} {}", hk_localtime(value).strftime(pattern), gettext_lazy("HKT"))


def format_hk_clock(value: datetime | None = None) -> str:
    """Hour and minute in Hong Kong (default: now): ``15:04``, for "Draft saved at 15:04"."""
    return hk_localtime(value).strftime("%H:%M")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_hkd(value) -> str:
    """``Decimal('1234567')`` → ``HK$1,234,567.00``; negative amounts keep their sign before HK$; empty for
    nothing or what is not a number."""
    number = _decimal(value)
    if number is None or not number.is_finite():
        return ""
    try:
        amount = number.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than Decimal holds: no amount the portal keeps
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}HK${abs(amount):,.2f}"


def format_percent(value, places: int = 0) -> str:
    """A share as a percentage: ``Decimal('0.7')`` → ``70%``."""
    number = _decimal(value)
    if number is None:
        return ""
    return f"{number * 100:.{int(places)}f}%"


def format_hours(value) -> str:
    """GPU-hours with thousands separators: whole hours without decimals, others with two."""
    number = _decimal(value)
    if number is None:
        return ""
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"
