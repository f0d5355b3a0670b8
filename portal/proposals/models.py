import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organisation
from portal.calls.models import Call, Quarter, ResourcePool
from portal.core.i18n import localised

from .enums import AttachmentKind, ProposalState

# The most GPU-hours one pool and quarter of a proposal may ask for (forms and database alike).
MAX_HOURS_PER_CELL = 10_000_000


class Proposal(models.Model):
    """A proposal to a call. ``draft`` is the applicant's working copy, kept exactly as typed;
    each submission freezes an immutable :class:`ProposalVersion`."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="proposals")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="proposals")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=32, choices=ProposalState.choices, default=ProposalState.DRAFT)
    reference = models.CharField(_("reference"), max_length=20, unique=True, null=True, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    title_zh = models.CharField(_("title (Chinese)"), max_length=300, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    current_version = models.ForeignKey(
        "ProposalVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("first submitted at"), null=True, blank=True)
    account_code = models.CharField(_("compute account code"), max_length=30, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["call", "state"]),
            # The proposal lists show the most recently changed first, a page at a time.
            models.Index(fields=["-updated_at", "-id"], name="proposal_recent_first"),
            # The officials' whole-call pages (assignments, ranking) list a call's proposals by reference, a page at
            # a time: read in that order from the index, not sorted whole.
            models.Index(fields=["call", "reference"], name="proposal_call_reference"),
            # The secretariat's list of calls counts each call's submitted proposals: from this index alone.
            models.Index(fields=["call"], condition=Q(submitted_at__isnull=False), name="proposal_submitted_in_call"),
        ]

    def __str__(self) -> str:
        return self.reference or self.title or str(_("Untitled proposal"))

    @property
    def display_title(self) -> str:
        return self.title or str(_("Untitled proposal"))

    @property
    def local_title(self) -> str:
        """The title in the reader's language: the Chinese title for a Chinese reader when there is one."""
        return localised(self, "title") or str(_("Untitled proposal"))


class ProposalVersion(models.Model):
    """What was submitted, frozen. Never updated after it is created."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    sha256 = models.CharField(max_length=64)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    min_share = models.DecimalField(max_digits=4, decimal_places=3)
    total_hours = models.DecimalField(max_digits=14, decimal_places=2)
    cost = models.DecimalField(max_digits=16, decimal_places=2)
    subsidy = models.DecimalField(max_digits=16, decimal_places=2)
    attachments = models.ManyToManyField("Attachment", related_name="versions", blank=True)
    co_organisations = models.ManyToManyField(Organisation, related_name="co_applied_versions", blank=True)

    class Meta:
        ordering = ["proposal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "number"], name="unique_version_number"),
            models.CheckConstraint(condition=Q(min_share__gt=0) & Q(min_share__lte=1), name="version_min_share"),
            models.CheckConstraint(
                condition=Q(total_hours__gte=0) & Q(cost__gte=0) & Q(subsidy__gte=0) & Q(subsidy__lte=F("cost")),
                name="version_budget_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(_("A submitted version cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("A submitted version cannot be deleted."))


class ComputeRequest(models.Model):
    """GPU-hours requested in one pool and quarter, as submitted in a version."""

    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="compute_requests")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    quarter = models.ForeignKey(Quarter, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.PositiveBigIntegerField(validators=[MaxValueValidator(MAX_HOURS_PER_CELL)])

    class Meta:
        ordering = ["version", "pool__code", "quarter__starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["version", "pool", "quarter"], name="unique_request_cell"),
            models.CheckConstraint(condition=Q(gpu_hours__lte=MAX_HOURS_PER_CELL), name="request_hours_bounded"),
        ]

    def __str__(self) -> str:
        return f"{self.pool.code} {self.quarter.code}: {self.gpu_hours}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name is generated; the applicant's file name is only kept as metadata.
    return f"attachments/{instance.proposal_id}/{uuid.uuid4().hex}.pdf"


class Attachment(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=20, choices=AttachmentKind.choices, default=AttachmentKind.OTHER)
    original_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name


class ReferenceCounter(models.Model):
    """The last reference number given in a year, so that references never repeat."""

    prefix = models.CharField(max_length=10)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="unique_counter")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"


class ProposalEvent(models.Model):
    """One step on a proposal's timeline: who moved it from which state to which, when and why."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=32, choices=ProposalState.choices, blank=True)
    to_state = models.CharField(max_length=32, choices=ProposalState.choices)
    reason = models.TextField(blank=True)
    visible_to_applicant = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.proposal}: {self.from_state} → {self.to_state}"
