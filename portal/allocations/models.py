from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# ---- Usage (imported from Slurm sacct exports; services and selectors in usage.py) ------------------------------


class UsageImportStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


class UsageImport(models.Model):
    """One attempt to import a sacct export: who, when, which file, and what it changed. A rejected file is
    recorded with its reason and changes nothing else."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("imported at"), default=timezone.now)
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=UsageImportStatus.choices)
    error = models.TextField(_("reason for rejection"), blank=True)
    lines_read = models.PositiveBigIntegerField(_("lines read"), default=0)
    jobs_created = models.PositiveIntegerField(_("jobs created"), default=0)
    jobs_updated = models.PositiveIntegerField(_("jobs updated"), default=0)
    jobs_pending = models.PositiveIntegerField(_("pending jobs skipped"), default=0)
    # [{"account": "aiss-9999", "jobs": 3, "first_line": 12}, ...], sorted by account.
    unknown_accounts = models.JSONField(_("unknown accounts"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()}, {self.created_at:%Y-%m-%d %H:%M})"


class UsageJob(models.Model):
    """One Slurm job, as last seen in an export; identified by its JobID, so a later export updates it."""

    job_id = models.CharField(_("Slurm JobID"), max_length=64, unique=True)
    account = models.CharField(_("Slurm account"), max_length=64, db_index=True)
    user = models.CharField(_("Slurm user"), max_length=64, blank=True)
    partition = models.CharField(_("partition"), max_length=64, blank=True)
    gpus = models.PositiveIntegerField(_("GPUs"))
    elapsed_seconds = models.PositiveBigIntegerField(_("elapsed seconds"))
    start = models.DateTimeField(_("start"))
    # The export's End, or Start + elapsed for a job still running when exported.
    end = models.DateTimeField(_("end"))
    state = models.CharField(_("state"), max_length=64)
    # GPUs x elapsed seconds: exact, and what totals are summed from. gpu_hours is the same to six places.
    gpu_seconds = models.PositiveBigIntegerField(_("GPU-seconds"))
    gpu_hours = models.DecimalField(_("GPU-hours"), max_digits=18, decimal_places=6)
    # Null while no proposal has the job's account code (then UsageImport.unknown_accounts reports it).
    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.PROTECT, null=True, blank=True, related_name="usage_jobs"
    )
    imported_in = models.ForeignKey(UsageImport, on_delete=models.PROTECT, related_name="jobs")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "job_id"]
        constraints = [
            models.CheckConstraint(condition=Q(gpu_hours__gte=0), name="usage_job_hours_not_negative"),
            models.CheckConstraint(
                condition=Q(gpu_seconds=F("gpus") * F("elapsed_seconds")), name="usage_job_gpu_seconds"
            ),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="usage_job_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} ({self.account})"


class UsageQuarter(models.Model):
    """The part of a job's GPU-hours that falls in one calendar quarter (Hong Kong time), e.g. ``2026Q1``.

    ``quarter`` is the calendar code rather than a foreign key to ``calls.Quarter``, so that usage is never
    refused or lost for a quarter that no call has defined yet; it joins to ``Quarter.code`` when needed."""

    job = models.ForeignKey(UsageJob, on_delete=models.CASCADE, related_name="quarters")
    quarter = models.CharField(_("quarter"), max_length=6)
    gpu_seconds = models.PositiveBigIntegerField(_("GPU-seconds"))
    gpu_hours = models.DecimalField(_("GPU-hours"), max_digits=18, decimal_places=6)

    class Meta:
        ordering = ["job", "quarter"]
        constraints = [
            models.UniqueConstraint(fields=["job", "quarter"], name="unique_usage_job_quarter"),
            models.CheckConstraint(condition=Q(gpu_hours__gte=0), name="usage_quarter_hours_not_negative"),
            models.CheckConstraint(condition=Q(quarter__regex=r"^\d{4}Q[1-4]$"), name="usage_quarter_code"),
        ]
        indexes = [models.Index(fields=["quarter"])]

    def __str__(self) -> str:
        return f"{self.job.job_id} {self.quarter}: {self.gpu_hours}"
