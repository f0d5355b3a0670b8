"""What a proposal contains (domain brief §5), as one validating form per call.

The applicant's working copy is stored exactly as typed (``Proposal.draft``: field name → text); this schema
says what is still missing or wrong, section by section, and gives the clean values on submission."""

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organisation
from portal.accounts.selectors import organisations_by_names
from portal.calls.models import Call, Quarter, ResourcePool
from portal.calls.selectors import call_pools, call_quarters
from portal.core.formatting import format_hkd

from .budget import Budget, budget_compute
from .enums import Precision, Workload
from .models import MAX_HOURS_PER_CELL

CO_APPLICANT_ROWS = 5
# HK$ amounts typed by applicants: at most 12 digits before the point (max_digits 14, 2 places).
MAX_HKD = Decimal("999999999999.99")

phone_validator = RegexValidator(r"^\+?[0-9 ()-]{8,20}$", _("Enter a telephone number, e.g. +852 2123 4567."))


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: tuple[str, ...]


def hours_field_name(pool_code: str, quarter_code: str) -> str:
    return f"hours__{pool_code}__{quarter_code}"


def co_field_names(i: int) -> tuple[str, str, str]:
    return (f"co{i}_name", f"co{i}_organisation", f"co{i}_email")


class HoursField(forms.IntegerField):
    """A whole number of GPU-hours; thousands separators and spaces are allowed ("120,000")."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace(" ", "")
        return super().to_python(value)


def long_text(label, *, required=True, max_length=5000, help_text="", rows=5):
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class CallContext:
    """The parts of a call the form needs, each loaded once when first needed (pools and quarters): a request that
    ends before it needs them (a second Submit of a proposal already submitted) never reads them. Co-applicants'
    organisations are looked up by name when the form is checked, never listed whole."""

    def __init__(self, call: Call):
        self.call = call

    @cached_property
    def pools(self) -> list[ResourcePool]:
        return call_pools(self.call.pk)

    @cached_property
    def quarters(self) -> list[Quarter]:
        return call_quarters(self.call.pk)

    @cached_property
    def prices(self) -> dict[str, Decimal]:
        return {pool.code: pool.list_price for pool in self.pools}

    def hours_fields(self) -> list[tuple[ResourcePool, Quarter, str]]:
        return [(p, q, hours_field_name(p.code, q.code)) for p in self.pools for q in self.quarters]


class OrganisationSearchInput(forms.TextInput):
    """A text input for an organisation's name, with suggestions from the search endpoint as one types
    (static/js/organisation_search.js fills the datalist); without JavaScript the exact name is typed."""

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "data-organisation-search": "", **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        list_id = f"{context['widget']['attrs'].get('id', name)}-suggestions"
        context["widget"]["attrs"]["list"] = list_id
        context["widget"]["attrs"]["data-suggestions"] = reverse("accounts:organisation_search")
        context["list_id"] = list_id
        return context

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        list_id = self.get_context(name, value, attrs)["list_id"]
        return format_html('{}<datalist id="{}"></datalist>', html, list_id)


class ProposalSchema(forms.Form):
    """Full validation of a proposal. Bound to the stored draft to tell what is missing."""

    title = forms.CharField(label=_("Project title (English)"), max_length=300)
    title_zh = forms.CharField(label=_("Project title (Chinese)"), max_length=300, required=False)
    summary = long_text(_("Summary"), max_length=3000, help_text=_("At most 3,000 characters."), rows=4)
    objectives = long_text(_("Objectives"))

    lead_name = forms.CharField(label=_("Project lead: name"), max_length=200)
    lead_position = forms.CharField(label=_("Project lead: position"), max_length=200)
    lead_email = forms.EmailField(label=_("Project lead: email"))
    lead_phone = forms.CharField(
        label=_("Project lead: telephone"), max_length=20, required=False, validators=[phone_validator]
    )

    model_size = forms.CharField(
        label=_("Model size"), max_length=100, help_text=_("For example: 70 billion parameters.")
    )
    dataset_size = forms.CharField(
        label=_("Dataset size"), max_length=100, help_text=_("For example: 2 trillion tokens, 40 TB.")
    )
    workload = forms.ChoiceField(label=_("Training or inference"), choices=[("", "---------"), *Workload.choices])
    precision = forms.ChoiceField(label=_("Numerical precision"), choices=[("", "---------"), *Precision.choices])
    technical_approach = long_text(_("Technical approach"), max_length=10000)

    implementation_plan = long_text(_("Implementation plan and schedule"), max_length=10000)

    deliverables = long_text(_("Deliverables"))
    kpis = long_text(_("Key performance indicators"))

    min_share = forms.IntegerField(
        label=_("Minimum viable share (%)"),
        min_value=1,
        max_value=100,
        help_text=_("The smallest share of the requested hours with which the project can still go ahead."),
    )
    compute_justification = long_text(
        _("Justification of the compute request"),
        max_length=5000,
        help_text=_("How the GPU-hours follow from the model size, the data and the schedule."),
    )

    other_funding = forms.DecimalField(
        label=_("Other funding (HK$)"),
        min_value=0,
        max_value=MAX_HKD,
        max_digits=14,
        decimal_places=2,
        required=False,
    )
    other_funding_sources = long_text(_("Sources of other funding"), required=False, max_length=2000, rows=2)

    ethics_statement = long_text(
        _("Ethics and data statement"),
        max_length=5000,
        help_text=_("Personal or sensitive data used, consents and approvals obtained, and how data are protected."),
    )
    data_declaration = forms.BooleanField(
        label=_("The data will be used lawfully, including under the Personal Data (Privacy) Ordinance.")
    )
    accuracy_confirm = forms.BooleanField(label=_("The information in this proposal is true and complete."))
    pics_consent = forms.BooleanField(
        label=_("I have read the Personal Information Collection Statement and agree to it.")
    )

    def __init__(self, *args, context: CallContext, **kwargs):
        self.context = context
        super().__init__(*args, **kwargs)
        self.co_organisations: dict[int, Organisation] = {}
        for i in range(1, CO_APPLICANT_ROWS + 1):
            name, org, email = co_field_names(i)
            self.fields[name] = forms.CharField(label=_("Co-applicant %(n)s: name") % {"n": i}, required=False)
            self.fields[org] = forms.CharField(
                label=_("Co-applicant %(n)s: organisation") % {"n": i},
                required=False,
                max_length=200,
                widget=OrganisationSearchInput(),
                help_text=_("A registered organisation: type its name and choose it from the suggestions."),
            )
            self.fields[email] = forms.EmailField(label=_("Co-applicant %(n)s: email") % {"n": i}, required=False)
        for pool, quarter, name in context.hours_fields():
            self.fields[name] = HoursField(
                label=_("GPU-hours in %(pool)s, %(quarter)s") % {"pool": pool.name, "quarter": quarter.code},
                min_value=0,
                max_value=MAX_HOURS_PER_CELL,
                required=False,
            )

    @classmethod
    def sections(cls, context: CallContext) -> list[Section]:
        co = tuple(name for i in range(1, CO_APPLICANT_ROWS + 1) for name in co_field_names(i))
        hours = tuple(name for _p, _q, name in context.hours_fields())
        return [
            Section("project", _("Project"), ("title", "title_zh", "summary", "objectives")),
            Section("team", _("Team"), ("lead_name", "lead_position", "lead_email", "lead_phone", *co)),
            Section(
                "technical",
                _("Technical approach"),
                ("model_size", "dataset_size", "workload", "precision", "technical_approach"),
            ),
            Section("plan", _("Implementation plan"), ("implementation_plan",)),
            Section("deliverables", _("Deliverables and KPIs"), ("deliverables", "kpis")),
            Section("compute", _("Compute request"), (*hours, "min_share", "compute_justification")),
            Section("budget", _("Budget"), ("other_funding", "other_funding_sources")),
            Section("attachments", _("Attachments"), ()),
            Section(
                "declarations",
                _("Declarations"),
                ("ethics_statement", "data_declaration", "accuracy_confirm", "pics_consent"),
            ),
        ]

    def clean(self):
        cleaned = super().clean()
        typed = {i: (cleaned.get(co_field_names(i)[1]) or "").strip() for i in range(1, CO_APPLICANT_ROWS + 1)}
        found = organisations_by_names(names=[t for t in typed.values() if t])
        for i, text in typed.items():
            if not text:
                continue
            if text in found:
                self.co_organisations[i] = found[text]
            else:
                self.add_error(
                    co_field_names(i)[1],
                    _(
                        "No registered organisation has this name. Choose one from the suggestions, or leave it "
                        "empty if the organisation is not registered."
                    ),
                )
        for i in range(1, CO_APPLICANT_ROWS + 1):
            name, org, email = co_field_names(i)
            if any(cleaned.get(f) for f in (name, org, email)):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _("Give the co-applicant's name, or clear this row."))
                if not cleaned.get(email) and email not in self.errors:
                    self.add_error(email, _("Give the co-applicant's email, or clear this row."))
        hours = self.requested_hours()
        hour_fields = [name for _p, _q, name in self.context.hours_fields()]
        if hour_fields and not any(hours.values()) and not any(f in self.errors for f in hour_fields):
            self.add_error(hour_fields[0], _("Request GPU-hours in at least one quarter."))
        cap = self.context.call.max_subsidy_per_proposal
        if cap is not None and hour_fields and not any(f in self.errors for f in hour_fields):
            budget = self.budget()
            if budget.subsidy > cap:
                self.add_error(
                    hour_fields[0],
                    _("The subsidy of %(subsidy)s is above this call's cap of %(cap)s per proposal.")
                    % {"subsidy": format_hkd(budget.subsidy), "cap": format_hkd(cap)},
                )
        return cleaned

    def requested_hours(self) -> dict[tuple[str, str], int]:
        data = getattr(self, "cleaned_data", {})
        return {
            (pool.code, quarter.code): int(data.get(name) or 0) for pool, quarter, name in self.context.hours_fields()
        }

    def budget(self) -> Budget:
        data = getattr(self, "cleaned_data", {})
        return budget_compute(
            hours=self.requested_hours(),
            prices=self.context.prices,
            subsidy_rate=self.context.call.subsidy_rate,
            other_funding=data.get("other_funding") or Decimal(0),
        )


# The most characters the working copy keeps of one field (more is never stored: see ``too_long_in_post``).
MAX_TYPED = 20000


def raw_from_post(schema_fields, data) -> dict[str, str]:
    """What the applicant typed, field by field, valid or not (checkboxes as "on" or "")."""
    raw = {}
    for name, field in schema_fields.items():
        if isinstance(field, forms.BooleanField):
            raw[name] = "on" if data.get(name) else ""
        else:
            raw[name] = str(data.get(name, ""))[:MAX_TYPED]
    return raw


def too_long_in_post(schema_fields, data) -> dict[str, str]:
    """The fields typed longer than :data:`MAX_TYPED` characters, with what was typed: not saved, but shown again
    with an error, so that nothing is cut without the applicant knowing."""
    return {
        name: str(data.get(name, ""))
        for name, field in schema_fields.items()
        if not isinstance(field, forms.BooleanField) and len(str(data.get(name, ""))) > MAX_TYPED
    }


# The applicant's reply to the secretariat's clarification questions: kept in the working copy with the form's
# fields, frozen with the next version and recorded on the clarification request it answers.
CLARIFICATION_REPLY = "clarification_reply"
MAX_REPLY = 10000


def extra_from_post(data) -> dict[str, str]:
    """Working-copy entries that are not fields of the schema (the clarification reply)."""
    if CLARIFICATION_REPLY in data:
        return {CLARIFICATION_REPLY: str(data.get(CLARIFICATION_REPLY, ""))[:MAX_REPLY]}
    return {}


def budget_from_raw(context: CallContext, raw: dict[str, str]) -> tuple[Budget, dict[str, str]]:
    """A best-effort budget from typed values, for the live preview: unreadable cells count as 0 and are named."""
    hours: dict[tuple[str, str], int] = {}
    problems: dict[str, str] = {}
    for pool, quarter, name in context.hours_fields():
        text = (raw.get(name) or "").replace(",", "").replace(" ", "")
        if not text:
            hours[(pool.code, quarter.code)] = 0
            continue
        try:
            value = int(text)
            if value < 0 or value > MAX_HOURS_PER_CELL:
                raise ValueError
        except ValueError:
            problems[name] = str(_("Enter a whole number of GPU-hours."))
            value = 0
        hours[(pool.code, quarter.code)] = value
    other_text = (raw.get("other_funding") or "").strip().replace(",", "")
    try:
        other = Decimal(other_text) if other_text else Decimal(0)
        if not other.is_finite() or other < 0 or other > MAX_HKD:
            raise ValueError
    except (ValueError, ArithmeticError):
        problems["other_funding"] = str(_("Enter an amount in HK$."))
        other = Decimal(0)
    budget = budget_compute(
        hours=hours, prices=context.prices, subsidy_rate=context.call.subsidy_rate, other_funding=other
    )
    return budget, problems
