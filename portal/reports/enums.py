from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    APPROVAL_REPORT = "approval_report", _("Approval report")


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Being generated")
    SUCCEEDED = "succeeded", _("Ready")
    FAILED = "failed", _("Failed")


class ExportTable(models.TextChoices):
    RANKING = "ranking", _("Ranking")
    DECISIONS = "decisions", _("Decisions")
    AWARDS = "awards", _("Awards")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class OpenDataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
