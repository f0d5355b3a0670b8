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
    """One field per pool and quarter of the award (whole GPU-hours), the reason (required) and the reason for
    passing a soft limit (required only when the adjustment passes one)."""

    reason = forms.CharField(
        label=_("Reason for the adjustment"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the audit log and shown beside the award."),
    )
    limit_reason = forms.CharField(
        label=_("Reason for passing a soft limit"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Only when the adjustment goes past the organisation cap or the project's minimum viable share: the "
            "approving official approves it with the lock. Capacity and the budget cannot be passed."
        ),
    )

    def __init__(self, *args, cells=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.cells = list(cells)
        for cell in self.cells:
            self.fields[f"cell_{cell.pk}"] = forms.IntegerField(
                label=_("GPU-hours in %(pool)s, %(quarter)s") % {"pool": cell.pool.name, "quarter": cell.quarter.code},
                min_value=0,
                max_value=int(cell.requested),
                initial=_plain(cell.gpu_hours),
                help_text=_("Whole GPU-hours; requested: %(hours)s") % {"hours": f"{cell.requested:,.0f}"},
            )
        self.order_fields([f"cell_{c.pk}" for c in self.cells] + ["reason", "limit_reason"])

    def hours(self) -> dict[int, Decimal]:
        return {cell.pk: Decimal(self.cleaned_data[f"cell_{cell.pk}"]) for cell in self.cells}


class LockConfirmForm(forms.Form):
    """Propose or approve a lock: the totals shown (their fingerprint) and the reader's confirmation."""

    confirmed = forms.CharField(widget=forms.HiddenInput)
    checked = forms.BooleanField(
        label=_("I have checked these totals and the awards past a soft limit."),
        error_messages={"required": _("Confirm that you have checked the totals.")},
    )


class LockCancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Slurm accounting export"),
        help_text=_("The output of sacct --parsable2 (text, “|”-separated, header line first)."),
    )

    def field_for_error(self, name: str) -> str:
        """Whatever is wrong with an upload is said beside the file."""
        return "file"
