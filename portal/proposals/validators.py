"""Upload checks: an attachment must really be a PDF (by content, not by name), readable, not encrypted, without
active content (scripts, actions, embedded files, XFA) and not a decompression bomb (see pdfsafety)."""

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .pdfsafety import PROBLEM_MESSAGES, InflationLimit, active_content_problems, inflated_size_check

PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class CheckedPdf:
    size: int
    sha256: str
    pages: int


def validate_pdf(upload: IO[bytes], *, size: int | None = None) -> CheckedPdf:
    """Return the size, SHA-256 and page count of a valid PDF; raise ValidationError with a clear reason."""
    limit = settings.PORTAL_MAX_ATTACHMENT_BYTES
    size = size if size is not None else getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)},
            code="too_large",
        )
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    upload.seek(0)
    head = upload.read(1024)
    if PDF_MAGIC not in head:
        raise ValidationError(
            _("This file is not a PDF. Only PDF documents can be attached; save or export it as PDF first."),
            code="not_pdf",
        )
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    if len(data) > limit:
        raise ValidationError(
            _("The file is larger than the limit of %(limit)s.") % {"limit": filesizeformat(limit)},
            code="too_large",
        )
    inflated_limit = settings.PORTAL_MAX_PDF_INFLATED_BYTES
    try:
        inflated_size_check(data, limit=inflated_limit)
    except InflationLimit as exc:
        raise ValidationError(
            _(
                'This PDF holds compressed content that expands to more than %(limit)s (a "decompression bomb"), '
                "so it cannot be accepted. Please export the document again and attach the new copy."
            )
            % {"limit": filesizeformat(inflated_limit)},
            code="bomb",
        ) from exc

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            encrypted = reader.is_encrypted
            pages = 0 if encrypted else len(reader.pages)
            problems = [] if encrypted else active_content_problems(reader)
            if not encrypted and not problems:
                for page in reader.pages[:3]:
                    page.get_contents()
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise ValidationError(
            _("This PDF is damaged and cannot be read. Please export it again and attach the new copy."),
            code="broken",
        ) from exc
    if encrypted:
        raise ValidationError(
            _("This PDF is encrypted or password-protected. Please attach a copy without a password."),
            code="encrypted",
        )
    if problems:
        raise ValidationError([ValidationError(PROBLEM_MESSAGES[p], code=p) for p in problems])
    if pages == 0:
        raise ValidationError(_("This PDF has no pages."), code="broken")
    return CheckedPdf(size=len(data), sha256=hashlib.sha256(data).hexdigest(), pages=pages)


def pdf_download_name(name: str) -> str:
    """The name an attachment is downloaded under: the uploaded file's name without any folder or control
    characters, always ending in ``.pdf`` (the file is checked to be a PDF, whatever it was called)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    if not base.lower().endswith(".pdf"):
        base = f"{base or 'document'}.pdf"
    return base if len(base) <= 255 else base[:251] + ".pdf"
