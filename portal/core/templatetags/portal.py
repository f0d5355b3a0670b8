"""Formatting used on every page: HK$ money, percentages, Hong Kong time."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")


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
