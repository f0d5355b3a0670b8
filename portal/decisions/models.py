"""Screening, clarification requests, committee recommendations and approval decisions.

``Recommendation``, ``RecommendedHours`` and ``Decision`` are a contract with the allocations and reviews work:
their names and fields are relied on elsewhere."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.calls.models import Call, Quarter, ResourcePool
from portal.proposals.models import MAX_HOURS_PER_CELL, Proposal, ProposalVersion

MAX_SUBSIDY_RATE = Decimal("0.900")


# ---- Screening --------------------------------------------------------------------------------------------------


class CheckKind(models.TextChoices):
    """What an eligibility item checks. All but ``manual`` are suggested from the submitted version."""

    APPLICANT_TYPE = "applicant_type", _("Applicant type is eligible for the call")
    BR_NUMBER = "br_number", _("Enterprise has an 8-digit Business Registration number")
    DOCUMENTS = "documents", _("Required documents are attached")
    BUDGET_CAP = "budget_cap", _("Subsidy requested is within the call's cap")
    MANUAL = "manual", _("Checked by the officer")


class ScreeningItem(models.Model):
    """One line of a call's eligibility checklist."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="screening_items")
    number = models.PositiveSmallIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=20, choices=CheckKind.choices, default=CheckKind.MANUAL)
    text = models.CharField(_("question (English)"), max_length=300)
    text_zh = models.CharField(_("question (Chinese)"), max_length=300, blank=True)
    required_documents = models.JSONField(
        _("required attachment kinds"),
        default=list,
        blank=True,
        help_text=_("For a documents check: the attachment kinds that must be present."),
    )

    class Meta:
        ordering = ["call", "number"]
        constraints = [models.UniqueConstraint(fields=["call", "number"], name="unique_screening_item_number")]

    def __str__(self) -> str:
        return f"{self.number}. {self.text}"


class Screening(models.Model):
    """The secretariat's eligibility finding on one submitted version."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="screenings")
    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="+")
    eligible = models.BooleanField(_("eligible"))
    reasons = models.TextField(_("reasons given to the applicant"), blank=True)
    screened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    screened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["proposal", "screened_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(eligible=True) | ~Q(reasons=""), name="screening_ineligible_has_reasons"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal} v{self.version.number}: {'eligible' if self.eligible else 'ineligible'}"


class ScreeningAnswer(models.Model):
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(ScreeningItem, on_delete=models.PROTECT, related_name="+")
    passed = models.BooleanField(_("met"))
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["screening", "item__number"]
        constraints = [models.UniqueConstraint(fields=["screening", "item"], name="unique_screening_answer")]

    def __str__(self) -> str:
        return f"{self.item.number}: {self.passed}"


class ClarificationRequest(models.Model):
    """Questions the secretariat sends back to the applicant, with a due date. Answered by the next version."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="clarifications")
    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="+")
    questions = models.TextField(_("questions"))
    due_at = models.DateTimeField(_("answer due by"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    answered_version = models.ForeignKey(
        ProposalVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("the applicant's reply"), blank=True)

    class Meta:
        ordering = ["proposal", "requested_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(due_at__gt=models.F("requested_at")), name="clarification_due_later"),
            models.UniqueConstraint(
                fields=["proposal"], condition=Q(answered_at__isnull=True), name="one_open_clarification"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal}: clarification due {self.due_at:%Y-%m-%d}"

    def is_overdue(self, at=None) -> bool:
        return self.answered_at is None and (at or timezone.now()) > self.due_at


# ---- Recommendation and decision (contract) ---------------------------------------------------------------------


class Recommendation(models.Model):
    """The committee's recommendation on a proposal. A new recommendation supersedes the current one."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="recommendations")
    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="+")
    recommended = models.BooleanField(_("recommended"))
    subsidy_rate = models.DecimalField(_("subsidy rate"), max_digits=4, decimal_places=3)
    rate_reason = models.TextField(_("reason for a higher subsidy rate"), blank=True)
    conditions = models.TextField(_("conditions"), blank=True)
    rationale = models.TextField(_("rationale"), blank=True)
    recommended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["proposal", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal"], condition=Q(is_current=True), name="one_current_recommendation"
            ),
            models.CheckConstraint(
                condition=Q(subsidy_rate__gte=0) & Q(subsidy_rate__lte=MAX_SUBSIDY_RATE),
                name="recommendation_rate_range",
                violation_error_message=_("The subsidy rate must be between 0% and 90%."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal}: {'recommended' if self.recommended else 'not recommended'}"


class RecommendedHours(models.Model):
    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="hours")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    quarter = models.ForeignKey(Quarter, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.PositiveBigIntegerField(_("GPU-hours"), validators=[MaxValueValidator(MAX_HOURS_PER_CELL)])

    class Meta:
        ordering = ["recommendation", "pool__code", "quarter__starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["recommendation", "pool", "quarter"], name="unique_recommended_cell"),
            models.CheckConstraint(
                condition=models.Q(gpu_hours__lte=MAX_HOURS_PER_CELL), name="recommended_hours_bounded"
            ),
        ]
        verbose_name_plural = _("recommended hours")

    def __str__(self) -> str:
        return f"{self.pool.code} {self.quarter.code}: {self.gpu_hours}"


class Decision(models.Model):
    """The chair's (or approving officer's) approval or rejection of one recommendation."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="decisions")
    recommendation = models.ForeignKey(Recommendation, on_delete=models.PROTECT, related_name="decisions")
    approved = models.BooleanField(_("approved"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["proposal", "decided_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["recommendation"], name="one_decision_per_recommendation"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal}: {'approved' if self.approved else 'rejected'}"
