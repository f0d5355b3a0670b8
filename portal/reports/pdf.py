"""The one PDF module: Django template → HTML → WeasyPrint.

Every PDF the portal makes goes through :func:`render_pdf`. It

* renders the template in the reader's language (``translation.override``), with the usual autoescaping, inside
  ``templates/reports/base_document.html`` (A4, running header, "Page X of Y", generation time in HKT);
* gives WeasyPrint a URL fetcher that serves only files from our own static directories
  (``settings.STATICFILES_DIRS``) and refuses everything else, before any I/O: other hosts, ``file:``, ``data:``,
  ``ftp:``, path traversal, file types we do not use;
* writes PDF/A-3b with real metadata (title, author, language, creation date) and the system's Noto Sans CJK TC
  font, so Chinese text is set in the Traditional Chinese glyphs and embedded;
* tags the PDF (WeasyPrint's ``pdf_tags``): its structure tree lets screen readers read headings, paragraphs and
  tables in order;
* runs WeasyPrint in a child process that is ended when it takes longer than its time limit, leaving the calling
  process as it was (see ``renderer.py``, where the fetcher and the child are).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from portal.core.formatting import format_hkt

from . import renderer
from .renderer import (  # noqa: F401 - the PDF module's public names
    BASE_URL,
    MAX_STATIC_BYTES,
    STATIC_HOST,
    STATIC_PREFIX,
    STATIC_TYPES,
    PdfError,
    PdfTimeLimitExceeded,
    RefusedURL,
)

logger = logging.getLogger(__name__)

AUTHOR = "AI Subsidy Scheme Secretariat"

# Seconds a render may take unless the caller or ``settings.PORTAL_PDF_TIME_LIMIT`` says otherwise.
DEFAULT_TIME_LIMIT = 60.0


# ---- Language ---------------------------------------------------------------------------------------------------


def html_language(language: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh-Hant`` makes Pango prefer the Traditional Chinese glyphs."""
    return "zh-Hant" if language.lower().startswith("zh") else language


def _page_label_parts() -> tuple[str, str, str]:
    """ "Page X of Y" in the active language, split around the two numbers so that the print CSS can put the
    page counters between the words: ("Page ", " of ", "") in English."""
    pattern = gettext("Page %(page)s of %(pages)s")
    text = pattern % {"page": "\x00", "pages": "\x01"}
    before, _, rest = text.partition("\x00")
    between, found, after = rest.partition("\x01")
    if not found or "\x01" in before:  # a translation that drops or reorders the numbers
        return "", " / ", ""
    return before, between, after


# ---- The URL fetcher and the render ------------------------------------------------------------------------------


def _static_roots() -> list[Path]:
    roots = []
    for entry in settings.STATICFILES_DIRS:
        location = entry[1] if isinstance(entry, tuple | list) else entry
        roots.append(Path(location).resolve())
    return roots


def resolve_static_url(url: str) -> Path:
    """The file in ``settings.STATICFILES_DIRS`` that ``url`` names, or :class:`RefusedURL` (see
    :func:`renderer.resolve_static_url`)."""
    return renderer.resolve_static_url(url, _static_roots())


def html_to_pdf(
    html: str, *, time_limit: float | None = None, on_progress: Callable[[int], None] | None = None
) -> bytes:
    """PDF/A-3b bytes from HTML written for :data:`BASE_URL`, fetching only our static files, made in a child
    process.

    Raises :class:`PdfTimeLimitExceeded` after ``time_limit`` seconds (default ``settings.PORTAL_PDF_TIME_LIMIT``,
    else :data:`DEFAULT_TIME_LIMIT`), when the child has been ended; :class:`PdfError` if WeasyPrint failed.
    ``on_progress(pages_laid_out)`` is called about once a second on the calling thread while the render runs."""
    if time_limit is None:
        time_limit = float(getattr(settings, "PORTAL_PDF_TIME_LIMIT", DEFAULT_TIME_LIMIT))
    return renderer.render(html, roots=_static_roots(), time_limit=time_limit, on_progress=on_progress)


# ---- Templates → PDF ----------------------------------------------------------------------------------------------


def render_pdf(
    *,
    template: str,
    context: dict,
    language: str,
    title: str,
    reference: str = "",
    version: str = "",
    time_limit: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """Render ``template`` (which extends ``reports/base_document.html``) in ``language`` and return the PDF.

    ``title``, ``reference`` and ``version`` appear in the running header and footer and in the PDF metadata;
    the template also gets them, with the generation time, as ``document``."""
    languages = {code for code, _name in settings.LANGUAGES}
    if language not in languages:
        raise ValueError(f"unknown language {language!r}; expected one of {sorted(languages)}")
    if "document" in context:
        raise ValueError("'document' is reserved in PDF templates")
    generated_at = timezone.now()
    started = time.perf_counter()
    with translation.override(language):
        page_before, page_between, page_after = _page_label_parts()
        document = {
            "title": title,
            "reference": reference,
            "version": version,
            "lang": html_language(language),
            "author": AUTHOR,
            "generated_at": generated_at,
            "generated_at_hkt": format_hkt(generated_at),
            "page_before": page_before,
            "page_between": page_between,
            "page_after": page_after,
        }
        html = render_to_string(template, {**context, "document": document})
    pdf = html_to_pdf(html, time_limit=time_limit, on_progress=on_progress)
    logger.info(
        "PDF %s rendered from %s in %.0f ms (%d bytes)",
        reference or title,
        template,
        (time.perf_counter() - started) * 1000,
        len(pdf),
    )
    return pdf
