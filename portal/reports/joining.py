"""One PDF from documents rendered in sections, written as it is read, so that joining holds one section at a time.

A long document (the approval report of a call with thousands of proposals) is laid out by WeasyPrint in sections
of a bounded size, each in its own render process (``renderer.render_section``), because WeasyPrint keeps every
page of a document in memory until it writes it. This module makes the one document the reader gets:

* the sections' objects are copied byte for byte, renumbered, into one file: every page, font, image and the
  structure tree of each (the tags that let a screen reader read headings, paragraphs and tables in order);
* one page tree, one structure tree (one ``Document`` element whose children are the sections' elements, one parent
  tree whose keys are the pages' ``StructParents`` in order), one outline made from the sections' bookmarks with
  their levels, and the first section's PDF/A metadata (XMP), output intent, document information and language;
* the page numbers ("Page X of Y") are drawn onto each page from a separate document of page numbers only, made
  once the total is known: each of its pages becomes a form drawn at the end of the page it numbers, marked as a
  pagination artifact.

Python objects are made only for the few objects that tie a section together (catalogue, page tree, structure
root, parent tree, outline); everything else stays bytes, streams written as they come and other objects packed
into compressed object streams, with a cross-reference stream at the end. The sections come from WeasyPrint through
``renderer.render_section``: PDF 1.4 files with a classic cross-reference table and one object after another in
number order (no object streams), which is what ``_Source`` reads; anything else is refused with ``JoinError``.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

# First global object numbers: the objects made here.
PAGES, CATALOG, STRUCT_ROOT, DOCUMENT, PARENT_TREE, OUTLINES, OPEN_PAGE = range(1, 8)
FIRST_FREE = 8
# Objects other than streams per compressed object stream.
PACK = 200

# A literal string (copied as it is) or an indirect reference (renumbered). Our PDF writer (pydyf) escapes every
# parenthesis and backslash in literal strings and writes other strings in hexadecimal, which never look like
# references.
_TOKEN = re.compile(rb"\((?:[^\\()]|\\.)*\)|(\d+) 0 R", re.S)
_NUMS_TOKEN = re.compile(rb"(\d+) 0 R|(\d+)|(\[)|(\])")
# The number of the page in the page-number document is drawn under this name in each page's resources.
_NUMBER_FORM = b"/AissPageNumber%d"


class JoinError(ValueError):
    """A section is not a PDF this module can join."""


@dataclass(frozen=True)
class Bookmark:
    level: int
    label: str
    page: int  # index of the page in its section
    x: float  # PDF points from the page's bottom-left corner
    y: float


@dataclass(frozen=True)
class Section:
    pdf: bytes
    bookmarks: Sequence[Bookmark] = ()


# ---- Reading one section ------------------------------------------------------------------------------------------


class _Source:
    """One PDF written by pydyf without object streams: its objects' bytes by number."""

    def __init__(self, data: bytes):
        self.data = data
        try:
            start = int(data[data.rindex(b"startxref") + 9 :].split()[0])
            lines = data[start:].split(b"\n", 2)
            if lines[0].strip() != b"xref":
                raise JoinError("not a PDF with a classic cross-reference table")
            first, count = (int(value) for value in lines[1].split())
            table = lines[2]
            offsets = {}
            for index in range(count):
                entry = table[index * 20 : index * 20 + 18].split()
                if entry[2] == b"n":
                    offsets[first + index] = int(entry[0])
            trailer = data[data.index(b"trailer", start) :]
        except (ValueError, IndexError) as exc:
            raise JoinError(f"unreadable cross-reference table: {exc}") from exc
        self.root = _ref(trailer, b"Root")
        self.info = _ref(trailer, b"Info", required=False)
        order = sorted(offsets.items(), key=lambda item: item[1])
        ends = [offset for _number, offset in order[1:]] + [start]
        self.spans = {number: (offset, end) for (number, offset), end in zip(order, ends, strict=True)}

    def numbers(self) -> list[int]:
        return sorted(self.spans)

    def body(self, number: int) -> bytes:
        """What is between ``N 0 obj`` and ``endobj``."""
        start, end = self.spans[number]
        chunk = self.data[start:end]
        header = b"%d 0 obj\n" % number
        if not chunk.startswith(header):
            raise JoinError(f"object {number} is not where the cross-reference table says")
        chunk = chunk[len(header) :].rstrip()
        if not chunk.endswith(b"endobj"):
            raise JoinError(f"object {number} does not end with endobj")
        return chunk[:-6].rstrip(b"\n")

    def head(self, number: int) -> bytes:
        """The object's dictionary (or value), without its stream data."""
        body = self.body(number)
        split = body.find(b">>\nstream\n")
        return body if split < 0 else body[: split + 2]


def _ref(text: bytes, key: bytes, *, required: bool = True) -> int | None:
    match = re.search(rb"/" + key + rb" (\d+) 0 R", text)
    if match is None:
        if required:
            raise JoinError(f"no /{key.decode()} reference")
        return None
    return int(match[1])


def _refs(text: bytes, key: bytes) -> list[int]:
    match = re.search(rb"/" + key + rb" \[([^\]]*)\]", text)
    if match is None:
        raise JoinError(f"no /{key.decode()} array")
    return [int(number) for number in re.findall(rb"(\d+) 0 R", match[1])]


def _value(text: bytes, key: bytes) -> bytes | None:
    """The value of ``/key`` in a dictionary's text: a balanced array or dictionary, a string or a token."""
    match = re.search(rb"/" + key + rb"(?=[\s\[<(/])\s*", text)
    if match is None:
        return None
    start = index = match.end()
    depth = 0
    while index < len(text):
        if text[index : index + 1] == b"(":
            string = _TOKEN.match(text, index)
            index = string.end()
            if depth == 0:
                return text[start:index]
            continue
        if text.startswith(b"<<", index) or text[index : index + 1] == b"[":
            depth += 1
            index += 2 if text[index : index + 1] == b"<" else 1
            continue
        if text.startswith(b">>", index) or text[index : index + 1] == b"]":
            if depth == 0:
                return text[start:index].strip()
            depth -= 1
            index += 2 if text[index : index + 1] == b">" else 1
            if depth == 0:
                return text[start:index]
            continue
        if depth == 0 and text[index : index + 1] == b"/" and index > start:
            return text[start:index].strip()
        index += 1
    return text[start:].strip()


# ---- Writing the joined document ----------------------------------------------------------------------------------


class _Writer:
    """Writes objects as they come: streams at once, other objects packed into compressed object streams of
    :data:`PACK` objects; ends with a cross-reference stream."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.position = 0
        # Per object number: 1 and the offset of a written object, or 2, the object stream and the index in it.
        self.kinds = array("B", [0] * FIRST_FREE)
        self.fields = array("Q", [0] * FIRST_FREE)
        self.indexes = array("H", [0] * FIRST_FREE)
        self.pending: list[tuple[int, bytes]] = []
        self._emit(b"%PDF-1.7\n%\xf0\x9f\x96\xa4\n")

    def _emit(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def reserve(self, count: int = 1) -> int:
        first = len(self.kinds)
        self.kinds.extend([0] * count)
        self.fields.extend([0] * count)
        self.indexes.extend([0] * count)
        return first

    def write(self, number: int, body: bytes, *, stream: bool = False) -> None:
        if stream:
            self._write_now(number, body)
            return
        self.pending.append((number, body))
        if len(self.pending) >= PACK:
            self.flush()

    def _write_now(self, number: int, body: bytes) -> None:
        self.kinds[number], self.fields[number] = 1, self.position
        self._emit(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def flush(self) -> None:
        if not self.pending:
            return
        stream = self.reserve()
        offsets, position = [], 0
        for index, (number, body) in enumerate(self.pending):
            self.kinds[number], self.fields[number], self.indexes[number] = 2, stream, index
            offsets.append(b"%d %d" % (number, position))
            position += len(body) + 1
        header = b" ".join(offsets) + b"\n"
        data = zlib.compress(header + b"\n".join(body for _number, body in self.pending) + b"\n")
        self.pending = []
        self._write_now(
            stream,
            b"<</Type /ObjStm/N %d/First %d/Filter /FlateDecode/Length %d>>\nstream\n%s\nendstream"
            % (len(offsets), len(header), len(data), data),
        )

    def finish(self, *, info: int | None, identifier: bytes) -> None:
        self.flush()
        xref = self.reserve()
        self.kinds[xref], self.fields[xref] = 1, self.position
        rows = [b"\x00\x00\x00\x00\x00\xff\xff"]
        for number in range(1, len(self.kinds)):
            kind = self.kinds[number]
            if not kind:
                raise JoinError(f"object {number} was reserved but never written")
            rows.append(
                bytes([kind]) + self.fields[number].to_bytes(4, "big") + self.indexes[number].to_bytes(2, "big")
            )
        data = zlib.compress(b"".join(rows))
        ident = b"<" + identifier.hex().encode() + b">"
        head = b"<</Type /XRef/Size %d/W [1 4 2]/Root %d 0 R" % (len(self.kinds), CATALOG)
        if info:
            head += b"/Info %d 0 R" % info
        head += b"/ID [%s %s]/Filter /FlateDecode/Length %d>>" % (ident, ident, len(data))
        start = self.position
        self._emit(b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (xref, head, data))
        self._emit(b"startxref\n%d\n%%%%EOF\n" % start)


def _renumber(text: bytes, mapping: dict[int, int]) -> bytes:
    def replace(match: re.Match) -> bytes:
        if match[1] is None:
            return match[0]
        try:
            return b"%d 0 R" % mapping[int(match[1])]
        except KeyError:
            raise JoinError(f"reference to object {match[1]}, which is not copied") from None

    return _TOKEN.sub(replace, text)


_SUBSET_TAG = re.compile(rb"/([A-Z]{6})\+")


def _retag(head: bytes, salt: bytes) -> bytes:
    """A font subset's name with a tag of its own: each section (and the page numbers) embeds its own subsets of
    the same fonts, and different subsets in one file must have different tags (ISO 32000-1, 9.6.4)."""
    if b"/BaseFont" not in head and b"/FontName" not in head:
        return head

    def tag(match: re.Match) -> bytes:
        digest = hashlib.sha256(salt + match[1]).digest()
        return b"/" + bytes(65 + byte % 26 for byte in digest[:6]) + b"+"

    return _SUBSET_TAG.sub(tag, head)


def _page_forms(writer: _Writer, numbers: bytes) -> list[int]:
    """Copy the page-number document as one form per page; their global numbers, in page order."""
    source = _Source(numbers)
    catalog = source.head(source.root)
    pages_root = _ref(catalog, b"Pages")
    pages = _refs(source.head(pages_root), b"Kids")
    skipped = {source.root, pages_root, source.info, *pages}
    for key in (b"Metadata", b"Outlines", b"StructTreeRoot"):
        skipped.add(_ref(catalog, key, required=False))
    outline = _ref(catalog, b"Outlines", required=False)
    skipped |= _outline_objects(source, outline)
    kept = [number for number in source.numbers() if number not in skipped]
    first = writer.reserve(len(kept))
    mapping = {number: first + index for index, number in enumerate(kept)}
    forms = {}
    for page in pages:
        head = source.head(page)
        contents = _ref(head, b"Contents")
        resources = _ref(head, b"Resources")
        box = _value(head, b"MediaBox")
        forms[contents] = b"/Type /XObject/Subtype /Form/BBox %s/Resources %d 0 R" % (box, mapping[resources])
    for number in kept:
        body = source.body(number)
        split = body.find(b">>\nstream\n")
        head, stream = (body, b"") if split < 0 else (body[: split + 2], body[split + 2 :])
        head = _retag(_renumber(head, mapping), b"page numbers")
        if number in forms:
            head = b"<<" + forms[number] + head[2:]
        writer.write(mapping[number], head + stream, stream=bool(stream))
    return [mapping[_ref(source.head(page), b"Contents")] for page in pages]


def _outline_objects(source: _Source, outline: int | None) -> set[int]:
    found, stack = set(), [outline] if outline else []
    while stack:
        number = stack.pop()
        if number in found:
            continue
        found.add(number)
        head = source.head(number)
        stack.extend(n for n in (_ref(head, b"First", required=False), _ref(head, b"Next", required=False)) if n)
    return found


@dataclass
class _Joined:
    page_refs: list[int]
    top_elements: list[int]
    nums: list[bytes]
    next_key: int
    bookmarks: list[tuple[int, str, int, float, float]]
    catalog_extra: bytes = b""
    info: int | None = None
    identifiers: list[bytes] | None = None


def _copy_section(writer: _Writer, section: Section, joined: _Joined, forms: Sequence[int], first: bool) -> None:
    source = _Source(section.pdf)
    catalog = source.head(source.root)
    pages_root = _ref(catalog, b"Pages")
    struct_root = _ref(catalog, b"StructTreeRoot")
    struct = source.head(struct_root)
    parent_tree = _ref(struct, b"ParentTree")
    documents = _refs(struct, b"K")
    if len(documents) != 1:
        raise JoinError("the structure tree has no single Document element")
    document = documents[0]
    metadata = _ref(catalog, b"Metadata", required=False)
    pages = _refs(source.head(pages_root), b"Kids")
    skipped = {source.root, pages_root, struct_root, parent_tree, document, source.info}
    skipped |= _outline_objects(source, _ref(catalog, b"Outlines", required=False))
    if not first:
        skipped.add(metadata)
    kept = [number for number in source.numbers() if number not in skipped]
    base = writer.reserve(len(kept))
    mapping = {number: base + index for index, number in enumerate(kept)}
    mapping.update({pages_root: PAGES, document: DOCUMENT, struct_root: STRUCT_ROOT})
    page_offset = len(joined.page_refs)
    key_offset = joined.next_key

    # Each page: its own content between "q" and "Q" (so the number is drawn in the page's own coordinates), then
    # its number, as a pagination artifact.
    numbering = writer.reserve(len(pages))
    page_edits: dict[int, int] = {}
    resources: set[int] = set()
    for index, page in enumerate(pages):
        head = source.head(page)
        page_edits[page] = page_offset + index
        resources.add(_ref(head, b"Resources"))
    for index in range(len(pages)):
        page_index = page_offset + index
        draw = b"Q\nq /Artifact <</Type /Pagination/Subtype /Footer>> BDC %s Do EMC Q" % (_NUMBER_FORM % page_index)
        writer.write(numbering + index, b"<</Length %d>>\nstream\n%s\nendstream" % (len(draw), draw), stream=True)

    for number in kept:
        body = source.body(number)
        split = body.find(b">>\nstream\n")
        head, stream = (body, b"") if split < 0 else (body[: split + 2], body[split + 2 :])
        head = _renumber(head, mapping)
        if not first:
            head = _retag(head, b"section %d" % len(joined.identifiers))
        if number in page_edits:
            page_index = page_edits[number]
            local = page_index - page_offset
            head = re.sub(
                rb"/Contents (\d+) 0 R",
                lambda m, i=local: b"/Contents [%d 0 R %s 0 R %d 0 R]" % (OPEN_PAGE, m[1], numbering + i),
                head,
            )
            head = re.sub(rb"/StructParents (\d+)", lambda m: b"/StructParents %d" % (key_offset + int(m[1])), head)
        elif number in resources:
            names = b"".join(
                (_NUMBER_FORM % page_index) + b" %d 0 R" % forms[page_index]
                for page_index in range(page_offset, page_offset + len(pages))
            )
            if b"/XObject <<" not in head:
                raise JoinError("the pages' resources have no XObject dictionary")
            head = head.replace(b"/XObject <<", b"/XObject <<" + names, 1)
        elif re.search(rb"/StructParent (\d+)", head):  # a link or form field tagged in the structure tree
            head = re.sub(rb"/StructParent (\d+)", lambda m: b"/StructParent %d" % (key_offset + int(m[1])), head)
        writer.write(mapping[number], head + stream, stream=bool(stream))

    joined.page_refs.extend(mapping[page] for page in pages)
    joined.top_elements.extend(mapping[number] for number in _refs(source.head(document), b"K"))
    joined.nums.append(_shift_nums(source.head(parent_tree), key_offset, mapping, joined))
    for bookmark in section.bookmarks:
        joined.bookmarks.append((bookmark.level, bookmark.label, mapping[pages[bookmark.page]], bookmark.x, bookmark.y))
    trailer = section.pdf[section.pdf.rindex(b"trailer") :]
    joined.identifiers.append(trailer)
    if first:
        extra = b""
        for key in (b"Lang", b"OutputIntents"):
            value = _value(catalog, key)
            if value is not None:
                extra += b"/" + key + b" " + _renumber(value, mapping)
        if metadata:
            extra += b"/Metadata %d 0 R" % mapping[metadata]
        joined.catalog_extra = extra
        if source.info:
            info = writer.reserve()
            writer.write(info, _renumber(source.body(source.info), mapping))
            joined.info = info


def _shift_nums(parent_tree: bytes, key_offset: int, mapping: dict[int, int], joined: _Joined) -> bytes:
    """The parent tree's ``/Nums`` entries with keys moved by ``key_offset`` and references renumbered."""
    start = parent_tree.find(b"/Nums [")
    if start < 0:
        raise JoinError("the parent tree has no /Nums array (a tree with /Kids is not read)")
    out, depth, expect_key, top_key = [], 0, True, -1
    for match in _NUMS_TOKEN.finditer(parent_tree, start + 7):
        ref, number, opening, closing = match.groups()
        if closing:
            if depth == 0:
                break
            depth -= 1
            out.append(b"]")
            if depth == 0:
                expect_key = True
        elif opening:
            depth += 1
            out.append(b"[")
        elif ref is not None:
            out.append(b"%d 0 R" % mapping[int(ref)])
            if depth == 0:
                expect_key = True
        elif depth == 0 and expect_key:
            key = int(number)
            top_key = max(top_key, key)
            out.append(b"%d" % (key_offset + key))
            expect_key = False
        else:
            out.append(number)
    joined.next_key = key_offset + top_key + 1
    return b" ".join(out)


def _write_outline(writer: _Writer, bookmarks: list[tuple[int, str, int, float, float]]) -> bool:
    """The outline from the bookmarks (level, label, page, x, y), nested by level as WeasyPrint nests them."""
    if not bookmarks:
        return False
    from pydyf import String

    numbers = [writer.reserve() for _ in bookmarks]
    parents: list[int | None] = []
    children: dict[int | None, list[int]] = {None: []}
    stack: list[tuple[int, int]] = []  # (level, index)
    for index, (level, *_rest) in enumerate(bookmarks):
        while stack and stack[-1][0] >= level:
            stack.pop()
        parent = stack[-1][1] if stack else None
        parents.append(parent)
        children.setdefault(parent, []).append(index)
        children.setdefault(index, [])
        stack.append((level, index))

    def descendants(index: int | None) -> int:
        return sum(1 + descendants(child) for child in children[index])

    for index, (_level, label, page, x, y) in enumerate(bookmarks):
        parent = parents[index]
        siblings = children[parent]
        position = siblings.index(index)
        parts = [
            b"/Title " + String(label).data,
            b"/Dest [%d 0 R /XYZ %s %s 0]" % (page, _number(x), _number(y)),
            b"/Parent %d 0 R" % (OUTLINES if parent is None else numbers[parent]),
            b"/Count %d" % descendants(index),
        ]
        if position:
            parts.append(b"/Prev %d 0 R" % numbers[siblings[position - 1]])
        if position + 1 < len(siblings):
            parts.append(b"/Next %d 0 R" % numbers[siblings[position + 1]])
        if children[index]:
            parts.append(b"/First %d 0 R/Last %d 0 R" % (numbers[children[index][0]], numbers[children[index][-1]]))
        writer.write(numbers[index], b"<<" + b"".join(parts) + b">>")
    top = children[None]
    writer.write(
        OUTLINES,
        b"<</Count %d/First %d 0 R/Last %d 0 R>>" % (len(bookmarks), numbers[top[0]], numbers[top[-1]]),
    )
    return True


def _number(value: float) -> bytes:
    return (b"%.6f" % value).rstrip(b"0").rstrip(b".")


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of each page of a section."""
    source = _Source(pdf)
    pages = _refs(source.head(_ref(source.head(source.root), b"Pages")), b"Kids")
    sizes = []
    for page in pages:
        left, bottom, right, top = (float(v) for v in _value(source.head(page), b"MediaBox").strip(b"[]").split())
        sizes.append((right - left, top - bottom))
    return sizes


def join(sections: Iterable[Section], *, page_numbers: bytes, out: BinaryIO) -> int:
    """Write the one PDF of ``sections`` (in order) to ``out``, each page numbered by the page of the same index in
    ``page_numbers`` (a PDF with as many pages, drawn without tags). Returns the number of pages. Each section is
    read when its turn comes: pass a generator to hold only one at a time."""
    writer = _Writer(out)
    forms = _page_forms(writer, page_numbers)
    joined = _Joined([], [], [], 0, [], identifiers=[])
    for index, section in enumerate(sections):
        _copy_section(writer, section, joined, forms, first=index == 0)
    if len(joined.page_refs) != len(forms):
        raise JoinError(f"{len(joined.page_refs)} pages but {len(forms)} page numbers")
    has_outline = _write_outline(writer, joined.bookmarks)
    writer.write(OPEN_PAGE, b"<</Length 1>>\nstream\nq\nendstream", stream=True)
    kids = b" ".join(b"%d 0 R" % number for number in joined.page_refs)
    writer.write(PAGES, b"<</Type /Pages/Kids [%s]/Count %d>>" % (kids, len(joined.page_refs)))
    writer.write(PARENT_TREE, b"<</Nums [%s]>>" % b" ".join(joined.nums))
    tops = b" ".join(b"%d 0 R" % number for number in joined.top_elements)
    writer.write(DOCUMENT, b"<</Type /StructElem/S /Document/K [%s]/P %d 0 R>>" % (tops, STRUCT_ROOT))
    writer.write(
        STRUCT_ROOT,
        b"<</Type /StructTreeRoot/ParentTree %d 0 R/ParentTreeNextKey %d/K [%d 0 R]>>"
        % (PARENT_TREE, joined.next_key, DOCUMENT),
    )
    catalog = b"<</Type /Catalog/Pages %d 0 R" % PAGES
    if has_outline:
        catalog += b"/Outlines %d 0 R" % OUTLINES
    catalog += b"/StructTreeRoot %d 0 R/ViewerPreferences <</DisplayDocTitle true>>/MarkInfo <</Marked true>>" % (
        STRUCT_ROOT
    )
    writer.write(CATALOG, catalog + joined.catalog_extra + b">>")
    if not has_outline:
        writer.write(OUTLINES, b"<</Count 0>>")
    identifier = hashlib.md5(b"".join(joined.identifiers), usedforsecurity=False).digest()
    writer.finish(info=joined.info, identifier=identifier)
    return len(joined.page_refs)
