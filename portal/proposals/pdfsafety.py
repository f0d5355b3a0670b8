"""What an uploaded PDF must not carry, checked before anyone opens it (OWASP ASVS 5.0, V5 files).

Two checks, both with bounded memory and work:

* :func:`inflated_size_check`: a *decompression bomb* (a small file whose compressed streams expand to gigabytes)
  is found without ever expanding a stream whole: every stream of the file is inflated piece by piece with
  ``zlib.decompressobj`` and ``max_length``, the pieces are counted and dropped, and the count stops at the limit.
  Streams compressed twice are followed through each layer the same way.
* :func:`active_content_problems`: JavaScript, an action run on opening or on other events, a launch action,
  embedded files and XFA forms are found by reading every object of the file with pypdf (which parses names with
  ``#xx`` escapes as the viewer would), without decoding any stream, and at most ``MAX_OBJECTS`` objects.

An ``/OpenAction`` that only opens the document at a page (a destination, or a ``/GoTo`` action, as LaTeX and
word processors write) is harmless and accepted; any other action on opening is refused."""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# One piece of inflated output; the most held in memory at once for a stream.
PIECE = 64 * 1024
# Input fed to zlib at a time.
FEED = 64 * 1024
# Layers of compression followed inside one stream (deeper ones are counted as they are, not inflated).
MAX_LAYERS = 3
# Objects read from one file at most: a document with more is refused as too complex.
MAX_OBJECTS = 200_000

STREAM_START = re.compile(rb"stream(?:\r\n|\n|\r)")
ZLIB_HEADER_FIRST = frozenset({0x08, 0x18, 0x28, 0x38, 0x48, 0x58, 0x68, 0x78})


class InflationLimit(Exception):
    """The compressed content expands to more than the limit."""


class _Budget:
    """Bytes read and written by zlib so far, for the whole file; over ``limit`` is a bomb. Counting what is read
    too bounds the work on a file crafted with many overlapping streams."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise InflationLimit


def _looks_like_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] in ZLIB_HEADER_FIRST and ((head[0] << 8) | head[1]) % 31 == 0


def _inflate(pieces: Iterator[bytes], budget: _Budget) -> Iterator[bytes]:
    """Inflate the zlib stream given in ``pieces``, yielding at most ``PIECE`` bytes at a time (each counted);
    stops quietly at the stream's end or where the data is not (or no longer) valid zlib, as a reader would."""
    inflater = zlib.decompressobj()
    for piece in pieces:
        budget.spend(len(piece))
        data = piece
        while data:
            try:
                out = inflater.decompress(data, PIECE)
            except zlib.error:
                return
            if out:
                budget.spend(len(out))
                yield out
            if inflater.eof:
                return
            data = inflater.unconsumed_tail


def _drain(pieces: Iterator[bytes], budget: _Budget, depth: int) -> None:
    """Inflate one stream to its end, counting every byte; when what comes out is zlib again (a stream compressed
    twice), inflate that too, up to ``MAX_LAYERS`` deep."""
    out = _inflate(pieces, budget)
    first = next(out, None)
    if first is None:
        return
    if depth < MAX_LAYERS and _looks_like_zlib(first[:2]):
        _drain(itertools.chain([first], out), budget, depth + 1)
    for _piece in out:  # whatever the inner layer did not take is still counted
        pass


def _stream_feed(view: memoryview, start: int) -> Iterator[bytes]:
    for offset in range(start, len(view), FEED):
        yield bytes(view[offset : offset + FEED])


@dataclass(frozen=True)
class InflationReport:
    streams: int
    counted: int


def inflated_size_check(data: bytes, *, limit: int) -> InflationReport:
    """Count what every zlib-compressed stream of ``data`` expands to, holding no more than a piece of it at a
    time; raise :class:`InflationLimit` when the bytes read and written pass ``limit``."""
    view = memoryview(data)
    budget = _Budget(limit)
    streams = 0
    position = 0
    while True:
        match = STREAM_START.search(data, position)
        if match is None:
            break
        start = position = match.end()
        if _looks_like_zlib(data[start : start + 2]):
            streams += 1
            _drain(_stream_feed(view, start), budget, 1)
    return InflationReport(streams=streams, counted=budget.used)


# ---- Active content ---------------------------------------------------------------------------------------------

JAVASCRIPT = "javascript"
OPEN_ACTION = "open_action"
LAUNCH = "launch"
EMBEDDED_FILES = "embedded_files"
XFA = "xfa"
TOO_COMPLEX = "too_complex"

PROBLEM_MESSAGES = {
    JAVASCRIPT: _(
        "This PDF contains JavaScript, which could run on a reviewer's computer. Print or export it again as a "
        "plain PDF (without scripts or interactive form features) and attach that copy."
    ),
    OPEN_ACTION: _(
        "This PDF runs an action when it is opened or used (other than showing a page). Print or export it again "
        "as a plain PDF and attach that copy."
    ),
    LAUNCH: _(
        "This PDF tries to launch another program or file. Print or export it again as a plain PDF and attach "
        "that copy."
    ),
    EMBEDDED_FILES: _(
        "This PDF has other files embedded in it. Attach each document as a PDF of its own instead, and remove "
        "the embedded files."
    ),
    XFA: _(
        "This PDF is an XFA (dynamic) form, which the portal does not accept. Print it to a plain PDF and attach "
        "that copy."
    ),
    TOO_COMPLEX: _("This PDF has too many objects to be checked. Please export it again as a simpler PDF."),
}
# Actions that only show a place in the document: harmless on opening.
SHOWING_ACTIONS = frozenset({"/GoTo"})


def _action_kind(action) -> str | None:
    """What an action dictionary (``/S`` …) does, when it is one of the refused kinds."""
    kind = action.get("/S")
    if kind == "/JavaScript" or "/JS" in action:
        return JAVASCRIPT
    if kind == "/Launch":
        return LAUNCH
    return None


def active_content_problems(reader) -> list[str]:
    """The kinds of active content (``PROBLEM_MESSAGES`` keys) found in any object of the PDF read by ``reader``,
    in a fixed order; no stream is decoded."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    found: set[str] = set()
    references = [(number, generation) for generation, numbers in reader.xref.items() for number in numbers]
    references += [(number, 0) for number in reader.xref_objStm]
    if len(references) > MAX_OBJECTS:
        return [TOO_COMPLEX]
    objects = [reader.trailer]
    for number, generation in references:
        try:
            objects.append(reader.get_object(IndirectObject(number, generation, reader)))
        except Exception:  # noqa: S112 - a damaged object is found by the reader's own checks
            continue
    # Direct objects nested in these (an action dictionary written inline) are visited too, breadth first.
    seen = 0
    while objects:
        obj = objects.pop()
        seen += 1
        if seen > MAX_OBJECTS * 4:
            found.add(TOO_COMPLEX)
            break
        if isinstance(obj, DictionaryObject):
            _dictionary_problems(obj, found)
            objects.extend(v for v in obj.values() if isinstance(v, (DictionaryObject, ArrayObject)))
        elif isinstance(obj, ArrayObject):
            objects.extend(v for v in obj if isinstance(v, (DictionaryObject, ArrayObject)))
    return [key for key in PROBLEM_MESSAGES if key in found]


def _dictionary_problems(obj, found: set[str]) -> None:
    from pypdf.generic import DictionaryObject

    keys = set(obj.keys())
    if "/JS" in keys or "/JavaScript" in keys or obj.get("/S") == "/JavaScript":
        found.add(JAVASCRIPT)
    if obj.get("/S") == "/Launch":
        found.add(LAUNCH)
    if "/EmbeddedFiles" in keys or "/EF" in keys or obj.get("/Type") == "/EmbeddedFile":
        found.add(EMBEDDED_FILES)
    if "/XFA" in keys:
        found.add(XFA)
    if "/AA" in keys:
        found.add(OPEN_ACTION)
    if "/OpenAction" in keys:
        action = _resolved(obj["/OpenAction"])
        if isinstance(action, DictionaryObject) and action.get("/S") not in SHOWING_ACTIONS:
            found.add(_action_kind(action) or OPEN_ACTION)


def _resolved(value):
    try:
        return value.get_object()
    except Exception:
        return None
