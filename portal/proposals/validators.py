"""Upload checks: an attachment must really be a PDF (by content, not by name), readable and not encrypted."""

import hashlib
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

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
    digest = hashlib.sha256()
    total = 0
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(chunk)
        total += len(chunk)
        if total > limit:
            raise ValidationError(
                _("The file is larger than the limit of %(limit)s.") % {"limit": filesizeformat(limit)},
                code="too_large",
            )
    upload.seek(0)

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(upload, strict=False)
            encrypted = reader.is_encrypted
            pages = 0 if encrypted else len(reader.pages)
            if not encrypted:
                for page in reader.pages[:3]:
                    page.get_contents()
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ValidationError(
            _("This PDF is damaged and cannot be read. Please export it again and attach the new copy."),
            code="broken",
        ) from exc
    finally:
        upload.seek(0)
    if encrypted:
        raise ValidationError(
            _("This PDF is encrypted or password-protected. Please attach a copy without a password."),
            code="encrypted",
        )
    if pages == 0:
        raise ValidationError(_("This PDF has no pages."), code="broken")
    return CheckedPdf(size=total, sha256=digest.hexdigest(), pages=pages)
