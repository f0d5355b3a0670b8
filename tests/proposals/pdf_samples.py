"""Hostile PDFs (and a ZIP bomb) made on the spot with pypdf and zlib, for the upload checks."""

import functools
import io
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _one_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


@functools.cache
def zeros_deflated(size: int) -> bytes:
    """``size`` zero bytes, zlib-compressed (fast level 1: about 1 MB per 220 MB)."""
    compressor = zlib.compressobj(1)
    chunk = b"\0" * (16 * 1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(compressor.compress(b"\0" * (size % len(chunk))))
    parts.append(compressor.flush())
    return b"".join(parts)


def _flate_stream(writer: PdfWriter, compressed: bytes):
    stream = StreamObject()
    stream.set_data(b"")
    stream._data = compressed
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Length")] = NumberObject(len(compressed))
    return writer._add_object(stream)


@functools.cache
def bomb_pdf(inflated: int = 320 * 1024 * 1024, *, twice: bool = False) -> bytes:
    """A one-page PDF whose page content is a flate stream expanding to ``inflated`` bytes (compressed once more
    with ``twice``, so that only the inner layer is the bomb)."""
    writer = _one_page()
    data = zeros_deflated(inflated)
    if twice:
        data = zlib.compress(data, 9)
    page = writer.pages[0]
    page[NameObject("/Contents")] = _flate_stream(writer, data)
    return _written(writer)


def javascript_pdf() -> bytes:
    """A document-level script (the catalog's /Names /JavaScript tree), as Acrobat writes one."""
    writer = _one_page()
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('hello');")}
    )
    tree = DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("hello"), writer._add_object(action)])}
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): writer._add_object(tree)})
    return _written(writer)


def launch_pdf() -> bytes:
    """Opens by launching a program."""
    writer = _one_page()
    action = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _written(writer)


def uri_open_action_pdf() -> bytes:
    """Opens a web address on opening (an action other than showing a page)."""
    writer = _one_page()
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("https://evil.example/")}
    )
    writer._root_object[NameObject("/OpenAction")] = action
    return _written(writer)


def goto_open_action_pdf() -> bytes:
    """Opens at its first page, fitted to the window, as LaTeX writes: harmless."""
    writer = _one_page()
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [writer.pages[0].indirect_reference, NameObject("/Fit")]
    )
    return _written(writer)


def embedded_file_pdf() -> bytes:
    writer = _one_page()
    writer.add_attachment("payload.exe", b"MZ not really a program")
    return _written(writer)


def xfa_pdf() -> bytes:
    writer = _one_page()
    xfa = StreamObject()
    xfa.set_data(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'></xdp:xdp>")
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): writer._add_object(xfa)}
    )
    return _written(writer)


def hex_escaped_javascript_pdf() -> bytes:
    """JavaScript whose names are written with ``#xx`` escapes (``/J#61vaScript``), as evasive files do."""
    data = javascript_pdf()
    escaped = data.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")
    assert escaped != data
    return escaped


@functools.cache
def zip_bomb() -> bytes:
    """A ZIP file whose one member expands to 256 MiB."""
    buffer = io.BytesIO()
    chunk = b"\0" * (16 * 1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(16):
            member.write(chunk)
    return buffer.getvalue()
