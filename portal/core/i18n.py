"""Stored names in the reader's language, and which language a piece of text is in.

Models keep an English name and, where there is one, a Chinese version in a ``<field>_zh`` column. Readers of
the Chinese interface see the Chinese version when there is one; whatever English remains on a Chinese page (a
name without a Chinese version, text an applicant typed) is marked ``lang="en"`` so that screen readers and
fonts treat it as English, and Chinese on an English page is marked ``lang="zh-Hant"``."""

import re

from django.utils.html import format_html
from django.utils.translation import get_language

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def is_chinese(language: str | None = None) -> bool:
    return (language or get_language() or "").lower().startswith("zh")


def localised(obj, field: str, language: str | None = None) -> str:
    """``obj.<field>_zh`` for a Chinese reader when it is filled in, else ``obj.<field>``."""
    if obj is None:
        return ""
    if isinstance(obj, dict):
        english, chinese = obj.get(field) or "", obj.get(f"{field}_zh") or ""
    else:
        english, chinese = getattr(obj, field, "") or "", getattr(obj, f"{field}_zh", "") or ""
    return str(chinese if chinese and is_chinese(language) else english)


def text_language(text: str, language: str | None = None) -> str:
    """The BCP 47 tag a piece of text needs when it is not in the page's language, else ``""``.

    On a Chinese page, text with Latin words and no Chinese characters is English; on an English page, text
    with Chinese characters and no Latin words is Chinese."""
    text = str(text or "")
    if not text:
        return ""
    has_cjk = bool(CJK.search(text))
    has_latin = bool(LATIN_WORD.search(text))
    if is_chinese(language):
        return "en" if has_latin and not has_cjk else ""
    return "zh-Hant" if has_cjk and not has_latin else ""


def lang_marked(text) -> str:
    """``text`` escaped, in a ``<span lang>`` when it is not in the page's language."""
    text = "" if text is None else str(text)
    tag = text_language(text)
    if tag:
        return format_html('<span lang="{}">{}</span>', tag, text)
    return format_html("{}", text)
