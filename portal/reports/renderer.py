"""HTML → PDF with WeasyPrint in a child process, which is stopped when it runs over its time limit.

A thread cannot be stopped cleanly, so a render never runs on one of ours: each render is a child process
(``multiprocessing``'s *forkserver*, which has WeasyPrint imported once, so a render starts in milliseconds). The
caller waits on a pipe; past the time limit it ends the child (SIGTERM, then SIGKILL) and raises
:class:`PdfTimeLimitExceeded`. Nothing of the render is left in the caller: no thread, no memory, no open file;
the worker or web process that asked goes on as before. A Celery task that renders also has its soft and hard time
limits as the outer bound (``portal/reports/tasks.py``).

The child sends back, in order, what the caller needs to know: each URL WeasyPrint asked for (served or refused),
WeasyPrint's warnings, the number of pages laid out so far, the CPU time and peak memory of the render, then the PDF
or the error. The caller logs them, so a
render in a child logs just what one in-process did.

No Django here: the child gets the HTML and the static directories, and nothing else.
"""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("portal.reports.pdf")

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

# After the time limit: how long a child has to end on SIGTERM before it is killed.
TERMINATE_GRACE = 2.0
# The young generation's threshold in a render process (Python's default: 700); see _child.
RENDER_GC_THRESHOLD = 50_000


class PdfError(Exception):
    """A PDF could not be made."""


class PdfTimeLimitExceeded(PdfError):
    """The render took longer than its time limit and was stopped."""


class RefusedURL(ValueError):
    """A document asked for something other than one of our static files. Raised by the fetcher; WeasyPrint
    logs it and leaves the resource out."""


# ---- The URL fetcher ----------------------------------------------------------------------------------------------


def resolve_static_url(url: str, roots: Sequence[Path]) -> Path:
    """The static file that ``url`` names, or :class:`RefusedURL`. Nothing is opened or fetched here.

    Accepted: ``https://static.aiss-pdf.invalid/static/<path>``, which is what a relative ``reports/print.css``
    or an absolute-path ``/static/reports/print.css`` becomes against :data:`BASE_URL`, where ``<path>`` is a
    file of an allowed type inside one of ``roots`` (after resolving symlinks)."""
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
    for root in roots:
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
        """WeasyPrint's fetcher, narrowed to our static files; ``report(url, refusal)`` is told of every URL asked
        for (``refusal`` empty when it is served)."""

        def __init__(self, roots: Sequence[Path], report: Callable[[str, str], None]):
            super().__init__(allowed_protocols=("https",), allow_redirects=False, fail_on_errors=False)
            self.roots = roots
            self.report = report

        def fetch(self, url, headers=None):
            try:
                path = resolve_static_url(url, self.roots)
            except RefusedURL as exc:
                self.report(url, str(exc))
                raise
            self.report(url, "")
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": STATIC_TYPES[path.suffix.lower()]}
            )

    return StaticFilesFetcher


# ---- The child ----------------------------------------------------------------------------------------------------


class _Relay(logging.Handler):
    """In the child: WeasyPrint's warnings, and its page count from the ``weasyprint.progress`` records ("Step 5 -
    Creating layout - Page N"), sent to the caller."""

    def __init__(self, send: Callable[[tuple], None]):
        super().__init__(level=logging.INFO)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "weasyprint.progress":
            if isinstance(record.msg, str) and "layout" in record.msg:
                try:
                    self.send(("pages", int(str(record.args[-1] if record.args else record.msg.split()[-1]))))
                except (ValueError, IndexError):
                    return
        elif record.levelno >= logging.WARNING:
            self.send(("log", record.name, record.levelno, record.getMessage()))


def _child(connection, html: str, roots: list[str], section: bool = False, tagged: bool = True) -> None:
    """The child's whole life: render ``html``, send what happens and the PDF (or the error), and end. A
    ``section`` of a longer document is written as ``joining.py`` reads it (PDF 1.4: a classic cross-reference
    table, no object streams) and its bookmarks are sent first."""
    import weasyprint

    # A render makes millions of objects that live until it ends (boxes, styles, glyph runs); the collector's
    # default pace (every 700 allocations) spends about a third of the render walking them again and again. What
    # the forkserver loaded (WeasyPrint, fonts) is frozen out of every collection, and the young generation is
    # collected every RENDER_GC_THRESHOLD allocations: the few cycles a render leaves are still freed.
    gc.freeze()
    gc.set_threshold(RENDER_GC_THRESHOLD, 20, 100)
    relay = _Relay(connection.send)
    for name, level in (("weasyprint", logging.WARNING), ("weasyprint.progress", logging.INFO)):
        logging.getLogger(name).addHandler(relay)
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = False  # told to the caller, which logs them
    try:
        fetcher = _fetcher_class()(
            [Path(root) for root in roots], lambda url, refusal: connection.send(("url", url, refusal))
        )
        color_profiles: dict = {}  # filled by the @color-profile rule, then read when writing the PDF
        intent = weasyprint.CSS(
            string=OUTPUT_INTENT_CSS, base_url=BASE_URL, url_fetcher=fetcher, color_profiles=color_profiles
        )
        options = {
            "pdf_variant": "pdf/a-3b",
            "pdf_tags": tagged,  # a structure tree (headings, paragraphs, tables, figures) for screen readers
            "output_intent": OUTPUT_INTENT,
            "stylesheets": [intent],
        }
        if section:
            options["pdf_version"] = "1.4"
        document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(
            color_profiles=color_profiles, **options
        )
        if section:
            connection.send(("bookmarks", _bookmarks(document)))
        pdf = document.write_pdf(**options)
    except Exception as exc:
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        connection.send(("usage", usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
        connection.send(("pdf", pdf))
    finally:
        connection.close()


def _bookmarks(document) -> list[tuple[int, str, int, float, float]]:
    """(level, label, page index, x, y) of each bookmark, in PDF points from the page's bottom-left corner."""
    scale = 0.75  # CSS pixels to points
    return [
        (level, label, index, x * scale, (page.height - y) * scale)
        for index, page in enumerate(document.pages)
        for level, label, (x, y), _state in page.bookmarks
    ]


def warm_up() -> None:
    """Render a line of text (in both scripts) in this process, so that processes forked from it start warm. A
    failure here only costs the warmth: the render that follows reports its own error."""
    try:
        import weasyprint

        weasyprint.HTML(string='<p lang="zh-Hant">AISS 人工智能資助計劃</p>').write_pdf()
    except Exception:  # noqa: S110 - see the docstring
        pass


@functools.cache
def _processes():
    """The multiprocessing context renders start from: a forkserver with WeasyPrint imported and warm, started
    by the first render of each process that renders (a Celery worker process or a web worker keeps it for its
    life; it ends with that process)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["weasyprint", __name__, f"{__package__}.renderer_warm"])
    return context


# ---- The caller ---------------------------------------------------------------------------------------------------


def render(
    html: str,
    *,
    roots: Sequence[Path],
    time_limit: float,
    on_progress: Callable[[int], None] | None = None,
    every: float = 1.0,
) -> bytes:
    """PDF/A-3b bytes of ``html`` (see :func:`_render`)."""
    return _render(html, roots=roots, time_limit=time_limit, on_progress=on_progress, every=every)[0]


def render_section(
    html: str,
    *,
    roots: Sequence[Path],
    time_limit: float,
    on_progress: Callable[[int], None] | None = None,
    tagged: bool = True,
) -> tuple[bytes, list[tuple[int, str, int, float, float]]]:
    """A section of a longer document, for ``joining.py``: its PDF (1.4, classic cross-reference table) and its
    bookmarks (level, label, page index, x, y)."""
    return _render(html, roots=roots, time_limit=time_limit, on_progress=on_progress, section=True, tagged=tagged)


def _render(
    html: str,
    *,
    roots: Sequence[Path],
    time_limit: float,
    on_progress: Callable[[int], None] | None = None,
    every: float = 1.0,
    section: bool = False,
    tagged: bool = True,
) -> tuple[bytes, list]:
    """PDF/A-3b bytes of ``html``, made in a child process that is ended after ``time_limit`` seconds
    (:class:`PdfTimeLimitExceeded`). Every URL asked for is logged on ``portal.reports.pdf`` (DEBUG when served,
    WARNING when refused) with ``extra={"pdf_url": url, "pdf_served": bool}``; WeasyPrint's warnings are logged
    under its own logger names. ``on_progress(pages_laid_out)`` is called about every ``every`` seconds, on the
    calling thread (so it may use the database)."""
    context = _processes()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child,
        args=(sender, html, [str(root) for root in roots], section, tagged),
        name="pdf-render",
        daemon=True,
    )
    deadline = time.monotonic() + time_limit
    child.start()
    sender.close()
    pages, told, bookmarks = 0, time.monotonic(), []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PdfTimeLimitExceeded(f"the PDF took longer than {time_limit:g} s and was stopped")
            if receiver.poll(min(left, every)):
                try:
                    message = receiver.recv()
                except EOFError:
                    child.join(TERMINATE_GRACE)
                    raise PdfError(f"the PDF renderer ended without a PDF (exit code {child.exitcode})") from None
                kind, *payload = message
                if kind == "pdf":
                    return payload[0], bookmarks
                if kind == "bookmarks":
                    bookmarks = payload[0]
                if kind == "error":
                    raise PdfError(payload[0])
                if kind == "url":
                    url, refusal = payload
                    if refusal:
                        logger.warning("PDF resource refused: %s", refusal, extra={"pdf_url": url, "pdf_served": False})
                    else:
                        logger.debug("PDF resource served: %s", url, extra={"pdf_url": url, "pdf_served": True})
                elif kind == "log":
                    name, level, text = payload
                    logging.getLogger(name).log(level, "%s", text)
                elif kind == "pages":
                    pages = max(pages, payload[0])
                elif kind == "usage":
                    cpu, peak_kib = payload
                    logger.debug(
                        "PDF rendered in %.1f s of CPU, peak memory %.0f MiB",
                        cpu,
                        peak_kib / 1024,
                        extra={"pdf_cpu": cpu, "pdf_peak_kib": peak_kib},
                    )
            if on_progress is not None and time.monotonic() - told >= every:
                told = time.monotonic()
                on_progress(pages)
    finally:
        receiver.close()
        _end(child)


def _end(child) -> None:
    """End ``child`` if it still runs (SIGTERM, then SIGKILL) and reap it."""
    if child.is_alive():
        child.terminate()
        child.join(TERMINATE_GRACE)
    if child.is_alive():
        child.kill()
    child.join()
    child.close()
