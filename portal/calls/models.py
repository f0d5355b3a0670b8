from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.enums import OrganisationType
from portal.core.i18n import localised


def default_eligible_types() -> list[str]:
    return [choice.value for choice in OrganisationType]


class Scheme(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    total_budget = models.DecimalField(_("total budget (HK$)"), max_digits=16, decimal_places=2)

    def __str__(self) -> str:
        return self.name


class Quarter(models.Model):
    """A calendar quarter in Hong Kong time, e.g. ``2026Q1``."""

    code = models.CharField(_("code"), max_length=6, unique=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))

    class Meta:
        ordering = ["starts_on"]
        constraints = [models.CheckConstraint(condition=Q(ends_on__gt=models.F("starts_on")), name="quarter_order")]

    def __str__(self) -> str:
        return self.code


class ResourcePool(models.Model):
    """A pool of GPUs (one per centre or GPU type) with its list price."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    gpu_type = models.CharField(_("GPU type"), max_length=50, blank=True)
    list_price = models.DecimalField(
        _("list price per GPU-hour (HK$)"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    held_back_share = models.DecimalField(
        _("held-back share"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Share of capacity kept for maintenance and strategic use (0.10 = 10%)."),
    )
    target_utilisation = models.DecimalField(
        _("target utilisation"), max_digits=4, decimal_places=3, default=Decimal("0.900")
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="pool_price_not_negative"),
            models.CheckConstraint(
                condition=Q(held_back_share__gte=0) & Q(held_back_share__lte=1),
                name="pool_held_back_share_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PoolCapacity(models.Model):
    pool = models.ForeignKey(ResourcePool, on_delete=models.CASCADE, related_name="capacities")
    quarter = models.ForeignKey(Quarter, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.PositiveBigIntegerField(_("capacity (GPU-hours)"))

    class Meta:
        ordering = ["pool", "quarter__starts_on"]
        constraints = [models.UniqueConstraint(fields=["pool", "quarter"], name="unique_pool_quarter")]
        verbose_name_plural = _("pool capacities")

    def __str__(self) -> str:
        return f"{self.pool.code} {self.quarter.code}: {self.gpu_hours}"

    @property
    def awardable_hours(self) -> Decimal:
        """Capacity after the held-back share."""
        return (Decimal(self.gpu_hours) * (1 - self.pool.held_back_share)).quantize(Decimal("1"))


class Call(models.Model):
    """A call for proposals: opens and closes at a time in Hong Kong time, with its rubric and pools."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="calls")
    reference = models.SlugField(_("reference"), max_length=30, unique=True)
    title = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    guidance = models.TextField(
        _("guidance for applicants"),
        blank=True,
        help_text=_("Shown on the call's public page. Blank lines part paragraphs."),
    )
    guidance_zh = models.TextField(_("guidance for applicants (Chinese)"), blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact telephone"), max_length=30, blank=True)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    subsidy_rate = models.DecimalField(
        _("subsidy rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.700"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("0.9"))],
    )
    max_subsidy_rate = models.DecimalField(
        _("maximum subsidy rate"), max_digits=4, decimal_places=3, default=Decimal("0.900")
    )
    budget = models.DecimalField(_("subsidy budget (HK$)"), max_digits=16, decimal_places=2)
    max_subsidy_per_proposal = models.DecimalField(
        _("subsidy cap per proposal (HK$)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    eligible_org_types = models.JSONField(_("eligible organisation types"), default=default_eligible_types)
    pools = models.ManyToManyField(ResourcePool, related_name="calls", verbose_name=_("resource pools"))
    quarters = models.ManyToManyField(Quarter, related_name="calls", verbose_name=_("quarters"))
    reviewers_per_proposal = models.PositiveSmallIntegerField(_("reviewers per proposal"), default=3)
    min_reviewers = models.PositiveSmallIntegerField(_("minimum reviewers"), default=2)
    pass_mean = models.DecimalField(_("pass: weighted mean at least"), max_digits=3, decimal_places=2, default=3)
    org_cap = models.DecimalField(
        _("organisation cap (share of a pool)"), max_digits=4, decimal_places=3, default=Decimal("0.250")
    )
    max_attachments = models.PositiveSmallIntegerField(_("maximum attachments"), default=10)

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")), name="call_closes_after_opening"),
            models.CheckConstraint(
                condition=Q(subsidy_rate__gte=0) & Q(subsidy_rate__lte=Decimal("0.9")), name="call_rate_range"
            ),
            models.CheckConstraint(condition=Q(budget__gte=0), name="call_budget_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def local_title(self) -> str:
        """The title in the language being shown (Chinese where there is one)."""
        return localised(self, "title")

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.opens_at <= at <= self.closes_at


class RubricCriterion(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    number = models.PositiveSmallIntegerField(_("number"))
    name = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    description = models.TextField(_("guidance"), blank=True)
    description_zh = models.TextField(_("guidance (Chinese)"), blank=True)
    weight = models.DecimalField(
        _("weight (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    min_to_pass = models.PositiveSmallIntegerField(
        _("minimum score to pass"), null=True, blank=True, validators=[MaxValueValidator(5)]
    )

    class Meta:
        ordering = ["call", "number"]
        constraints = [models.UniqueConstraint(fields=["call", "number"], name="unique_criterion_number")]
        verbose_name_plural = _("rubric criteria")

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"


class CallQuestion(models.Model):
    """A frequently asked question about a call, with its answer, shown on the call's public page."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField(_("number"))
    question = models.CharField(_("question (English)"), max_length=300)
    question_zh = models.CharField(_("question (Chinese)"), max_length=300, blank=True)
    answer = models.TextField(_("answer (English)"))
    answer_zh = models.TextField(_("answer (Chinese)"), blank=True)

    class Meta:
        ordering = ["call", "number"]
        constraints = [models.UniqueConstraint(fields=["call", "number"], name="unique_call_question_number")]
        verbose_name = _("frequently asked question")
        verbose_name_plural = _("frequently asked questions")

    def __str__(self) -> str:
        return f"{self.number}. {self.question}"
