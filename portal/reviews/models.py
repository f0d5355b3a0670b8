from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organisation
from portal.calls.models import Call, RubricCriterion
from portal.proposals.models import Proposal, ProposalVersion

from .enums import MAX_SCORE, AssignmentSource, AssignmentStatus, ConflictSource, Recommendation, ReviewState


class ExpertiseTag(models.Model):
    """An area of expertise, from the list the secretariat keeps."""

    name = models.CharField(_("name (English)"), max_length=100, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("expertise tag")
        verbose_name_plural = _("expertise tags")

    def __str__(self) -> str:
        return self.name


class ReviewerProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer_profile")
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
        help_text=_("The affiliation that counts in conflicts of interest, as set or confirmed by the secretariat."),
    )
    organisation_requested = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation asked for by the reviewer"),
    )
    organisation_change_pending = models.BooleanField(_("affiliation change waiting for confirmation"), default=False)
    organisation_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("affiliation confirmed by"),
    )
    organisation_confirmed_at = models.DateTimeField(_("affiliation confirmed at"), null=True, blank=True)
    expertise = models.ManyToManyField(ExpertiseTag, blank=True, related_name="reviewers", verbose_name=_("expertise"))
    max_per_call = models.PositiveSmallIntegerField(
        _("maximum proposals per call"), default=6, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    available = models.BooleanField(_("available for new assignments"), default=True)

    class Meta:
        verbose_name = _("reviewer profile")
        verbose_name_plural = _("reviewer profiles")

    def __str__(self) -> str:
        return str(self.user)


class Collaboration(models.Model):
    """A collaboration a reviewer (or committee member) declared with an organisation, ending in a year."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collaborations")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    last_year = models.PositiveSmallIntegerField(_("last year of the collaboration"))
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        ordering = ["user", "-last_year"]
        verbose_name = _("collaboration")
        verbose_name_plural = _("collaborations")

    def __str__(self) -> str:
        return f"{self.user} - {self.organisation} ({self.last_year})"


class ProposalExpertise(models.Model):
    """The expertise a proposal needs (set by the secretariat or the applicant), matched against reviewers."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="expertise_tags")
    tag = models.ForeignKey(ExpertiseTag, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["proposal", "tag"], name="unique_proposal_tag")]

    def __str__(self) -> str:
        return f"{self.proposal}: {self.tag}"


class SuggestedReviewer(models.Model):
    """A reviewer the applicant suggested. At most one of them may review the proposal.

    The applicant gives an email address (they never see who is in the reviewer pool); the secretariat may also
    link a registered reviewer directly. A suggestion counts for every reviewer whose account has that address."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="suggested_reviewers")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email address"), blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "reviewer"], name="unique_suggested_reviewer"),
            models.CheckConstraint(condition=Q(reviewer__isnull=False) | ~Q(email=""), name="suggested_reviewer_named"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal}: {self.reviewer or self.email}"


class CallReviewSettings(models.Model):
    """Per-call review settings the call itself lacks; created on demand with the defaults."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="review_settings")
    review_deadline = models.DateTimeField(_("review deadline"), null=True, blank=True)
    reminder_days_before = models.PositiveSmallIntegerField(_("reminder: days before the deadline"), default=3)
    reminder_days_after = models.PositiveSmallIntegerField(_("reminder: days after the deadline"), default=1)
    disagreement_threshold = models.DecimalField(
        _("disagreement flag: spread above"), max_digits=3, decimal_places=2, default=Decimal("1.50")
    )
    consensus_margin = models.DecimalField(
        _("consensus: rationale required beyond"), max_digits=3, decimal_places=2, default=Decimal("0.50")
    )
    response_days = models.PositiveSmallIntegerField(_("applicant response window (days)"), default=14)

    class Meta:
        verbose_name = _("review settings of a call")
        verbose_name_plural = _("review settings of calls")
        constraints = [
            models.CheckConstraint(condition=Q(disagreement_threshold__gte=0), name="review_threshold_not_negative"),
            models.CheckConstraint(condition=Q(consensus_margin__gte=0), name="review_margin_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.call}"


class Assignment(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="review_assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments")
    status = models.CharField(
        _("status"), max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.PENDING
    )
    source = models.CharField(max_length=20, choices=AssignmentSource.choices, default=AssignmentSource.MANUAL)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    declared_at = models.DateTimeField(null=True, blank=True)
    # The secretariat may let this reviewer submit after the call's review deadline, until this time (audited).
    deadline_extended_to = models.DateTimeField(_("review deadline extended to"), null=True, blank=True)
    # Why this pair, as worked out when it was made: {"affinity": 0.5, "tags": [tag ids in common], "load": the
    # reviewer's active assignments in the call after it, "limit": their limit} (portal/reviews/explain.py words it).
    explanation = models.JSONField(_("why this reviewer"), default=dict, blank=True)

    class Meta:
        ordering = ["proposal", "assigned_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["proposal", "reviewer"], name="unique_assignment")]

    def __str__(self) -> str:
        return f"{self.proposal} → {self.reviewer}"


class Declaration(models.Model):
    """A declaration of interest by a reviewer or committee member for one proposal, or a conflict an official
    recorded. Conflicts found automatically (organisations, collaborations) are worked out, not stored."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="declarations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="declarations")
    conflicted = models.BooleanField(_("conflict of interest"))
    reason = models.TextField(_("reason"), blank=True)
    source = models.CharField(max_length=20, choices=ConflictSource.choices, default=ConflictSource.DECLARED)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "user"], name="unique_declaration"),
            models.CheckConstraint(condition=Q(conflicted=False) | ~Q(reason=""), name="conflict_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.proposal}: {'conflict' if self.conflicted else 'no conflict'}"


class Review(models.Model):
    """One revision of a reviewer's review. Reopening a submitted review keeps it and starts a new revision."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="reviews")
    revision = models.PositiveSmallIntegerField(default=1)
    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=20, choices=ReviewState.choices, default=ReviewState.DRAFT)
    is_current = models.BooleanField(default=True)
    recommendation = models.CharField(
        _("overall recommendation"), max_length=20, choices=Recommendation.choices, blank=True
    )
    comments_applicant = models.TextField(_("comments to the applicant"), blank=True)
    comments_committee = models.TextField(_("confidential comments to the committee"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["assignment", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "revision"], name="unique_review_revision"),
            models.UniqueConstraint(fields=["assignment"], condition=Q(is_current=True), name="one_current_review"),
            models.CheckConstraint(
                condition=Q(state=ReviewState.DRAFT) | Q(submitted_at__isnull=False), name="submitted_review_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment} r{self.revision}"


class Score(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(RubricCriterion, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(
        _("score"), null=True, blank=True, validators=[MaxValueValidator(MAX_SCORE)]
    )
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["review", "criterion__number"]
        constraints = [
            models.UniqueConstraint(fields=["review", "criterion"], name="unique_score_criterion"),
            models.CheckConstraint(condition=Q(score__lte=MAX_SCORE), name="score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.review}: {self.criterion.number} = {self.score}"


class ApplicantResponse(models.Model):
    """The applicant's one response to the reviews."""

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="review_response")
    text = models.TextField(_("response"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.proposal}"


class Consensus(models.Model):
    """The committee's agreed score for a proposal, with its rationale and the feedback for the applicant."""

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="review_consensus")
    score = models.DecimalField(
        _("agreed score"),
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_SCORE)],
    )
    calibrated_mean = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    rationale = models.TextField(_("rationale"), blank=True)
    feedback = models.TextField(_("feedback for the applicant"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("consensus scores")
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=MAX_SCORE), name="consensus_score_range")
        ]

    def __str__(self) -> str:
        return f"{self.proposal}: {self.score}"


class ReminderSent(models.Model):
    """A reminder that was sent, so that the daily task never sends the same one twice."""

    key = models.CharField(max_length=120, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key


class FiguresGeneration(models.Model):
    """A call's ranking inputs' generation: raised in the same transaction as every change to a submitted review,
    its scores or its assignment (portal/reviews/figures.py), so stored figures older than it are stale."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, primary_key=True, related_name="+")
    generation = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.call_id}: {self.generation}"


class CallFigures(models.Model):
    """Which generation of the call's inputs (and which settings: pass mark, disagreement threshold, criteria) the
    stored :class:`ProposalFigures` were computed from. Locked while they are recomputed."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, primary_key=True, related_name="+")
    generation = models.BigIntegerField(default=-1)
    fingerprint = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.call_id}: {self.generation}"


FIGURE = {"max_digits": 32, "decimal_places": 28, "null": True}


class ProposalFigures(models.Model):
    """One proposal's ranking figures as last computed (only proposals with a counted review have a row). The
    numbers are for ordering and filtering in the database; ``exact`` keeps them as computed, with each review's
    weighted and calibrated score: ``{"raw", "calibrated", "spread": str | None, "reviews": [[review id, reviewer
    id, weighted, calibrated], ...]}``."""

    proposal = models.OneToOneField(
        Proposal, on_delete=models.CASCADE, primary_key=True, related_name="ranking_figures"
    )
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+")
    review_count = models.PositiveIntegerField(default=0)
    raw_mean = models.DecimalField(**FIGURE)
    calibrated_mean = models.DecimalField(**FIGURE)
    spread = models.DecimalField(**FIGURE)
    disagreement = models.BooleanField(default=False)
    passes = models.BooleanField(null=True)
    exact = models.JSONField(default=dict)
    # ``exact``'s weighted scores as the committee's ranking export writes them (figures.weighted_scores_text).
    weighted_scores = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.proposal_id}"
