"""The secretariat's call page: the call, its review and allocation settings, and formsets for the pools and their
capacities, the rubric, the screening checklist and the claw-back checkpoints (crispy layouts, one row a fieldset
with its own labels). ``CallSetupForms`` binds them all and turns them into the service's ``CallSetup``."""

from decimal import Decimal, InvalidOperation

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts.enums import OrganisationType
from portal.allocations.models import CallAllocationSettings, ClawbackCheckpoint
from portal.decisions.models import ScreeningItem
from portal.proposals.enums import AttachmentKind
from portal.reviews.models import CallReviewSettings

from .models import Call, PoolCapacity, ResourcePool, RubricCriterion, Scheme
from .services import ALLOCATION_FIELDS, CALL_FIELDS, REVIEW_FIELDS, CallSetup

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class KeepSecondsMixin:
    """A time shown to the minute and sent back unchanged keeps its stored seconds (no change is recorded)."""

    minute_fields: tuple[str, ...] = ()

    def _post_clean(self):
        for name in self.minute_fields:
            stored = getattr(self.instance, name, None)
            new = self.cleaned_data.get(name)
            if stored is not None and new is not None and new == stored.replace(second=0, microsecond=0):
                self.cleaned_data[name] = stored
        super()._post_clean()


def _helper(*rows) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(*[Row(*[Column(name, css_class=f"col-md-{width}") for name, width in row]) for row in rows])
    return helper


class CallForm(KeepSecondsMixin, forms.ModelForm):
    minute_fields = ("opens_at", "closes_at")

    quarters_text = forms.CharField(
        label=_("Quarters in which the hours are used"),
        help_text=_("Quarter codes separated by commas, e.g. 2027Q1, 2027Q2."),
    )
    eligible_org_types = forms.MultipleChoiceField(
        label=_("Who may apply"), choices=OrganisationType.choices, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        help_text=_("Kept in the audit log with the values before and after."),
    )

    class Meta:
        model = Call
        fields = [name for name in CALL_FIELDS if name != "eligible_org_types"]
        widgets = {
            "opens_at": DATETIME_WIDGET,
            "closes_at": DATETIME_WIDGET,
            "guidance": forms.Textarea(attrs={"rows": 4}),
            "guidance_zh": forms.Textarea(attrs={"rows": 4}),
            "description": forms.Textarea(attrs={"rows": 3}),
            "description_zh": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "opens_at": _("Hong Kong time (HKT)."),
            "closes_at": _("Hong Kong time (HKT)."),
            "org_cap": _("The largest share of a pool's awardable hours one organisation may hold (0.25 = 25%)."),
            "subsidy_rate": _("The standard share of the list price the scheme pays (0.70 = 70%)."),
            "max_subsidy_rate": _("The highest rate the committee may approve (0.90 = 90%)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["quarters_text"].initial = ", ".join(q.code for q in self.instance.quarters.all())
            self.fields["eligible_org_types"].initial = self.instance.eligible_org_types
            self.fields["reference"].disabled = True
        else:
            self.fields["eligible_org_types"].initial = OrganisationType.values
            self.initial.setdefault("scheme", None)
            self.initial["scheme"] = (
                self.initial["scheme"] or Scheme.objects.order_by("pk").values_list("pk", flat=True).first()
            )
        self.fields["scheme"].empty_label = None
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset(
                _("The call"),
                Row(Column("scheme", css_class="col-md-4"), Column("reference", css_class="col-md-4")),
                Row(Column("title", css_class="col-md-6"), Column("title_zh", css_class="col-md-6")),
                Row(Column("description", css_class="col-md-6"), Column("description_zh", css_class="col-md-6")),
                Row(Column("guidance", css_class="col-md-6"), Column("guidance_zh", css_class="col-md-6")),
                Row(Column("contact_email", css_class="col-md-6"), Column("contact_phone", css_class="col-md-6")),
                Row(Column("opens_at", css_class="col-md-4"), Column("closes_at", css_class="col-md-4")),
                "eligible_org_types",
            ),
            Fieldset(
                _("Money"),
                Row(
                    Column("budget", css_class="col-md-4"),
                    Column("subsidy_rate", css_class="col-md-4"),
                    Column("max_subsidy_rate", css_class="col-md-4"),
                ),
                Row(Column("max_subsidy_per_proposal", css_class="col-md-4"), Column("org_cap", css_class="col-md-4")),
                "quarters_text",
            ),
            Fieldset(
                _("Review"),
                Row(
                    Column("reviewers_per_proposal", css_class="col-md-4"),
                    Column("min_reviewers", css_class="col-md-4"),
                    Column("pass_mean", css_class="col-md-4"),
                ),
            ),
        )

    def field_for_error(self, name: str) -> str:
        return {"quarters": "quarters_text"}.get(name, name)

    def quarter_codes(self) -> list[str]:
        text = self.cleaned_data.get("quarters_text", "")
        return [code.strip().upper() for code in text.replace(";", ",").split(",") if code.strip()]


class ReviewSettingsForm(KeepSecondsMixin, forms.ModelForm):
    minute_fields = ("review_deadline",)

    class Meta:
        model = CallReviewSettings
        fields = list(REVIEW_FIELDS)
        widgets = {"review_deadline": DATETIME_WIDGET}
        labels = {"response_days": _("Rebuttal window: days the applicant has to respond")}
        help_texts = {"review_deadline": _("Hong Kong time (HKT). Reviewers see it; reminders are sent around it.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            (("review_deadline", 6), ("response_days", 6)),
            (("reminder_days_before", 6), ("reminder_days_after", 6)),
        )


class AllocationSettingsForm(forms.ModelForm):
    tiers = forms.CharField(
        label=_("Tier thresholds"),
        required=False,
        help_text=_("Weighted mean scores, highest first, separated by commas (e.g. 4.0, 3.0)."),
    )

    class Meta:
        model = CallAllocationSettings
        fields = list(ALLOCATION_FIELDS)
        labels = {"first_tranche_share": _("Tranche split: share released at the start (0.50 = half)")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["tiers"] = ", ".join(str(t) for t in (self.instance.tiers or []))
        self.helper = _helper(
            (("tiers", 6), ("first_tranche_share", 6)),
            (("first_report_after_months", 4), ("report_every_months", 4), ("final_report_within_days", 4)),
        )

    def clean_tiers(self) -> list[str]:
        text = self.cleaned_data.get("tiers") or ""
        tiers = []
        for part in text.split(","):
            if not part.strip():
                continue
            try:
                value = Decimal(part.strip())
            except InvalidOperation:
                raise forms.ValidationError(_("“%(value)s” is not a score.") % {"value": part.strip()}) from None
            if not value.is_finite() or not Decimal(0) < value <= Decimal(5):
                raise forms.ValidationError(_("A tier threshold is a score between 0 and 5."))
            tiers.append(value)
        if tiers != sorted(tiers, reverse=True) or len(set(tiers)) != len(tiers):
            raise forms.ValidationError(_("List the tier thresholds from the highest to the lowest, each once."))
        return [f"{t:.1f}" if t == t.quantize(Decimal("0.1")) else str(t) for t in tiers]


class PoolRowForm(forms.Form):
    pool = forms.ModelChoiceField(
        label=_("Pool"),
        queryset=ResourcePool.objects.order_by("code"),
        required=False,
        empty_label=_("A new pool (give its code and name)"),
    )
    code = forms.SlugField(label=_("Code of a new pool"), max_length=20, required=False)
    name = forms.CharField(label=_("Name (English)"), max_length=100, required=False)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=100, required=False)
    gpu_type = forms.CharField(label=_("GPU type"), max_length=50, required=False)
    list_price = ResourcePool._meta.get_field("list_price").formfield()
    held_back_share = ResourcePool._meta.get_field("held_back_share").formfield()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            (("pool", 4), ("list_price", 4), ("held_back_share", 4)),
            (("code", 3), ("name", 3), ("name_zh", 3), ("gpu_type", 3)),
        )

    def clean(self):
        data = super().clean()
        if not data.get("pool") and data.get("list_price") is not None:
            if not data.get("code") or not data.get("name"):
                raise forms.ValidationError(_("Choose a pool, or give the code and name of a new one."))
            if ResourcePool.objects.filter(code=data["code"]).exists():
                self.add_error("code", _("A pool with this code exists; choose it above."))
        return data


class CapacityRowForm(forms.Form):
    pool = forms.SlugField(label=_("Pool code"), max_length=20)
    quarter = forms.RegexField(label=_("Quarter"), regex=r"^\d{4}Q[1-4]$", max_length=6)
    gpu_hours = PoolCapacity._meta.get_field("gpu_hours").formfield()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quarter"].help_text = _("e.g. 2027Q1")
        self.helper = _helper((("pool", 4), ("quarter", 4), ("gpu_hours", 4)))


class CriterionRowForm(forms.ModelForm):
    class Meta:
        model = RubricCriterion
        fields = ["number", "name", "name_zh", "description", "description_zh", "weight", "min_to_pass"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "description_zh": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            (("number", 2), ("weight", 3), ("min_to_pass", 3)),
            (("name", 6), ("name_zh", 6)),
            (("description", 6), ("description_zh", 6)),
        )


class ScreeningRowForm(forms.ModelForm):
    required_documents = forms.MultipleChoiceField(
        label=_("Required attachment kinds"),
        choices=AttachmentKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For a documents check: the attachment kinds that must be present."),
    )

    class Meta:
        model = ScreeningItem
        fields = ["number", "kind", "text", "text_zh", "required_documents"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            (("number", 2), ("kind", 4)), (("text", 6), ("text_zh", 6)), (("required_documents", 12),)
        )


class CheckpointRowForm(forms.ModelForm):
    class Meta:
        model = ClawbackCheckpoint
        fields = ["number", "due_on", "threshold", "reclaim_share"]
        widgets = {"due_on": DATE_WIDGET}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper((("number", 2), ("due_on", 4), ("threshold", 3), ("reclaim_share", 3)))


def _formset(form, extra=1, max_rows=60):
    """Rows of one kind, at most ``max_rows`` of them: a row count beyond it (the management form's hidden total
    is the client's to send) is an error, and no more rows than that are ever built."""
    return forms.formset_factory(
        form, extra=extra, can_delete=True, max_num=max_rows, validate_max=True, absolute_max=max_rows
    )


PoolFormSet = _formset(PoolRowForm)
CapacityFormSet = _formset(CapacityRowForm, extra=2, max_rows=240)  # a pool and a quarter a row
CriterionFormSet = _formset(CriterionRowForm)
ScreeningFormSet = _formset(ScreeningRowForm)
CheckpointFormSet = _formset(CheckpointRowForm)


def _kept(formset) -> list[dict]:
    """The filled rows of a valid formset that are not marked for deletion."""
    rows = []
    for form in formset.forms:
        data = dict(form.cleaned_data or {})
        if not data or data.pop("DELETE", False):
            continue
        rows.append(data)
    return rows


class CallSetupForms:
    """Every form of the call page, bound together."""

    def __init__(self, *, call: Call | None, data=None):
        from portal.allocations.selectors import call_settings
        from portal.reviews.selectors import review_settings

        self.call = call
        self.call_form = CallForm(data, instance=call or Call(), prefix="call")
        review = review_settings(call=call) if call else CallReviewSettings()
        allocation = call_settings(call=call) if call else CallAllocationSettings(tiers=["4.0", "3.0"])
        self.review_form = ReviewSettingsForm(data, instance=review, prefix="review")
        self.allocation_form = AllocationSettingsForm(data, instance=allocation, prefix="allocation")
        initial = self._initial(call)
        self.pools = PoolFormSet(data, prefix="pools", initial=initial["pools"])
        self.capacities = CapacityFormSet(data, prefix="capacities", initial=initial["capacities"])
        self.criteria = CriterionFormSet(data, prefix="criteria", initial=initial["criteria"])
        self.screening = ScreeningFormSet(data, prefix="screening", initial=initial["screening"])
        self.checkpoints = CheckpointFormSet(data, prefix="checkpoints", initial=initial["checkpoints"])

    @classmethod
    def _initial(cls, call: Call | None) -> dict[str, list[dict]]:
        if call is None:
            # A new call starts from the latest call's pools, rubric and screening checklist (dates, capacities
            # and checkpoints are the new call's own).
            latest = Call.objects.order_by("-opens_at", "-pk").first()
            initial = cls._initial(latest) if latest is not None else {}
            return {
                "pools": initial.get("pools", []),
                "criteria": initial.get("criteria", []),
                "screening": initial.get("screening", []),
                "capacities": [],
                "checkpoints": [],
            }
        pools = list(call.pools.order_by("code"))
        quarters = list(call.quarters.order_by("starts_on"))
        capacities = PoolCapacity.objects.filter(pool__in=pools, quarter__in=quarters).select_related("pool", "quarter")
        return {
            "pools": [{"pool": p.pk, "list_price": p.list_price, "held_back_share": p.held_back_share} for p in pools],
            "capacities": [
                {"pool": c.pool.code, "quarter": c.quarter.code, "gpu_hours": c.gpu_hours}
                for c in sorted(capacities, key=lambda c: (c.pool.code, c.quarter.starts_on))
            ],
            "criteria": [
                {name: getattr(c, name) for name in CriterionRowForm.Meta.fields}
                for c in call.criteria.order_by("number")
            ],
            "screening": [
                {name: getattr(s, name) for name in ScreeningRowForm.Meta.fields}
                for s in call.screening_items.order_by("number")
            ],
            "checkpoints": [
                {name: getattr(c, name) for name in CheckpointRowForm.Meta.fields}
                for c in call.clawback_checkpoints.order_by("number")
            ],
        }

    @property
    def forms(self):
        return [self.call_form, self.review_form, self.allocation_form]

    @property
    def formsets(self):
        return [self.pools, self.capacities, self.criteria, self.screening, self.checkpoints]

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.forms] + [fs.is_valid() for fs in self.formsets])

    def setup(self) -> CallSetup:
        values = {name: self.call_form.cleaned_data[name] for name in self.call_form.Meta.fields}
        values["eligible_org_types"] = self.call_form.cleaned_data["eligible_org_types"]
        if self.call is not None:
            values.pop("reference")
        pools = []
        for row in _kept(self.pools):
            if row.get("pool") is None and row.get("list_price") is None:
                continue
            pools.append(row)
        return CallSetup(
            values=values,
            quarters=self.call_form.quarter_codes(),
            pools=pools,
            capacities=[row for row in _kept(self.capacities) if row.get("pool")],
            criteria=[row for row in _kept(self.criteria) if row.get("number") is not None],
            screening=[row for row in _kept(self.screening) if row.get("number") is not None],
            checkpoints=[row for row in _kept(self.checkpoints) if row.get("number") is not None],
            review={name: self.review_form.cleaned_data[name] for name in REVIEW_FIELDS},
            allocation={name: self.allocation_form.cleaned_data[name] for name in ALLOCATION_FIELDS},
        )

    def reason(self) -> str:
        return self.call_form.cleaned_data.get("reason", "")

    def add_error(self, error) -> None:
        from portal.core.forms import form_add_service_errors

        form_add_service_errors(self.call_form, error)
