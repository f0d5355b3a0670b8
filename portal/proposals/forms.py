from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organisation
from portal.calls.models import Call
from portal.core.forms import ModelChoiceField

from .enums import AttachmentKind
from .schema import ProposalSchema


class ProposalForm(ProposalSchema):
    """The applicant's form: the schema, rendered without browser-side `required`, so that Save draft always
    goes through and nothing typed is lost."""

    use_required_attribute = False


class AttachmentForm(forms.Form):
    use_required_attribute = False

    attachment = forms.FileField(
        label=_("Add a PDF attachment"),
        required=False,
        help_text=_("PDF only, at most 20 MB. It is added when you save the draft."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    attachment_kind = forms.ChoiceField(
        label=_("Kind of document"), choices=AttachmentKind.choices, initial=AttachmentKind.TECHNICAL, required=False
    )

    def field_for_error(self, name: str) -> str:
        """What the attachment service finds wrong with an upload is said beside the file."""
        return name if name in self.fields else "attachment"


class ProposalStartForm(forms.Form):
    call = ModelChoiceField(label=_("Call"), queryset=Call.objects.none(), empty_label=None)
    organisation = ModelChoiceField(
        label=_("Lead organisation"), queryset=Organisation.objects.none(), empty_label=None
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.now()
        self.fields["call"].queryset = Call.objects.filter(opens_at__lte=now, closes_at__gte=now).order_by("closes_at")
        self.fields["organisation"].queryset = Organisation.objects.filter(memberships__user=user).order_by("name")


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for withdrawing"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The secretariat sees this reason."),
    )
