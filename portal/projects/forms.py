from django import forms
from django.utils.translation import gettext_lazy as _

from portal.core.forms import ModelChoiceField

from .enums import ChangeRequestKind, ChangeRequestState
from .models import MAX_CHANGE_HOURS, MAX_REASON


class CentreClientForm(forms.Form):
    name = forms.CharField(
        label=_("Client name"),
        max_length=100,
        help_text=_('Who will use the token, e.g. "AISC Slurm controller".'),
    )


class ChangeRequestForm(forms.Form):
    """An applicant's change request: what to change, where, how many whole GPU-hours, and why. What a kind of
    change needs is required for it alone; the service says what is possible when the change cannot be made."""

    kind = forms.ChoiceField(label=_("Change"), choices=ChangeRequestKind.choices, widget=forms.RadioSelect)
    pool = ModelChoiceField(
        label=_("Pool"),
        queryset=None,
        required=False,
        help_text=_("Not needed for an early end."),
    )
    quarter = ModelChoiceField(
        label=_("Quarter"),
        queryset=None,
        help_text=_(
            "The quarter whose hours move (extension), are added (supplementary hours) or given back (reduction); for "
            "an early end, the last quarter of the project."
        ),
    )
    to_quarter = ModelChoiceField(
        label=_("Move to the quarter"),
        queryset=None,
        required=False,
        help_text=_("Extension only: a later quarter, within its capacity."),
    )
    gpu_hours = forms.IntegerField(
        label=_("GPU-hours"),
        min_value=1,
        max_value=MAX_CHANGE_HOURS,
        required=False,
        help_text=_("Whole GPU-hours. Not needed for an early end."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Why the project needs the change; the secretariat and the approving official read it."),
    )

    def __init__(self, *args, call, **kwargs):
        super().__init__(*args, **kwargs)
        quarters = call.quarters.order_by("starts_on")
        self.fields["pool"].queryset = call.pools.order_by("code")
        self.fields["quarter"].queryset = quarters
        self.fields["to_quarter"].queryset = quarters

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind and kind != ChangeRequestKind.EARLY_END:
            if not data.get("pool") and "pool" not in self.errors:
                self.add_error("pool", _("Choose the pool."))
            if not data.get("gpu_hours") and "gpu_hours" not in self.errors:
                self.add_error("gpu_hours", _("Give the GPU-hours."))
        if kind == ChangeRequestKind.EXTENSION and not data.get("to_quarter") and "to_quarter" not in self.errors:
            self.add_error("to_quarter", _("Choose the quarter the hours move to."))
        return data


class ChangeDecisionForm(forms.Form):
    """An official's action on a change request, with a note (required to refuse)."""

    action = forms.ChoiceField(choices=[(a, a) for a in ("recommend", "approve", "refuse", "withdraw")])
    note = forms.CharField(
        label=_("Note"),
        max_length=MAX_REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded in the audit log; required to refuse, and sent to the applicant with the decision."),
    )


class ChangeRequestFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Status"),
        choices=[
            ("", _("Waiting (submitted or recommended)")),
            ("all", _("Every status")),
            *ChangeRequestState.choices,
        ],
        required=False,
    )
