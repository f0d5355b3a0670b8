from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProposalState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("proposal state", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("proposal state", "Submitted")
    # Reopened by the applicant before the deadline: the last submitted version stands until the amendment is
    # submitted.
    AMENDING = "amending", pgettext_lazy("proposal state", "Being amended")
    SCREENING = "screening", pgettext_lazy("proposal state", "Screening")
    CLARIFICATION_REQUESTED = (
        "clarification_requested",
        pgettext_lazy("proposal state", "Clarification requested"),
    )
    IN_REVIEW = "in_review", pgettext_lazy("proposal state", "In review")
    REVIEWED = "reviewed", pgettext_lazy("proposal state", "Reviewed")
    RESPONSE = "response", pgettext_lazy("proposal state", "Applicant response")
    RECOMMENDED = "recommended", pgettext_lazy("proposal state", "Recommended")
    NOT_RECOMMENDED = "not_recommended", pgettext_lazy("proposal state", "Not recommended")
    APPROVED = "approved", pgettext_lazy("proposal state", "Approved")
    REJECTED = "rejected", pgettext_lazy("proposal state", "Rejected")
    ALLOCATED = "allocated", pgettext_lazy("proposal state", "Allocated")
    ACTIVE = "active", pgettext_lazy("proposal state", "Active")
    COMPLETED = "completed", pgettext_lazy("proposal state", "Completed")
    WITHDRAWN = "withdrawn", pgettext_lazy("proposal state", "Withdrawn")
    INELIGIBLE = "ineligible", pgettext_lazy("proposal state", "Ineligible")


S = ProposalState
# The applicant may edit the working copy in these states.
EDITABLE = frozenset({S.DRAFT, S.AMENDING, S.CLARIFICATION_REQUESTED})
# A decision has been taken (or the proposal has ended): no withdrawal after this.
DECIDED = frozenset({S.APPROVED, S.REJECTED, S.ALLOCATED, S.ACTIVE, S.COMPLETED, S.WITHDRAWN, S.INELIGIBLE})
WITHDRAWABLE = frozenset(set(S) - DECIDED)
SUBMITTED_STATES = frozenset(set(S) - {S.DRAFT})
# The award is locked: the proposal has a project page (award, usage, progress reports, statements).
PROJECT_STATES = frozenset({S.ALLOCATED, S.ACTIVE, S.COMPLETED})


class AttachmentKind(models.TextChoices):
    TECHNICAL = "technical", _("Technical proposal")
    BUDGET = "budget", _("Budget justification")
    SUPPORT = "support", _("Letter of support")
    CV = "cv", _("CV of the project lead")
    OTHER = "other", _("Other")


class Workload(models.TextChoices):
    TRAINING = "training", _("Training")
    INFERENCE = "inference", _("Inference")
    BOTH = "both", _("Training and inference")


class Precision(models.TextChoices):
    FP8 = "fp8", "FP8"
    BF16 = "bf16", "BF16"
    FP16 = "fp16", "FP16"
    FP32 = "fp32", "FP32"
    MIXED = "mixed", _("Mixed precision")
