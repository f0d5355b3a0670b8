from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AllocationPolicy


def _plain(value: Decimal) -> str:
    """``Decimal("50000.000000")`` → ``"50000"``; fractions keep their digits without trailing zeros."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


class RunStartForm(forms.Form):
    policy = forms.ChoiceField(
        label=_("Policy"),
        choices=AllocationPolicy.choices,
        initial=AllocationPolicy.OPTIMAL,
        help_text=_(
            "Rank order funds by score until capacity runs out; tiers fund the top tier in full, then the next "
            "scaled to what is left; optimal maximises the score-weighted shares within every limit."
        ),
    )


class CompareForm(forms.Form):
    runs = forms.TypedMultipleChoiceField(
        label=_("Runs to compare"), coerce=int, choices=(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, runs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runs"].choices = [(run.pk, f"#{run.pk} {run.get_policy_display()}") for run in runs]


class AwardAdjustForm(forms.Form):
    """One field per pool and quarter of the award, plus the reason (required)."""

    reason = forms.CharField(
        label=_("Reason for the adjustment"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the audit log and shown beside the award."),
    )

    def __init__(self, *args, cells=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.cells = list(cells)
        for cell in self.cells:
            self.fields[f"cell_{cell.pk}"] = forms.DecimalField(
                label=_("GPU-hours in %(pool)s, %(quarter)s") % {"pool": cell.pool.name, "quarter": cell.quarter.code},
                min_value=Decimal(0),
                max_value=cell.requested,
                decimal_places=6,
                max_digits=18,
                initial=_plain(cell.gpu_hours),
                help_text=_("Requested: %(hours)s") % {"hours": f"{cell.requested:,.0f}"},
            )
        self.order_fields([f"cell_{c.pk}" for c in self.cells] + ["reason"])

    def hours(self) -> dict[int, Decimal]:
        return {cell.pk: self.cleaned_data[f"cell_{cell.pk}"] for cell in self.cells}


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Slurm accounting export"),
        help_text=_("The output of sacct --parsable2 (text, “|”-separated, header line first)."),
    )
