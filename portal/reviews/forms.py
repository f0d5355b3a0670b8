from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.core.forms import ModelChoiceField, ModelMultipleChoiceField, is_id
from portal.core.i18n import localised

from .enums import SCORE_LABELS, Recommendation
from .models import ReviewerProfile
from .services import ReviewInput

YES_NO = [("no", _("I have no conflict of interest")), ("yes", _("I have a conflict of interest"))]


class DeclarationForm(forms.Form):
    use_required_attribute = False

    declaration = forms.ChoiceField(
        label=_("Declaration of interest"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        error_messages={"required": _("Declare whether you have a conflict of interest.")},
    )
    reason = forms.CharField(
        label=_("What is the conflict?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you declare a conflict. The secretariat sees it."),
    )

    def clean(self):
        data = super().clean()
        if data.get("declaration") == "yes" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say what the conflict is."))
        return data

    @property
    def conflicted(self) -> bool:
        return self.cleaned_data["declaration"] == "yes"


# Lazy: each label is put into words in the reader's language when the form is shown.
SCALE = [(str(n), format_lazy("{} - {}", n, label)) for n, label in SCORE_LABELS.items()]


class ReviewForm(forms.Form):
    """Built from the call's rubric: a 0-5 score and a comment per criterion, then the general fields.
    Nothing is required for a draft; the submission's requirements are checked by the service."""

    use_required_attribute = False

    def __init__(self, *args, criteria, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = list(criteria)
        for criterion in self.criteria:
            self.fields[f"score_{criterion.number}"] = forms.TypedChoiceField(
                label=localised(criterion, "name"),
                choices=SCALE,
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
                error_messages={"invalid_choice": _("A score runs from 0 to 5; %(value)s is not on the scale.")},
            )
            self.fields[f"comment_{criterion.number}"] = forms.CharField(
                label=_("Comment on “%(name)s”") % {"name": localised(criterion, "name")},
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.fields["recommendation"] = forms.ChoiceField(
            label=_("Overall recommendation"),
            choices=Recommendation.choices,
            required=False,
            widget=forms.RadioSelect,
        )
        self.fields["comments_applicant"] = forms.CharField(
            label=_("Comments to the applicant"),
            required=False,
            max_length=10000,
            widget=forms.Textarea(attrs={"rows": 5}),
            help_text=_("Required. The applicant reads these without your name."),
        )
        self.fields["comments_committee"] = forms.CharField(
            label=_("Confidential comments to the committee"),
            required=False,
            max_length=10000,
            widget=forms.Textarea(attrs={"rows": 4}),
            help_text=_("Only the committee and the secretariat read these."),
        )

    @staticmethod
    def initial_from(review) -> dict:
        if review is None:
            return {}
        initial = {
            "recommendation": review.recommendation,
            "comments_applicant": review.comments_applicant,
            "comments_committee": review.comments_committee,
        }
        for score in review.scores.all():
            number = score.criterion.number
            initial[f"score_{number}"] = "" if score.score is None else str(score.score)
            initial[f"comment_{number}"] = score.comment
        return initial

    def rows(self):
        return [
            {"criterion": c, "score": self[f"score_{c.number}"], "comment": self[f"comment_{c.number}"]}
            for c in self.criteria
        ]

    def review_input(self) -> ReviewInput:
        data = self.cleaned_data
        return ReviewInput(
            scores={
                c.number: (data.get(f"score_{c.number}"), data.get(f"comment_{c.number}") or "") for c in self.criteria
            },
            recommendation=data.get("recommendation") or "",
            comments_applicant=data.get("comments_applicant") or "",
            comments_committee=data.get("comments_committee") or "",
        )


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Reason for reopening"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DeadlineExtensionForm(forms.Form):
    until = forms.DateTimeField(
        label=_("This reviewer may submit until (Hong Kong time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ProposalReferenceField(ModelChoiceField):
    """A proposal typed by its reference (``AISS-2026-0012``), not picked from a list: a call has thousands, and a
    list of them all made the assignments page megabytes long. Its number (primary key) is taken too."""

    widget = forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "maxlength": 40})
    default_error_messages = {
        "invalid_choice": _("No proposal of this call open for review has that reference."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", _("Its reference, for example AISS-2026-0012."))
        super().__init__(queryset=None, to_field_name="reference", **kwargs)

    def to_python(self, value):
        value = (value or "").strip() if isinstance(value, str) else value
        if value in self.empty_values:
            return None
        if is_id(value):
            found = self.queryset.filter(pk=int(value)).first()
        else:
            found = self.queryset.filter(reference__iexact=str(value)[:40]).first()
        if found is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return found


class ManualAssignForm(forms.Form):
    proposal = ProposalReferenceField(label=_("Proposal"))
    reviewer = ModelChoiceField(label=_("Reviewer"), queryset=None)

    def __init__(self, *args, proposals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposal"].queryset = proposals
        self.fields["reviewer"].queryset = User.objects.filter(role=Role.REVIEWER, is_active=True).order_by("full_name")


class ConflictRecordForm(forms.Form):
    proposal = ProposalReferenceField(label=_("Proposal"))
    person = ModelChoiceField(label=_("Reviewer or committee member"), queryset=None)
    reason = forms.CharField(label=_("Conflict"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, proposals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposal"].queryset = proposals
        self.fields["person"].queryset = User.objects.filter(
            role__in=[Role.REVIEWER, Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER],
            is_active=True,
        ).order_by("full_name")


class ResponseForm(forms.Form):
    text = forms.CharField(
        label=_("Your response to the reviews"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("You can send one response. The committee reads it beside the reviews."),
    )


class ConsensusForm(forms.Form):
    score = forms.DecimalField(label=_("Agreed score (0-5)"), min_value=0, max_value=5, max_digits=3, decimal_places=2)
    rationale = forms.CharField(
        label=_("Rationale"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required when the agreed score departs from the calibrated mean by more than the call's margin."),
    )
    feedback = forms.CharField(
        label=_("Feedback for the applicant"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The decision letter quotes it."),
    )


class ProfileForm(forms.ModelForm):
    """The reviewer's own profile; ``reviewer_profile_save`` saves what it validates (never ``form.save()``)."""

    class Meta:
        model = ReviewerProfile
        fields = ["organisation", "expertise", "max_per_call", "available"]
        widgets = {"expertise": forms.CheckboxSelectMultiple}
        field_classes = {"organisation": ModelChoiceField, "expertise": ModelMultipleChoiceField}


class ReviewPreferencesForm(forms.Form):
    """The areas of expertise a proposal needs and the reviewers its applicant suggests (optional)."""

    use_required_attribute = False

    tags = forms.MultipleChoiceField(
        label=_("Areas of expertise the review needs"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("We look for reviewers with these areas of expertise."),
    )

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(str(tag.pk), tag.name) for tag in tags]
        for i in range(1, SUGGESTION_ROWS + 1):
            self.fields[f"name{i}"] = forms.CharField(
                label=_("Suggested reviewer %(n)s: name") % {"n": i}, max_length=200, required=False
            )
            self.fields[f"email{i}"] = forms.EmailField(
                label=_("Suggested reviewer %(n)s: email") % {"n": i}, required=False
            )

    def clean(self):
        cleaned = super().clean()
        for i in range(1, SUGGESTION_ROWS + 1):
            if cleaned.get(f"name{i}") and not cleaned.get(f"email{i}") and f"email{i}" not in self.errors:
                self.add_error(f"email{i}", _("Give the suggested reviewer's email, or clear the name."))
        return cleaned

    def suggestions(self) -> list[tuple[str, str]]:
        return [
            (self.cleaned_data.get(f"name{i}") or "", self.cleaned_data[f"email{i}"])
            for i in range(1, SUGGESTION_ROWS + 1)
            if self.cleaned_data.get(f"email{i}")
        ]


SUGGESTION_ROWS = 3
