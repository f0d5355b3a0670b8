"""Forms validate; views bind them and call a service. Rendered with ``{{ form|crispy }}`` (label per field,
errors tied to their field)."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from .enums import OrganisationType
from .models import Organisation, User
from .services import password_reset_email_send


class SignupForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Type the same password again, to check it."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=User._meta.get_field("preferred_language").choices,
        help_text=_("We write to you in this language."),
    )
    consent = forms.BooleanField(
        label=_(
            "I have read the Personal Information Collection Statement above and agree to my data being used "
            "for the purposes it describes."
        ),
        required=True,
        error_messages={"required": _("You must agree to the Personal Information Collection Statement to sign up.")},
    )

    def clean_email(self) -> str:
        # Whether the address already has an account is never said here (no enumeration): the service emails
        # its owner instead.
        return self.cleaned_data["email"].strip().lower()

    def field_for_error(self, name: str) -> str:
        """The sign-up service names the password ``password``; here it is typed in ``password1``."""
        return "password1" if name == "password" else name

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", forms.ValidationError(_("The two passwords differ."), code="mismatch"))
        elif password1:
            candidate = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class LoginForm(AuthenticationForm):
    """Log in with an email address; an account whose address is not yet verified is refused."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The email address or password is not correct."),
        "unverified": _(
            "Your email address is not verified yet. Follow the link in the email we sent you, or ask for a new link."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.unverified = False
        self.fields["username"].label = _("Email")
        self.fields["username"].widget = forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_email_verified:
            self.unverified = True
            raise forms.ValidationError(self.error_messages["unverified"], code="unverified")


class VerificationResendForm(forms.Form):
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's password reset, with the email sent through our outbox and Celery in the user's language."""

    email = forms.EmailField(label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        password_reset_email_send(user=context["user"], uidb64=context["uid"], token=context["token"])


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "name_zh", "org_type", "br_number"]
        help_texts = {
            "name_zh": _("Optional."),
            "br_number": _("8 digits. Required for an enterprise; optional for other types."),
        }
        widgets = {"br_number": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})}

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data.get("name", "").split())
        if name and Organisation.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(
                _("An organisation with this name is already registered: ask to join it instead."), code="name_taken"
            )
        return name

    def clean_br_number(self) -> str:
        return self.cleaned_data.get("br_number", "").strip()

    def clean(self):
        cleaned = super().clean()
        br_number = cleaned.get("br_number", "")
        if cleaned.get("org_type") == OrganisationType.ENTERPRISE and not br_number and "br_number" not in self.errors:
            self.add_error("br_number", _("An enterprise needs its 8-digit Business Registration number."))
        elif br_number and Organisation.objects.filter(br_number=br_number).exists():
            self.add_error(
                "br_number", _("An organisation with this Business Registration number is already registered.")
            )
        return cleaned


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Co-applicant's email"),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        help_text=_("We email them a link to join the organisation. The link works for 14 days."),
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=User._meta.get_field("preferred_language").choices,
        help_text=_("The portal is shown in this language when you log in, and we write to you in it."),
    )


class ErasureRequestForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the secretariat (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my account will be deactivated and that I will no longer be able to log in.")
    )


class SecondFactorCodeForm(forms.Form):
    """The code from the authenticator app (or, at sign-in, a recovery code)."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false", "autofocus": True}
        ),
    )

    def __init__(self, *args, recovery_allowed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if recovery_allowed:
            self.fields["code"].help_text = _(
                "The 6 digits your authenticator app shows, or one of your recovery codes."
            )
        else:
            self.fields["code"].help_text = _("The 6 digits your authenticator app shows for the portal.")
            self.fields["code"].widget.attrs["inputmode"] = "numeric"


class SecondFactorResetForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the reset"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example how you confirmed who asked. It is kept in the audit log."),
    )


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label=_("Email or name"), max_length=100, required=False)
