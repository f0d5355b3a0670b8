"""Template filters for what every page shows: HK$ money, percentages, GPU-hours, Hong Kong time (each from
``portal.core.formatting``, so pages, emails, PDFs and exports say the same), and stored names in the reader's
language."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

from portal.core import formatting
from portal.core.i18n import lang_marked, localised, text_language

register = template.Library()


@register.filter
def hkd(value) -> str:
    return formatting.format_hkd(value)


@register.filter
def percent(value, places: int = 0) -> str:
    return formatting.format_percent(value, places)


@register.filter
def hours(value) -> str:
    return formatting.format_hours(value)


@register.filter
def hkt(value, seconds: bool = False) -> str:
    """An aware datetime as a ``<time>`` element in Hong Kong time: ``2026-11-27 17:00 HKT`` (香港時間 in
    Chinese), with a valid ISO 8601 ``datetime`` attribute; ``|hkt:True`` shows the seconds."""
    if not value:
        return ""
    return format_html(
        '<time datetime="{}">{}</time>',
        formatting.hk_localtime(value).isoformat(timespec="seconds"),
        formatting.format_hkt(value, seconds=bool(seconds)),
    )


@register.filter
def iso_datetime(value) -> str:
    """A ``<time datetime>`` value: ISO 8601 to the second with the Hong Kong offset (Django's ``date:'c'`` adds
    microseconds, which HTML does not allow). A date is given as it is."""
    if not value:
        return ""
    if not hasattr(value, "hour"):
        return value.isoformat()
    return formatting.hk_localtime(value).isoformat(timespec="seconds")


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


@register.filter
def hkt_text(value) -> str:
    """An aware datetime in Hong Kong time as text, for emails: ``2026-11-27 17:00 HKT`` (香港時間 in Chinese).
    Text that is already formatted is returned as it is."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return str(formatting.format_hkt(value))
