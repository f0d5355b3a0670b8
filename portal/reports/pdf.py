"""The one PDF module: Django template → HTML → WeasyPrint.

Every PDF the portal makes goes through :func:`render_pdf` (or :func:`render_pdf_in_sections` for a document too
long to lay out at once, such as the approval report of a large call: rendered in sections joined by
``joining.py``). It

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
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from portal.core.formatting import format_hkt

from . import joining, renderer
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


def _document(context: dict, *, language: str, title: str, reference: str, version: str, **more) -> dict:
    """What every PDF template gets as ``document``."""
    languages = {code for code, _name in settings.LANGUAGES}
    if language not in languages:
        raise ValueError(f"unknown language {language!r}; expected one of {sorted(languages)}")
    if "document" in context:
        raise ValueError("'document' is reserved in PDF templates")
    generated_at = timezone.now()
    with translation.override(language):
        page_before, page_between, page_after = _page_label_parts()
    return {
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
        **more,
    }


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
    started = time.perf_counter()
    document = _document(context, language=language, title=title, reference=reference, version=version)
    with translation.override(language):
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


# ---- Long documents, rendered in sections -------------------------------------------------------------------------


def render_pdf_in_sections(
    *,
    template: str,
    context: dict,
    sections: Iterable[dict],
    language: str,
    title: str,
    reference: str = "",
    version: str = "",
    time_limit: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """:func:`render_pdf` for a document too long to lay out at once. ``template`` is rendered once per section,
    with ``{**context, **section}``, each in a render process of its own, so that WeasyPrint never holds more than
    one section's pages; the sections' PDFs wait in a temporary folder and are joined into one (``joining.py``):
    one "Page X of Y" numbering, one outline, one structure tree, the first section's PDF/A metadata. Each section
    starts on a new page. ``time_limit`` is for the whole document; ``on_progress`` gets the pages laid out so far
    across the sections."""
    if time_limit is None:
        time_limit = float(getattr(settings, "PORTAL_PDF_TIME_LIMIT", DEFAULT_TIME_LIMIT))
    deadline = time.monotonic() + time_limit
    started = time.perf_counter()
    document = _document(
        context, language=language, title=title, reference=reference, version=version, numbered_later=True
    )
    roots = _static_roots()

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PdfTimeLimitExceeded(f"the PDF took longer than {time_limit:g} s and was stopped")
        return remaining

    with tempfile.TemporaryDirectory(prefix="aiss-pdf-") as folder:
        parts: list[tuple[Path, list]] = []
        kinds: list[str] = []  # "wide" for each landscape page
        for index, section in enumerate(sections):
            with translation.override(language):
                html = render_to_string(template, {**context, **section, "document": document})
            done = len(kinds)
            pdf, bookmarks = renderer.render_section(
                html,
                roots=roots,
                time_limit=left(),
                on_progress=None if on_progress is None else (lambda pages, done=done: on_progress(done + pages)),
            )
            kinds.extend("wide" if width > height else "" for width, height in joining.page_sizes(pdf))
            path = Path(folder) / f"section-{index}.pdf"
            path.write_bytes(pdf)
            parts.append((path, bookmarks))
            del html, pdf
        with translation.override(language):
            numbers_html = render_to_string("reports/page_numbers.html", {"document": document, "kinds": kinds})
        numbers, _bookmarks = renderer.render_section(numbers_html, roots=roots, time_limit=left(), tagged=False)

        def read() -> Iterator[joining.Section]:
            for path, bookmarks in parts:
                yield joining.Section(path.read_bytes(), [joining.Bookmark(*bookmark) for bookmark in bookmarks])

        output = Path(folder) / "document.pdf"
        with output.open("wb") as out:
            try:
                joining.join(read(), page_numbers=numbers, out=out)
            except joining.JoinError as exc:
                raise PdfError(f"the sections could not be joined: {exc}") from exc
        pdf = output.read_bytes()
    logger.info(
        "PDF %s rendered from %s in %d sections in %.0f ms (%d pages, %d bytes)",
        reference or title,
        template,
        len(parts),
        (time.perf_counter() - started) * 1000,
        len(kinds),
        len(pdf),
    )
    return pdf
