import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Floor
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .sacct import MAX_ELAPSED_SECONDS, MAX_GPUS

# ---- Usage (imported from Slurm sacct exports; services and selectors in usage.py) ------------------------------


class UsageImportStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("usage import status", "Queued")
    RUNNING = "running", pgettext_lazy("usage import status", "Running")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


def usage_upload_path(instance: "UsageImport", filename: str) -> str:
    # The stored name is generated; the uploaded file's own name is kept in UsageImport.filename only.
    return f"usage-imports/{uuid.uuid4().hex}.txt"


class UsageImport(models.Model):
    """One attempt to import a sacct export: who, when, which file, and what it changed. A rejected file is
    recorded with its reason and changes nothing else. An upload through the portal is stored (``upload``) and
    queued; a worker claims it (queued -> running), imports it and deletes the stored file."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("imported at"), default=timezone.now)
    filename = models.CharField(_("file name"), max_length=255)
    # Blank while the import is queued: the worker hashes the file as it reads it.
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=UsageImportStatus.choices)
    # The uploaded file, kept only until the worker has imported (or refused) it.
    upload = models.FileField(_("stored upload"), upload_to=usage_upload_path, max_length=255, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
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
    gpus = models.PositiveIntegerField(_("GPUs"), validators=[MaxValueValidator(MAX_GPUS)])
    elapsed_seconds = models.PositiveBigIntegerField(
        _("elapsed seconds"), validators=[MaxValueValidator(MAX_ELAPSED_SECONDS)]
    )
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
            models.CheckConstraint(
                condition=Q(gpus__lte=MAX_GPUS) & Q(elapsed_seconds__lte=MAX_ELAPSED_SECONDS), name="usage_job_bounds"
            ),
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


# ---- Allocation runs, awards, tranches and claw-back (services in services.py, reads in selectors.py) ------------


class AllocationPolicy(models.TextChoices):
    RANK = "rank", _("Rank order")
    TIERS = "tiers", _("Tiers")
    OPTIMAL = "optimal", _("Optimal")


class RunKind(models.TextChoices):
    ALLOCATION = "allocation", _("Allocation")
    REALLOCATION = "reallocation", _("Reallocation of reclaimed hours")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")


class CallAllocationSettings(models.Model):
    """Per-call allocation settings that the calls app does not carry: tier thresholds, the tranche split and the
    progress-report schedule (docs/domain.md §10: after the first quarter of use, then every six months, and a final
    report within 30 days of the end)."""

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="allocation_settings")
    tiers = models.JSONField(_("tier thresholds (score, highest first)"), default=list, blank=True)
    first_tranche_share = models.DecimalField(
        _("share released at the start"), max_digits=4, decimal_places=3, default=Decimal("0.500")
    )
    solver_time_limit = models.PositiveIntegerField(_("solver time limit (seconds)"), default=60)
    first_report_after_months = models.PositiveSmallIntegerField(
        _("first progress report due (months after the start)"), default=3
    )
    report_every_months = models.PositiveSmallIntegerField(_("then a progress report every (months)"), default=6)
    final_report_within_days = models.PositiveSmallIntegerField(
        _("final report due within (days of the end)"), default=30
    )

    class Meta:
        verbose_name_plural = _("call allocation settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(first_tranche_share__gt=0) & Q(first_tranche_share__lte=1), name="settings_tranche_share"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call}"


class AllocationRun(models.Model):
    """One run of the optimiser for a call: its exact input (the problem dict), its policy and its result.

    ``inputs`` is never changed after creation, so any run can be repeated and compared."""

    call = models.ForeignKey("calls.Call", on_delete=models.PROTECT, related_name="allocation_runs")
    kind = models.CharField(_("kind"), max_length=20, choices=RunKind.choices, default=RunKind.ALLOCATION)
    policy = models.CharField(_("policy"), max_length=10, choices=AllocationPolicy.choices)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=200, blank=True)
    time_limit = models.FloatField(_("solver time limit (seconds)"), default=60.0)
    inputs = models.JSONField(_("problem"))
    result = models.JSONField(_("result"), null=True, blank=True)
    solver_status = models.CharField(_("solver status"), max_length=20, blank=True)
    error = models.TextField(_("error"), blank=True)
    repeat_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="repeats", verbose_name=_("repeat of")
    )
    checkpoint = models.ForeignKey(
        "ClawbackCheckpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="reallocation_runs"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Four-eyes locking: an allocation officer proposes the lock with the totals they confirmed; an approving
    # official (the chair or an approving officer), not the proposer, approves it, which locks the run.
    lock_proposed_at = models.DateTimeField(_("lock proposed at"), null=True, blank=True)
    lock_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lock_totals = models.JSONField(_("totals confirmed when the lock was proposed"), default=dict, blank=True)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="run_progress_range"),
            models.UniqueConstraint(
                fields=["call"],
                condition=Q(locked_at__isnull=False, kind="allocation"),
                name="one_locked_allocation_per_call",
            ),
            models.CheckConstraint(
                condition=Q(locked_at__isnull=True) | Q(status="succeeded"), name="run_locked_only_if_succeeded"
            ),
            models.CheckConstraint(
                condition=Q(lock_proposed_at__isnull=True) | Q(status="succeeded"),
                name="run_lock_proposed_only_if_succeeded",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_policy_display()} ({self.call})"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)

    @property
    def is_lock_proposed(self) -> bool:
        """Proposed for locking and waiting for an approving official."""
        return self.lock_proposed_at is not None and self.locked_at is None


class Award(models.Model):
    """What one run gives one proposal: a share of its request, the hours (``AwardHours``) and the subsidy.

    Every project of the run has one, funded or not, so the reason for each outcome is kept."""

    run = models.ForeignKey(AllocationRun, on_delete=models.CASCADE, related_name="awards")
    proposal = models.ForeignKey("proposals.Proposal", on_delete=models.PROTECT, related_name="awards")
    score = models.DecimalField(_("score"), max_digits=12, decimal_places=6)
    min_share = models.DecimalField(_("minimum viable share"), max_digits=7, decimal_places=6)
    share = models.DecimalField(_("share"), max_digits=7, decimal_places=6)
    subsidy_rate = models.DecimalField(_("subsidy rate"), max_digits=4, decimal_places=3)
    subsidy = models.DecimalField(_("subsidy (HK$)"), max_digits=16, decimal_places=2)
    reason = models.CharField(_("reason (code)"), max_length=200, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    adjusted_at = models.DateTimeField(_("adjusted at"), null=True, blank=True)
    adjust_reason = models.TextField(_("reason for the adjustment"), blank=True)
    # Soft limits a hand adjustment went past (``org_cap ORG POOL``, ``min_share``), with the officer's reason; the
    # approving official who approves the lock approves them too (and may not be the officer who adjusted).
    soft_limits = models.JSONField(_("soft limits passed"), default=list, blank=True)
    soft_limit_reason = models.TextField(_("reason for passing a soft limit"), blank=True)

    class Meta:
        ordering = ["run", "-score", "proposal__reference"]
        constraints = [
            models.UniqueConstraint(fields=["run", "proposal"], name="unique_award_per_run"),
            models.CheckConstraint(condition=Q(share__gte=0) & Q(share__lte=1), name="award_share_range"),
            models.CheckConstraint(condition=Q(subsidy__gte=0), name="award_subsidy_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal} in run #{self.run_id}: {self.share}"

    @property
    def is_funded(self) -> bool:
        return self.share > 0


class AwardHours(models.Model):
    """GPU-hours awarded in one pool and quarter, beside what was requested there. The database refuses negative
    hours, hours above the request and fractions of an hour: awards are signed in whole GPU-hours."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="hours")
    pool = models.ForeignKey("calls.ResourcePool", on_delete=models.PROTECT, related_name="+")
    quarter = models.ForeignKey("calls.Quarter", on_delete=models.PROTECT, related_name="+")
    requested = models.DecimalField(_("requested GPU-hours"), max_digits=18, decimal_places=6)
    gpu_hours = models.DecimalField(_("awarded GPU-hours"), max_digits=18, decimal_places=6)
    reclaimed = models.DecimalField(_("reclaimed GPU-hours"), max_digits=18, decimal_places=6, default=0)

    class Meta:
        ordering = ["award", "pool__code", "quarter__starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["award", "pool", "quarter"], name="unique_award_cell"),
            models.CheckConstraint(condition=Q(gpu_hours__gte=0), name="award_hours_not_negative"),
            models.CheckConstraint(condition=Q(gpu_hours__lte=F("requested")), name="award_hours_within_request"),
            models.CheckConstraint(condition=Q(gpu_hours=Floor("gpu_hours")), name="award_hours_whole"),
            models.CheckConstraint(condition=Q(reclaimed__gte=0), name="award_reclaimed_not_negative"),
        ]
        verbose_name_plural = _("award hours")

    def __str__(self) -> str:
        return f"{self.pool.code} {self.quarter.code}: {self.gpu_hours}"


class TrancheCondition(models.TextChoices):
    START = "start", _("At the start")
    PROGRESS_REPORT = "progress_report", _("After the first progress report is accepted")


class Tranche(models.Model):
    """A part of a locked award released at once (ACCESS-style): by default half at the start, half after the
    first progress report is accepted."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="tranches")
    number = models.PositiveSmallIntegerField(_("number"))
    share = models.DecimalField(_("share of the award"), max_digits=4, decimal_places=3)
    condition = models.CharField(_("released"), max_length=20, choices=TrancheCondition.choices)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["award", "number"]
        constraints = [
            models.UniqueConstraint(fields=["award", "number"], name="unique_tranche_number"),
            models.CheckConstraint(condition=Q(share__gt=0) & Q(share__lte=1), name="tranche_share_range"),
        ]

    def __str__(self) -> str:
        return f"{self.award} tranche {self.number}"


class CheckpointStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    WARNED = "warned", _("Projects warned")
    APPLIED = "applied", _("Applied")


class ClawbackCheckpoint(models.Model):
    """A claw-back checkpoint of a call: an award with less than ``threshold`` of it used by ``due_on`` loses
    ``reclaim_share`` of its unused balance (defaults after US ALCC: 10% → 25%, then 25% → 50%)."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="clawback_checkpoints")
    number = models.PositiveSmallIntegerField(_("number"))
    due_on = models.DateField(_("checkpoint date"))
    threshold = models.DecimalField(_("used share below which hours are reclaimed"), max_digits=4, decimal_places=3)
    reclaim_share = models.DecimalField(_("share of the unused balance reclaimed"), max_digits=4, decimal_places=3)
    status = models.CharField(
        _("status"), max_length=10, choices=CheckpointStatus.choices, default=CheckpointStatus.SCHEDULED
    )
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["call", "number"]
        constraints = [
            models.UniqueConstraint(fields=["call", "number"], name="unique_checkpoint_number"),
            models.CheckConstraint(condition=Q(threshold__gt=0) & Q(threshold__lte=1), name="checkpoint_threshold"),
            models.CheckConstraint(
                condition=Q(reclaim_share__gt=0) & Q(reclaim_share__lte=1), name="checkpoint_reclaim_share"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call} checkpoint {self.number} ({self.due_on})"


class Clawback(models.Model):
    """Hours taken back from one award at one checkpoint, with the figures the decision was made on."""

    checkpoint = models.ForeignKey(ClawbackCheckpoint, on_delete=models.PROTECT, related_name="clawbacks")
    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="clawbacks")
    awarded = models.DecimalField(_("awarded GPU-hours"), max_digits=18, decimal_places=6)
    used = models.DecimalField(_("used GPU-hours"), max_digits=18, decimal_places=6)
    reclaimed = models.DecimalField(_("reclaimed GPU-hours"), max_digits=18, decimal_places=6)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["checkpoint", "award"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "award"], name="unique_clawback"),
            models.CheckConstraint(condition=Q(reclaimed__gte=0), name="clawback_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.award}: -{self.reclaimed}"
