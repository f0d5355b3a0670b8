"""A project's life after the award (domain brief §10): award versions, billing statements, and the Slurm limits
given to the centre."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import (
    AwardVersionKind,
    ChangeRequestKind,
    ChangeRequestState,
    OutputKind,
    ReminderKind,
    ReportState,
    ScreeningAdvice,
)
from .validators import validate_doi

HOURS = {"max_digits": 18, "decimal_places": 2}
MONEY = {"max_digits": 16, "decimal_places": 2}
# The most GPU-hours one change request may ask to move, add or give back (a pool's quarter holds about 1.3 million).
MAX_CHANGE_HOURS = 100_000_000
MAX_REASON = 4000


class AwardVersion(models.Model):
    """One version of a locked award: the lock is version 1, and every later change (claw-back, an approved change
    request, completion) makes the next, with what made it, why, who and when, and the award as it then stood:
    its GPU-hours per pool and quarter (``cells``: ``[{"pool": "h800", "quarter": "2026Q1", "gpu_hours": "500"}]``,
    whole hours), their total, its share of the request and its subsidy. Written by
    ``portal.projects.versions.award_version_record`` only, never changed."""

    award = models.ForeignKey("allocations.Award", on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveSmallIntegerField(_("version"))
    kind = models.CharField(_("change"), max_length=12, choices=AwardVersionKind.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("made at"), default=timezone.now)
    cells = models.JSONField(_("GPU-hours per pool and quarter"), default=list)
    gpu_hours = models.DecimalField(_("GPU-hours awarded"), **HOURS)
    share = models.DecimalField(_("share of the request"), max_digits=7, decimal_places=6)
    subsidy = models.DecimalField(_("subsidy (HK$)"), **MONEY)

    class Meta:
        ordering = ["award", "number"]
        constraints = [
            models.UniqueConstraint(fields=["award", "number"], name="unique_award_version"),
            models.CheckConstraint(condition=Q(number__gte=1), name="award_version_from_one"),
            models.CheckConstraint(condition=Q(gpu_hours__gte=0) & Q(subsidy__gte=0), name="award_version_figures"),
        ]

    def __str__(self) -> str:
        return f"award #{self.award_id} v{self.number} ({self.kind})"


class ChangeRequest(models.Model):
    """An applicant's request to change a locked award (domain brief §10), with its reason: an extension (move
    ``gpu_hours`` unused hours of ``pool`` in ``quarter`` to the later ``to_quarter``), supplementary hours (new
    hours in ``pool`` and ``quarter``), a reduction (give back hours of ``pool`` in ``quarter``) or an early end
    (the project ends with ``quarter``: every hour of a later quarter goes back to the pools). The secretariat
    recommends it, another official approves it (four-eyes) or it is refused; the applicant may withdraw it before a
    decision. Approval changes the award and records its new version (``version``)."""

    proposal = models.ForeignKey("proposals.Proposal", on_delete=models.PROTECT, related_name="change_requests")
    award = models.ForeignKey("allocations.Award", on_delete=models.PROTECT, related_name="change_requests")
    kind = models.CharField(_("change"), max_length=12, choices=ChangeRequestKind.choices)
    state = models.CharField(
        _("status"), max_length=12, choices=ChangeRequestState.choices, default=ChangeRequestState.SUBMITTED
    )
    pool = models.ForeignKey("calls.ResourcePool", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quarter = models.ForeignKey("calls.Quarter", on_delete=models.PROTECT, related_name="+")
    to_quarter = models.ForeignKey("calls.Quarter", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    gpu_hours = models.PositiveBigIntegerField(
        _("GPU-hours"), default=0, validators=[MinValueValidator(0), MaxValueValidator(MAX_CHANGE_HOURS)]
    )
    reason = models.TextField(_("reason"), max_length=MAX_REASON)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    recommended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recommended_at = models.DateTimeField(_("recommended at"), null=True, blank=True)
    recommendation_note = models.TextField(_("note of the recommendation"), max_length=MAX_REASON, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note of the decision"), max_length=MAX_REASON, blank=True)
    version = models.OneToOneField(
        AwardVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="change_request"
    )

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(gpu_hours__lte=MAX_CHANGE_HOURS), name="change_hours_bound"),
            models.CheckConstraint(
                condition=Q(kind="early_end") | (Q(pool__isnull=False) & Q(gpu_hours__gt=0)),
                name="change_pool_and_hours",
            ),
            models.CheckConstraint(
                condition=Q(kind="extension", to_quarter__isnull=False) | (~Q(kind="extension") & Q(to_quarter=None)),
                name="change_to_quarter_for_extension",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved") | Q(version__isnull=False), name="change_approved_has_version"
            ),
        ]
        indexes = [models.Index(fields=["state", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.proposal.reference} change #{self.pk} ({self.kind})"

    @property
    def is_pending(self) -> bool:
        return self.state in (ChangeRequestState.SUBMITTED, ChangeRequestState.RECOMMENDED)


class BillingStatement(models.Model):
    """One version of a project's statement for a quarter. While the quarter's usage can still change a statement
    is re-issued as a new version when its figures change; 30 days after the quarter ends the version issued then is
    final and no other follows it."""

    proposal = models.ForeignKey("proposals.Proposal", on_delete=models.PROTECT, related_name="billing_statements")
    account = models.CharField(_("Slurm account"), max_length=64)
    quarter = models.CharField(_("quarter"), max_length=6)
    version = models.PositiveSmallIntegerField(_("version"))
    final = models.BooleanField(_("final"), default=False)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # SHA-256 of the statement's CSV: a new version is issued only when it differs.
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    cost = models.DecimalField(_("cost (HK$)"), **MONEY)
    subsidy = models.DecimalField(_("subsidy (HK$)"), **MONEY)
    applicant_share = models.DecimalField(_("applicant's share (HK$)"), **MONEY)
    overage_charge = models.DecimalField(_("overage charge (HK$)"), **MONEY)
    total_payable = models.DecimalField(_("total payable (HK$)"), **MONEY)

    class Meta:
        ordering = ["proposal", "quarter", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "quarter", "version"], name="unique_statement_version"),
            models.UniqueConstraint(
                fields=["proposal", "quarter"], condition=Q(final=True), name="one_final_statement"
            ),
            models.CheckConstraint(condition=Q(quarter__regex=r"^\d{4}Q[1-4]$"), name="statement_quarter_code"),
            models.CheckConstraint(condition=Q(version__gte=1), name="statement_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.quarter} v{self.version}"

    @property
    def reference(self) -> str:
        return f"{self.proposal.reference}-BS-{self.quarter}"


class BillingStatementLine(models.Model):
    """One pool of a statement, with every figure it was worked from."""

    statement = models.ForeignKey(BillingStatement, on_delete=models.CASCADE, related_name="lines")
    pool = models.ForeignKey("calls.ResourcePool", on_delete=models.PROTECT, related_name="+")
    used_hours = models.DecimalField(_("used GPU-hours"), **HOURS)
    awarded_hours = models.DecimalField(_("awarded GPU-hours"), **HOURS)
    subsidised_hours = models.DecimalField(_("subsidised GPU-hours"), **HOURS)
    overage_hours = models.DecimalField(_("overage GPU-hours"), **HOURS)
    list_price = models.DecimalField(_("list price per GPU-hour (HK$)"), max_digits=10, decimal_places=2)
    rate = models.DecimalField(_("subsidy rate"), max_digits=4, decimal_places=3)
    cost = models.DecimalField(_("cost (HK$)"), **MONEY)
    subsidy = models.DecimalField(_("subsidy (HK$)"), **MONEY)
    applicant_share = models.DecimalField(_("applicant's share (HK$)"), **MONEY)
    overage_charge = models.DecimalField(_("overage charge (HK$)"), **MONEY)
    total_payable = models.DecimalField(_("total payable (HK$)"), **MONEY)

    class Meta:
        ordering = ["statement", "pool__code"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "pool"], name="unique_statement_pool"),
            models.CheckConstraint(condition=Q(used_hours__gte=0) & Q(awarded_hours__gte=0), name="line_hours_ok"),
        ]

    def __str__(self) -> str:
        return f"{self.statement} {self.pool.code}"


class SlurmLimitExport(models.Model):
    """One export of the Slurm account limits for the centre: the full limits at the time (so that the next export
    with ``--changes`` gives only what changed since), who made it and in what form."""

    created_at = models.DateTimeField(_("exported at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quarter = models.CharField(_("quarter"), max_length=6)
    # {"aiss-0007": {"minutes": 30000, "proposal": "AISS-2026-0007", "pools": {"h800": 500}}, ...}
    limits = models.JSONField(_("limits"), default=dict)
    changes_only = models.BooleanField(_("changes only"), default=False)
    changed = models.PositiveIntegerField(_("accounts changed"), default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.quarter} {self.created_at:%Y-%m-%d %H:%M}"


class CentreApiClient(models.Model):
    """A client of the centre's read-only API. Its token is shown once, when it is created; only its SHA-256 is
    kept (the token is 256 random bits, so a fast hash is enough)."""

    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(_("token (SHA-256)"), max_length=64, unique=True)
    token_hint = models.CharField(_("token begins"), max_length=12)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("centre API client")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# ---- Progress reports (domain brief §10; the workflow in report_workflow.py, services in progress.py) -------------


class ProgressReport(models.Model):
    """One progress report a project owes: scheduled when its award is locked (after the first quarter of use,
    then every few months, and a final one within some days of the end, per the call's settings). The applicant
    writes it; the usage so far is taken from the imported usage when it is submitted (``usage``), never typed."""

    proposal = models.ForeignKey("proposals.Proposal", on_delete=models.PROTECT, related_name="progress_reports")
    award = models.ForeignKey("allocations.Award", on_delete=models.PROTECT, related_name="progress_reports")
    number = models.PositiveSmallIntegerField(_("number"))
    final = models.BooleanField(_("final report"), default=False)
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    due_on = models.DateField(_("due on"))
    state = models.CharField(
        _("state"), max_length=20, choices=ReportState.choices, default=ReportState.DUE, db_index=True
    )
    kpis = models.TextField(_("progress against the key performance indicators"), blank=True, max_length=20000)
    deliverables = models.TextField(_("progress against the deliverables"), blank=True, max_length=20000)
    problems = models.TextField(_("problems met"), blank=True, max_length=20000)
    next_plan = models.TextField(_("plan for the next period"), blank=True, max_length=20000)
    # What the imported usage said when the report was (last) submitted: {"total": {...}, "rows": [...]}.
    usage = models.JSONField(_("usage so far (at submission)"), default=dict, blank=True)
    saved_at = models.DateTimeField(_("last saved at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    advice = models.CharField(_("screening advice"), max_length=10, choices=ScreeningAdvice.choices, blank=True)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    screened_at = models.DateTimeField(_("screened at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["proposal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "number"], name="unique_progress_report_number"),
            models.UniqueConstraint(fields=["proposal"], condition=Q(final=True), name="one_final_progress_report"),
            models.CheckConstraint(condition=Q(number__gte=1), name="progress_report_number_from_one"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="progress_report_period"),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ReportState]), name="progress_report_state_known"
            ),
            models.CheckConstraint(
                condition=~Q(state="accepted") | Q(decided_by__isnull=False), name="progress_report_accepted_by"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal.reference} progress report {self.number}"

    @property
    def reference(self) -> str:
        return f"{self.proposal.reference}-PR{self.number}"

    def is_overdue(self, today) -> bool:
        return self.state == ReportState.DUE and self.due_on < today


class ReportOutput(models.Model):
    """One output a report names: a paper (with its DOI), a model, a data set, a product, or people trained."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="outputs")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=OutputKind.choices)
    title = models.CharField(_("title or description"), max_length=300)
    doi = models.CharField(_("DOI"), max_length=200, blank=True, validators=[validate_doi])
    count = models.PositiveIntegerField(_("how many"), default=1, validators=[MaxValueValidator(100_000)])

    class Meta:
        ordering = ["report", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(kind="paper") | ~Q(doi=""), name="report_paper_has_doi"),
            models.CheckConstraint(condition=Q(count__gte=1) & Q(count__lte=100_000), name="report_output_count"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class ReportEvent(models.Model):
    """One step of a report's life, with who, when and why (the audit log has the same): the report's timeline.
    A clarification asked and its answer are steps with their text in ``reason``."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=30)
    from_state = models.CharField(_("from"), max_length=20, choices=ReportState.choices)
    to_state = models.CharField(_("to"), max_length=20, choices=ReportState.choices)
    reason = models.TextField(_("reason"), blank=True)
    visible_to_applicant = models.BooleanField(default=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["report", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.report} {self.action}"


class ReportReminder(models.Model):
    """A reminder sent about a report, so that none is sent twice: before, on the due date, and each week after
    (``week`` 1, 2, ...)."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(_("kind"), max_length=10, choices=ReminderKind.choices)
    week = models.PositiveSmallIntegerField(_("week after the due date"), default=0)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        ordering = ["report", "sent_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["report", "kind", "week"], name="unique_report_reminder")]

    def __str__(self) -> str:
        return f"{self.report} {self.kind} {self.week}"
