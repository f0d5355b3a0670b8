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
