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
* stops a render that takes longer than its time limit (see :func:`_write_pdf_within`).

WeasyPrint takes over a second to import and must not be imported before a Celery worker forks, so it is only
imported inside the functions that use it.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from portal.core.formatting import format_hkt

logger = logging.getLogger(__name__)

AUTHOR = "AI Subsidy Scheme Secretariat"

# Relative URLs in our PDF templates and print CSS resolve against this base. The host is under ``.invalid``
# (RFC 6761), so it can never be reached on a network; only our fetcher knows what it means.
STATIC_HOST = "static.aiss-pdf.invalid"
STATIC_PREFIX = "/static/"
BASE_URL = f"https://{STATIC_HOST}{STATIC_PREFIX}"

# The only kinds of file a PDF may load from our static directories.
STATIC_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".icc": "application/vnd.iccprofile",
}
MAX_STATIC_BYTES = 5 * 1024 * 1024
# PDF/A needs an output intent. Ours is the ICC's sRGB2014 profile (free to copy and embed; the file WeasyPrint
# ships), declared in a stylesheet added to every document and fetched like any static file. WeasyPrint's own
# "srgb" intent would do the same but leaves the profile file open, which warnings-as-errors runs report.
OUTPUT_INTENT = "--srgb"
OUTPUT_INTENT_CSS = "@color-profile --srgb { src: url(reports/sRGB2014.icc); components: r, g, b }"

# Seconds a render may take unless the caller or ``settings.PORTAL_PDF_TIME_LIMIT`` says otherwise.
DEFAULT_TIME_LIMIT = 60.0
# After the limit: how long we keep stopping the render before leaving it, and how often we repeat the stop.
CANCEL_GRACE = 5.0
RESEND_EVERY = 0.5


class PdfError(Exception):
    """A PDF could not be made."""


class PdfTimeLimitExceeded(PdfError):
    """The render took longer than its time limit and was stopped."""


class RefusedURL(ValueError):
    """A document asked for something other than one of our static files. Raised by the fetcher; WeasyPrint
    logs it and leaves the resource out."""


class _RenderStopped(BaseException):
    """Raised inside an overrunning render to stop it. A BaseException, so WeasyPrint's ``except Exception``
    handlers (around images, fonts, stylesheets) cannot swallow it."""


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


# ---- The URL fetcher ----------------------------------------------------------------------------------------------


def _static_roots() -> list[Path]:
    roots = []
    for entry in settings.STATICFILES_DIRS:
        location = entry[1] if isinstance(entry, tuple | list) else entry
        roots.append(Path(location).resolve())
    return roots


def resolve_static_url(url: str) -> Path:
    """The static file that ``url`` names, or :class:`RefusedURL`. Nothing is opened or fetched here.

    Accepted: ``https://static.aiss-pdf.invalid/static/<path>``, which is what a relative ``reports/print.css``
    or an absolute-path ``/static/reports/print.css`` becomes against :data:`BASE_URL`, where ``<path>`` is a
    file of an allowed type inside one of ``settings.STATICFILES_DIRS`` (after resolving symlinks)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise RefusedURL(f"malformed URL: {url!r}") from exc
    if parts.scheme != "https" or parts.netloc != STATIC_HOST or parts.query:
        raise RefusedURL(f"not one of our static files: {url!r}")
    path = unquote(parts.path)
    if not path.startswith(STATIC_PREFIX):
        raise RefusedURL(f"not under {STATIC_PREFIX}: {url!r}")
    relative = path.removeprefix(STATIC_PREFIX)
    segments = relative.split("/")
    if not relative or "\\" in relative or "\x00" in relative or any(s in {"", ".", ".."} for s in segments):
        raise RefusedURL(f"not a plain static path: {url!r}")
    if Path(relative).suffix.lower() not in STATIC_TYPES:
        raise RefusedURL(f"not a file type documents use: {url!r}")
    for root in _static_roots():
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            if candidate.stat().st_size > MAX_STATIC_BYTES:
                raise RefusedURL(f"static file too large: {url!r}")
            return candidate
    raise RefusedURL(f"no such static file: {url!r}")


@functools.cache
def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticFilesFetcher(URLFetcher):
        """WeasyPrint's fetcher, narrowed to our static files. Every URL asked for is logged (DEBUG when served,
        WARNING when refused) with ``extra={"pdf_url": url, "pdf_served": bool}``."""

        def __init__(self):
            super().__init__(allowed_protocols=("https",), allow_redirects=False, fail_on_errors=False)

        def fetch(self, url, headers=None):
            try:
                path = resolve_static_url(url)
            except RefusedURL as exc:
                logger.warning("PDF resource refused: %s", exc, extra={"pdf_url": url, "pdf_served": False})
                raise
            logger.debug("PDF resource served: %s", url, extra={"pdf_url": url, "pdf_served": True})
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": STATIC_TYPES[path.suffix.lower()]}
            )

    return StaticFilesFetcher


# ---- HTML → PDF under a time limit --------------------------------------------------------------------------------


class _Render:
    """One HTML → PDF job on its own thread, which the caller can stop.

    A thread cannot be killed, and ``concurrent.futures`` only stops *waiting* for it, leaving an overrunning
    render to burn CPU. So on time-out the caller raises :class:`_RenderStopped` inside the render thread
    (``PyThreadState_SetAsyncExc``, the mechanism behind ``KeyboardInterrupt``). It arrives at the thread's next
    Python instruction, and WeasyPrint's layout is Python, so the render unwinds within milliseconds.

    The rules that keep it from landing anywhere else: it is only sent while ``running`` (set and cleared under
    ``lock`` by the thread itself, inside the ``try``); after clearing ``running`` the thread waits briefly for
    one still in flight, inside the same ``try``; and the caller sends it again every :data:`RESEND_EVERY`
    seconds while the thread is still running, in case something swallowed it (WeasyPrint's ``except
    BaseException`` around SVG drawing, or a finaliser such as ``FontConfiguration.__del__`` that the garbage
    collector happened to run on this thread; Python prints those as "Exception ignored in ..."). A pending one is never withdrawn: on CPython 3.11 withdrawing
    leaves the interpreter's "pending" flag set for good."""

    def __init__(self, work: Callable[[], bytes]):
        self.work = work
        self.lock = threading.Lock()
        self.running = False
        self.abandoned = False
        self.stops_sent = 0
        self.ident: int | None = None
        self.pdf: bytes | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        with self.lock:
            if self.abandoned:  # the caller gave up before this thread started
                self.done.set()
                return
            self.ident = threading.get_ident()
            self.running = True
        working = True
        while True:
            try:
                if working:
                    working = False
                    try:
                        self.pdf = self.work()
                    except BaseException as exc:  # re-raised by the caller; a _RenderStopped normally lands here
                        self.error = exc
                with self.lock:
                    self.running = False
                    stopped = self.stops_sent > 0
                if stopped:
                    _let_stop_arrive()
                break
            except _RenderStopped:
                continue  # it arrived after the render: close up again
        self.done.set()

    def stop(self) -> bool:
        """Send the stop if the render is still running; False once it has finished."""
        with self.lock:
            self.abandoned = True
            if not self.running:
                return False
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.ident), ctypes.py_object(_RenderStopped))
            self.stops_sent += 1
            return True


def _let_stop_arrive(seconds: float = 0.2) -> None:
    """Run Python instructions for a moment, so that a stop still in flight is raised here (at once)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)


class _PageCounter(logging.Handler):
    """Counts the pages WeasyPrint has laid out on one thread, from its ``weasyprint.progress`` log records
    ("Step 5 - Creating layout - Page N"), so that the thread waiting for the render can report progress."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.thread_ident: int | None = None
        self.pages = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_ident or not isinstance(record.msg, str) or "layout" not in record.msg:
            return
        try:
            self.pages = max(self.pages, int(str(record.args[-1] if record.args else record.msg.split()[-1])))
        except (ValueError, IndexError):
            return


def _write_pdf_within(
    work: Callable[[], bytes],
    time_limit: float,
    on_progress: Callable[[int], None] | None = None,
    every: float = 1.0,
) -> bytes:
    render = _Render(work)
    thread = threading.Thread(target=render.run, name="pdf-render", daemon=True)
    counter = _PageCounter()
    progress_logger = logging.getLogger("weasyprint.progress")
    level = progress_logger.level
    if on_progress is not None:
        progress_logger.addHandler(counter)
        if not progress_logger.isEnabledFor(logging.INFO):
            progress_logger.setLevel(logging.INFO)
    thread.start()
    counter.thread_ident = thread.ident
    deadline = time.monotonic() + time_limit
    try:
        finished = False
        while not finished:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            finished = render.done.wait(min(left, every) if on_progress is not None else left)
            if not finished and on_progress is not None:
                on_progress(counter.pages)  # called on the caller's thread, so it may use the database
    finally:
        if on_progress is not None:
            progress_logger.removeHandler(counter)
            progress_logger.setLevel(level)
    if finished:
        if render.error is not None:
            raise render.error
        return render.pdf
    give_up = time.monotonic() + CANCEL_GRACE
    while render.stop() and not render.done.wait(RESEND_EVERY):
        if time.monotonic() > give_up:
            logger.error("A PDF render over its %g s limit could not be stopped; it runs on.", time_limit)
            break
    raise PdfTimeLimitExceeded(f"the PDF took longer than {time_limit:g} s and was stopped")


def html_to_pdf(
    html: str, *, time_limit: float | None = None, on_progress: Callable[[int], None] | None = None
) -> bytes:
    """PDF/A-3b bytes from HTML written for :data:`BASE_URL`, fetching only our static files.

    Raises :class:`PdfTimeLimitExceeded` after ``time_limit`` seconds (default
    ``settings.PORTAL_PDF_TIME_LIMIT``, else :data:`DEFAULT_TIME_LIMIT`). Celery's task time limits stay the
    outer backstop for the whole task. ``on_progress(pages_laid_out)`` is called about once a second on the
    calling thread while the render runs."""
    if time_limit is None:
        time_limit = float(getattr(settings, "PORTAL_PDF_TIME_LIMIT", DEFAULT_TIME_LIMIT))
    # Imported here on purpose: slow to import, and must not be imported before a Celery worker forks.
    import weasyprint

    fetcher = _fetcher_class()()

    def work() -> bytes:
        color_profiles: dict = {}  # filled by the @color-profile rule, then read when writing the PDF
        intent = weasyprint.CSS(
            string=OUTPUT_INTENT_CSS, base_url=BASE_URL, url_fetcher=fetcher, color_profiles=color_profiles
        )
        document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher)
        return document.write_pdf(
            pdf_variant="pdf/a-3b",
            pdf_tags=True,  # a structure tree (headings, paragraphs, tables, figures) for screen readers
            output_intent=OUTPUT_INTENT,
            stylesheets=[intent],
            color_profiles=color_profiles,
        )

    return _write_pdf_within(work, time_limit, on_progress)


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
