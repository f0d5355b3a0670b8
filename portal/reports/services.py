"""Writes of the reports app: requesting and building the approval report (kept and reused until the data behind
it changes), and the audit record of every export."""

from __future__ import annotations

import hashlib
import io
import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.calls.models import Call

from .documents import approval_report_pdf, approval_report_reference
from .enums import DocumentKind, DocumentStatus
from .models import GeneratedDocument
from .pdf import PdfTimeLimitExceeded
from .selectors import approval_report_data

logger = logging.getLogger(__name__)

GATHERED = 10
LAID_OUT = 90


def _require(actor, permission: str, obj=None) -> None:
    if actor is not None and not actor.has_perm(permission, obj):
        raise PermissionDenied(permission)


def report_version(*, call: Call, fingerprint: str, kind: str = DocumentKind.APPROVAL_REPORT) -> int:
    """The version number of the report for this state of the data: the one already given to this fingerprint
    (in any language), else one more than the highest so far."""
    found = (
        GeneratedDocument.objects.filter(kind=kind, call=call, fingerprint=fingerprint)
        .values_list("version", flat=True)
        .first()
    )
    if found is not None:
        return found
    highest = GeneratedDocument.objects.filter(kind=kind, call=call).aggregate(v=Max("version"))["v"] or 0
    return highest + 1


@transaction.atomic
def approval_report_request(*, call: Call, language: str, actor) -> GeneratedDocument:
    """Ask for the approval report of ``call`` in ``language``. The document made for the same data (same
    fingerprint) is reused: ready, or still being generated. Otherwise a new one is queued (after commit). A failed
    one is queued again."""
    from .tasks import approval_report_task

    _require(actor, "portal.reports.request_report", call)
    call = Call.objects.select_for_update().get(pk=call.pk)  # one version number per fingerprint, even in a race
    fingerprint = approval_report_data(call=call).fingerprint()
    document = GeneratedDocument.objects.filter(
        kind=DocumentKind.APPROVAL_REPORT, call=call, language=language, fingerprint=fingerprint
    ).first()
    reused = document is not None and document.status != DocumentStatus.FAILED
    if document is None:
        document = GeneratedDocument(
            kind=DocumentKind.APPROVAL_REPORT,
            call=call,
            language=language,
            fingerprint=fingerprint,
            version=report_version(call=call, fingerprint=fingerprint),
            reference=approval_report_reference(call),
            requested_by=actor,
        )
        document.full_clean()
        document.save()
    elif not reused:
        document.status, document.progress, document.stage, document.error = DocumentStatus.QUEUED, 0, "", ""
        document.requested_by = actor
        document.full_clean()
        document.save(update_fields=["status", "progress", "stage", "error", "requested_by"])
    audit_record(
        actor=actor,
        action="reports.approval_report_request",
        obj=call,
        after={
            "document": document.pk,
            "language": language,
            "version": document.version,
            "fingerprint": fingerprint,
            "reused": reused,
        },
    )
    if not reused:
        document_id = document.pk
        transaction.on_commit(lambda: approval_report_task.delay(document_id))
    return document


def _progress(document_id: int, progress: int, stage: str, **fields) -> None:
    GeneratedDocument.objects.filter(pk=document_id).update(progress=progress, stage=stage, **fields)


def approval_report_build(*, document_id: int) -> GeneratedDocument:
    """Generate a queued approval report and store it (the Celery task's body). Safe to run twice: a finished
    document is left alone. Not one transaction, so that progress is visible while it runs."""
    document = GeneratedDocument.objects.select_related("call").get(pk=document_id)
    if document.is_finished:
        return document
    _progress(document_id, 1, _("Gathering the data"), status=DocumentStatus.RUNNING, started_at=timezone.now())
    call = document.call
    data = approval_report_data(call=call)
    fingerprint = data.fingerprint()
    if fingerprint != document.fingerprint:
        # The data changed while the report waited: this document now stands for the new data, unless another
        # one already does.
        if GeneratedDocument.objects.filter(
            kind=document.kind, call=call, language=document.language, fingerprint=fingerprint
        ).exists():
            return _fail(document, _("The data changed while the report waited; request it again."))
        document.fingerprint = fingerprint
        document.version = report_version(call=call, fingerprint=fingerprint)
        document.save(update_fields=["fingerprint", "version"])
    expected_pages = max(len(data.rows) // 12 + 6, 1)

    def on_progress(pages: int) -> None:
        share = min(pages / expected_pages, 1.0)
        _progress(
            document_id,
            GATHERED + int((LAID_OUT - GATHERED) * share),
            _("Laying out page %(page)s") % {"page": pages} if pages else _("Preparing the layout"),
        )

    _progress(document_id, GATHERED, _("Preparing the layout"))
    try:
        pdf = approval_report_pdf(
            call=call,
            language=document.language,
            data=data,
            version=str(document.version),
            on_progress=on_progress,
        )
    except SoftTimeLimitExceeded:
        raise  # the task's own limit: the task records it (approval_report_stopped)
    except PdfTimeLimitExceeded:
        logger.warning("Approval report %s stopped at its time limit", document)
        return _fail(document, _too_long(approval_report_time_limit()))
    except Exception as exc:
        logger.exception("Approval report %s failed", document)
        return _fail(document, str(exc) or exc.__class__.__name__)
    return _store(document, pdf)


def approval_report_time_limit() -> float:
    """Seconds the approval report's render may take (``PORTAL_APPROVAL_REPORT_TIME_LIMIT``)."""
    return float(settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT)


def _too_long(seconds: float) -> str:
    return _(
        "The report took longer than %(seconds)s seconds to make and was stopped. Request it again later; if it "
        "is stopped again, tell the portal's administrators."
    ) % {"seconds": f"{seconds:g}"}


def approval_report_stopped(*, document_id: int, seconds: float) -> GeneratedDocument:
    """Record that the task making the report was stopped at its (soft) time limit of ``seconds``, unless the
    document was finished meanwhile."""
    document = GeneratedDocument.objects.get(pk=document_id)
    if document.is_finished:
        return document
    logger.warning("Approval report %s stopped by the task's time limit", document)
    return _fail(document, _too_long(seconds))


@transaction.atomic
def _store(document: GeneratedDocument, pdf: bytes) -> GeneratedDocument:
    from pypdf import PdfReader

    document = GeneratedDocument.objects.select_for_update().get(pk=document.pk)
    if document.is_finished:
        return document
    document.file.save(document.download_name, ContentFile(pdf), save=False)
    document.pages = len(PdfReader(io.BytesIO(pdf)).pages)
    document.size = len(pdf)
    document.sha256 = hashlib.sha256(pdf).hexdigest()
    document.status = DocumentStatus.SUCCEEDED
    document.progress = 100
    document.stage = _("Ready")
    document.finished_at = timezone.now()
    document.full_clean()
    document.save()
    return document


def _fail(document: GeneratedDocument, message: str) -> GeneratedDocument:
    document.status = DocumentStatus.FAILED
    document.error = message[:2000]
    document.stage = _("Failed")
    document.finished_at = timezone.now()
    document.save(update_fields=["status", "error", "stage", "finished_at"])
    return document


@transaction.atomic
def export_record(*, actor, action: str, obj=None, details: dict | None = None) -> None:
    """Audit one export (download of a report, a letter, a spreadsheet or open data). ``actor`` None: the command
    line."""
    if not action.startswith("reports."):
        raise ValidationError("export actions are named reports.*")
    audit_record(actor=actor, action=action, obj=obj, after=details or {})
