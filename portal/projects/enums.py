"""Choices of a project's life after the award."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AwardVersionKind(models.TextChoices):
    """What made a new version of a locked award (domain brief §10)."""

    LOCK = "lock", pgettext_lazy("award version", "Locked")
    CLAWBACK = "clawback", pgettext_lazy("award version", "Claw-back")
    EXTENSION = "extension", pgettext_lazy("award version", "Extension")
    SUPPLEMENT = "supplement", pgettext_lazy("award version", "Supplementary hours")
    REDUCTION = "reduction", pgettext_lazy("award version", "Reduction")
    EARLY_END = "early_end", pgettext_lazy("award version", "Early end")
    COMPLETION = "completion", pgettext_lazy("award version", "Completion")


# The kinds of version an approved change request makes (its ``kind`` is one of these).
CHANGE_KINDS = (
    AwardVersionKind.EXTENSION,
    AwardVersionKind.SUPPLEMENT,
    AwardVersionKind.REDUCTION,
    AwardVersionKind.EARLY_END,
)


class ChangeRequestKind(models.TextChoices):
    EXTENSION = "extension", _("Extension: move unused hours to a later quarter")
    SUPPLEMENT = "supplement", _("Supplementary hours")
    REDUCTION = "reduction", _("Reduction")
    EARLY_END = "early_end", _("Early end")


class ChangeRequestState(models.TextChoices):
    SUBMITTED = "submitted", pgettext_lazy("change request", "Submitted")
    RECOMMENDED = "recommended", pgettext_lazy("change request", "Recommended")
    APPROVED = "approved", pgettext_lazy("change request", "Approved")
    REFUSED = "refused", pgettext_lazy("change request", "Refused")
    WITHDRAWN = "withdrawn", pgettext_lazy("change request", "Withdrawn")


# Waiting for an official; still open to the applicant's withdrawal.
PENDING = (ChangeRequestState.SUBMITTED, ChangeRequestState.RECOMMENDED)
DECIDED = (ChangeRequestState.APPROVED, ChangeRequestState.REFUSED, ChangeRequestState.WITHDRAWN)


class ReportState(models.TextChoices):
    """A progress report's life: due → submitted → (clarification ⇄ answered) → recommended by the secretariat →
    accepted, or changes required (then resubmitted) by another official (four-eyes)."""

    DUE = "due", pgettext_lazy("progress report state", "Due")
    SUBMITTED = "submitted", pgettext_lazy("progress report state", "Submitted")
    CLARIFICATION = "clarification", pgettext_lazy("progress report state", "Clarification requested")
    ANSWERED = "answered", pgettext_lazy("progress report state", "Clarification answered")
    RECOMMENDED = "recommended", pgettext_lazy("progress report state", "Screened, waiting for acceptance")
    CHANGES_REQUIRED = "changes_required", pgettext_lazy("progress report state", "Changes required")
    ACCEPTED = "accepted", pgettext_lazy("progress report state", "Accepted")


R = ReportState
# The applicant may write in these states.
REPORT_EDITABLE = frozenset({R.DUE, R.CHANGES_REQUIRED})
# Waiting for the secretariat's screening.
REPORT_TO_SCREEN = frozenset({R.SUBMITTED, R.ANSWERED})
# Submitted at least once (a report due is not yet in).
REPORT_IN = frozenset({R.SUBMITTED, R.CLARIFICATION, R.ANSWERED, R.RECOMMENDED, R.ACCEPTED})


class ScreeningAdvice(models.TextChoices):
    ACCEPT = "accept", _("Accept")
    CHANGES = "changes", _("Changes required")


class OutputKind(models.TextChoices):
    PAPER = "paper", _("Paper")
    MODEL = "model", _("Model")
    DATASET = "dataset", _("Data set")
    PRODUCT = "product", _("Product or service")
    PEOPLE = "people", _("People trained")


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("14 days before the due date")
    DUE = "due", _("On the due date")
    AFTER = "after", _("Weekly after the due date")
