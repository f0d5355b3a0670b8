from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The 0-5 scale of domain brief §6.
SCORE_LABELS: dict[int, str] = {
    5: _("Excellent"),
    4: _("Very good"),
    3: _("Good"),
    2: _("Satisfactory"),
    1: _("Weak"),
    0: _("Not adequate"),
}
MAX_SCORE = 5


class AssignmentStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("assignment status", "Awaiting declaration")
    ACCEPTED = "accepted", pgettext_lazy("assignment status", "No conflict declared")
    CONFLICTED = "conflicted", pgettext_lazy("assignment status", "Removed: conflict of interest")
    REMOVED = "removed", pgettext_lazy("assignment status", "Removed")


ACTIVE_ASSIGNMENT = frozenset({AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED})


class AssignmentSource(models.TextChoices):
    MANUAL = "manual", pgettext_lazy("assignment source", "Manual")
    AUTOMATIC = "automatic", pgettext_lazy("assignment source", "Automatic")


class ReviewState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("review state", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("review state", "Submitted")


class Recommendation(models.TextChoices):
    FUND = "fund", _("Fund")
    FUND_REDUCED = "fund_reduced", _("Fund with reduced compute")
    DO_NOT_FUND = "do_not_fund", _("Do not fund")


class ConflictSource(models.TextChoices):
    DECLARED = "declared", pgettext_lazy("conflict source", "Declared by the person")
    RECORDED = "recorded", pgettext_lazy("conflict source", "Recorded by an official")
