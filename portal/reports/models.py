"""Generated documents kept for reuse: a long PDF is made once per language for each state of the data behind it
(its fingerprint) and served again until that data changes."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import DocumentKind, DocumentStatus


def document_path(instance: "GeneratedDocument", filename: str) -> str:
    return f"reports/{instance.kind}/{instance.call_id}/{uuid.uuid4().hex}.pdf"


class GeneratedDocument(models.Model):
    """One generated PDF (or its generation in progress) for a call, a language and a data fingerprint."""

    kind = models.CharField(_("kind"), max_length=30, choices=DocumentKind.choices)
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="generated_documents")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    fingerprint = models.CharField(_("data fingerprint (SHA-256)"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    reference = models.CharField(_("reference"), max_length=60)
    status = models.CharField(_("status"), max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=200, blank=True)
    file = models.FileField(upload_to=document_path, max_length=255, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "call", "language", "fingerprint"], name="unique_generated_document"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="generated_document_progress_range"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(file=""), name="generated_document_ready_has_file"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} v{self.version} ({self.language})"

    @property
    def is_finished(self) -> bool:
        return self.status in (DocumentStatus.SUCCEEDED, DocumentStatus.FAILED)

    @property
    def download_name(self) -> str:
        return f"{self.reference}-v{self.version}-{self.language}.pdf"


class ExportChange(models.Model):
    """A change to data an official export shows, written by the database's own triggers (never by Python):
    the sum of the weights is the exports' generation (see :mod:`portal.reports.snapshots`)."""

    weight = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"change {self.pk} ({self.weight})"


class ExportSnapshot(models.Model):
    """An export as it was sent, kept for the exports' generation it was read at and served again until
    anything it shows changes (see :mod:`portal.reports.snapshots`)."""

    key = models.CharField(max_length=64, unique=True)
    generation = models.BigIntegerField()
    body = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"export {self.key[:12]} at {self.generation}"
