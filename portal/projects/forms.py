from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.core.forms import ModelChoiceField

from .enums import ChangeRequestKind, ChangeRequestState, OutputKind
from .models import MAX_CHANGE_HOURS, MAX_REASON
from .validators import normalise_doi, validate_doi


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


# ---- Progress reports --------------------------------------------------------------------------------------------

TEXT = {"max_length": 20000, "required": False}


class ProgressReportForm(forms.Form):
    """What the applicant writes; the proposal's KPIs and deliverables are the starting text. The usage so far is
    not a field: it is taken from the imported usage when the report is submitted."""

    kpis = forms.CharField(
        label=_("Progress against the key performance indicators"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Your proposal's KPIs are filled in: say against each how far the project has come."),
        **TEXT,
    )
    deliverables = forms.CharField(
        label=_("Progress against the deliverables"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Your proposal's deliverables are filled in: say which are done, and when the rest will be."),
        **TEXT,
    )
    problems = forms.CharField(label=_("Problems met"), widget=forms.Textarea(attrs={"rows": 4}), **TEXT)
    next_plan = forms.CharField(label=_("Plan for the next period"), widget=forms.Textarea(attrs={"rows": 4}), **TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True


class ReportOutputForm(forms.Form):
    """One output: a paper (with its DOI), a model, a data set, a product, or people trained (with how many)."""

    kind = forms.ChoiceField(label=_("Kind of output"), choices=[("", "—"), *OutputKind.choices], required=False)
    title = forms.CharField(label=_("Title or description"), max_length=300, required=False)
    doi = forms.CharField(
        label=_("DOI (papers)"),
        max_length=220,
        required=False,
        help_text=_("For example 10.1000/xyz123 or https://doi.org/10.1000/xyz123."),
    )
    count = forms.IntegerField(
        label=_("How many (people trained)"), min_value=1, max_value=100_000, required=False, initial=1
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_doi(self) -> str:
        doi = normalise_doi(self.cleaned_data.get("doi", ""))
        if doi:
            validate_doi(doi)
        return doi

    def clean(self):
        data = super().clean()
        kind, title = data.get("kind"), (data.get("title") or "").strip()
        if not kind and not title and not data.get("doi"):
            return data  # an empty row
        if not kind:
            self.add_error("kind", _("Choose the kind of output."))
        if not title:
            self.add_error("title", _("Give the output's title or a description."))
        if kind == OutputKind.PAPER and not data.get("doi") and "doi" not in self.errors:
            self.add_error("doi", _("Give the paper's DOI."))
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("kind") and not (data.get("title") or "").strip() and not data.get("doi")


ReportOutputFormSet = forms.formset_factory(
    ReportOutputForm, extra=2, can_delete=True, max_num=50, validate_max=True, absolute_max=60
)


class ReportStepForm(forms.Form):
    """A step an official or the applicant takes on a report's page, with its reason (or the answer)."""

    reason = forms.CharField(
        label=_("Reason, question or answer"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
    )
