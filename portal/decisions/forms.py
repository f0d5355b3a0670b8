from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.forms import ModelMultipleChoiceField
from portal.proposals.models import MAX_HOURS_PER_CELL, Proposal

from .models import MAX_SUBSIDY_RATE

MET_CHOICES = [("yes", _("Met")), ("no", _("Not met"))]


def item_field_name(item) -> str:
    return f"item_{item.pk}"


def note_field_name(item) -> str:
    return f"note_{item.pk}"


class ScreeningForm(forms.Form):
    """The call's eligibility checklist: each item met or not (suggested from the submission), with a note."""

    reasons = forms.CharField(
        label=_("Reasons for the applicant (if ineligible)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The applicant sees these reasons when the proposal is ineligible."),
    )

    def __init__(self, *args, items, suggestions, language="en", **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        self.rows = []
        for item in items:
            met, explanation = suggestions.get(item.pk, (None, ""))
            text = item.text_zh if language == "zh-hant" and item.text_zh else item.text
            self.fields[item_field_name(item)] = forms.ChoiceField(
                label=f"{item.number}. {text}",
                choices=MET_CHOICES,
                widget=forms.RadioSelect,
                initial=None if met is None else ("yes" if met else "no"),
                help_text=(_("From the submission: %(s)s") % {"s": explanation}) if explanation else "",
            )
            self.fields[note_field_name(item)] = forms.CharField(
                label=_("Note on item %(n)s") % {"n": item.number}, required=False, max_length=500
            )
            self.rows.append((self[item_field_name(item)], self[note_field_name(item)]))

    def answers(self) -> dict[int, bool]:
        return {item.pk: self.cleaned_data[item_field_name(item)] == "yes" for item in self.items}

    def notes(self) -> dict[int, str]:
        return {item.pk: self.cleaned_data[note_field_name(item)] for item in self.items}


class ClarificationForm(forms.Form):
    questions = forms.CharField(
        label=_("Questions for the applicant"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    due_at = forms.DateTimeField(
        label=_("Answer due by (Hong Kong time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        due = timezone.localtime() + timedelta(days=14)
        self.fields["due_at"].initial = due.replace(hour=17, minute=0, second=0, microsecond=0)


class RecommendationForm(forms.Form):
    recommended = forms.ChoiceField(
        label=_("Recommendation"),
        choices=[("yes", _("Recommend")), ("no", _("Do not recommend"))],
        widget=forms.RadioSelect,
    )
    subsidy_rate = forms.DecimalField(
        label=_("Subsidy rate (%)"),
        min_value=0,
        max_value=MAX_SUBSIDY_RATE * 100,
        max_digits=4,
        decimal_places=1,
    )
    rate_reason = forms.CharField(
        label=_("Reason for a rate above the call's"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    conditions = forms.CharField(
        label=_("Conditions"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    rationale = forms.CharField(
        label=_("Rationale"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when not recommending."),
    )

    def __init__(self, *args, pools, quarters, requested: dict, call_rate: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subsidy_rate"].initial = (call_rate * 100).quantize(Decimal("0.1"))
        self.cells = []
        for pool in pools:
            for quarter in quarters:
                name = f"hours_{pool.pk}_{quarter.pk}"
                self.fields[name] = forms.IntegerField(
                    label=_("GPU-hours in %(pool)s, %(quarter)s") % {"pool": pool.name, "quarter": quarter.code},
                    min_value=0,
                    max_value=MAX_HOURS_PER_CELL,
                    required=False,
                    initial=requested.get((pool.pk, quarter.pk), 0),
                )
                self.cells.append((pool, quarter, name))

    def hour_fields(self):
        return [self[name] for _pool, _quarter, name in self.cells]

    def field_for_error(self, name: str) -> str:
        """The services report a problem with the hours as a whole under ``hours``: it goes on the first cell."""
        if name == "hours" and self.cells:
            return self.cells[0][2]
        return name

    def hours(self) -> dict[tuple[int, int], int]:
        return {(pool.pk, quarter.pk): self.cleaned_data.get(name) or 0 for pool, quarter, name in self.cells}

    def rate(self) -> Decimal:
        return (self.cleaned_data["subsidy_rate"] / 100).quantize(Decimal("0.001"))

    def recommendation(self) -> dict:
        """The service's keyword arguments for what the committee member entered."""
        return {
            "recommended": self.cleaned_data["recommended"] == "yes",
            "hours": self.hours(),
            "subsidy_rate": self.rate(),
            "rate_reason": self.cleaned_data["rate_reason"],
            "conditions": self.cleaned_data["conditions"],
            "rationale": self.cleaned_data["rationale"],
        }


class DecisionForm(forms.Form):
    # The recommendation the decider read; a decision on one revised meanwhile is refused.
    recommendation = forms.IntegerField(widget=forms.HiddenInput, required=False)
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when rejecting; the applicant sees it."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for rejecting."))
        return data


class BulkDecisionForm(DecisionForm):
    proposals = ModelMultipleChoiceField(
        label=_("Proposals"), queryset=Proposal.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposals"].queryset = queryset
        self.fields["reason"].widget.attrs["class"] = "form-control"


class StepForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason or note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, reason_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required


class RecommendationRevisionForm(RecommendationForm):
    """The recommendation form, filled with the current recommendation, and the reason for revising it."""

    reason = forms.CharField(
        label=_("Reason for the revision"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded on the timeline and in the audit log; the deciders see it."),
        error_messages={"required": _("Give the reason for revising the recommendation.")},
    )

    def __init__(self, *args, current, pools, quarters, **kwargs):
        hours = {(h.pool_id, h.quarter_id): h.gpu_hours for h in current.hours.all()}
        super().__init__(
            *args, pools=pools, quarters=quarters, requested=hours, call_rate=current.subsidy_rate, **kwargs
        )
        self.fields["recommended"].initial = "yes" if current.recommended else "no"
        self.fields["rate_reason"].initial = current.rate_reason
        self.fields["conditions"].initial = current.conditions
        self.fields["rationale"].initial = current.rationale
