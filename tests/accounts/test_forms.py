import pytest

from portal.accounts.enums import OrganisationType
from portal.accounts.forms import LoginForm, OrganisationForm, SignupForm
from tests.accounts.helpers import PASSWORD
from tests.factories.accounts import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "full_name": "Wong Siu Ming",
    "email": "siu.ming@example.hk",
    "password1": "a-long-and-unusual-passphrase",
    "password2": "a-long-and-unusual-passphrase",
    "preferred_language": "en",
    "consent": "on",
}


def test_signup_form_valid_lowercases_email():
    form = SignupForm(data=SIGNUP | {"email": "Siu.Ming@EXAMPLE.hk"})

    assert form.is_valid() is True
    assert form.cleaned_data["email"] == "siu.ming@example.hk"


def test_signup_form_never_says_an_address_has_an_account():
    UserFactory(email="siu.ming@example.hk")

    form = SignupForm(data=SIGNUP | {"email": "SIU.MING@example.hk"})

    assert form.is_valid() is True
    assert form.cleaned_data["email"] == "siu.ming@example.hk"


def test_signup_form_weak_password_error_on_password_field():
    form = SignupForm(data=SIGNUP | {"password1": "password", "password2": "password"})

    assert form.is_valid() is False
    assert form.errors["password1"] == [
        "This password is too short. It must contain at least 10 characters.",
        "This password is too common.",
    ]


def test_signup_form_password_like_email_refused():
    form = SignupForm(data=SIGNUP | {"password1": "siu.ming@example", "password2": "siu.ming@example"})

    assert form.is_valid() is False
    assert form.errors["password1"] == ["The password is too similar to the email address."]


def test_signup_form_mismatched_passwords_error_on_second():
    form = SignupForm(data=SIGNUP | {"password2": "something-else-entirely"})

    assert form.is_valid() is False
    assert form.errors == {"password2": ["The two passwords differ."]}


def test_signup_form_without_consent_refused():
    data = {k: v for k, v in SIGNUP.items() if k != "consent"}

    form = SignupForm(data=data)

    assert form.is_valid() is False
    assert form.errors == {"consent": ["You must agree to the Personal Information Collection Statement to sign up."]}


def test_login_form_unverified_refused(rf):
    user = UserFactory(email="late@example.hk", email_verified_at=None)

    form = LoginForm(rf.post("/accounts/login/"), data={"username": "Late@Example.hk", "password": PASSWORD})

    assert form.is_valid() is False
    assert form.unverified is True
    assert form.non_field_errors() == [
        "Your email address is not verified yet. Follow the link in the email we sent you, or ask for a new link."
    ]
    user.refresh_from_db()
    assert user.last_login is None


def test_login_form_verified_email_any_case_accepted(rf):
    user = UserFactory(email="ok@example.hk")

    form = LoginForm(rf.post("/accounts/login/"), data={"username": "OK@example.hk", "password": PASSWORD})

    assert form.is_valid() is True
    assert form.get_user() == user
    assert form.fields["username"].label == "Email"


def test_login_form_wrong_password_does_not_reveal_verification(rf):
    UserFactory(email="late@example.hk", email_verified_at=None)

    form = LoginForm(rf.post("/accounts/login/"), data={"username": "late@example.hk", "password": "wrong-password"})

    assert form.is_valid() is False
    assert form.unverified is False
    assert form.non_field_errors() == ["The email address or password is not correct."]


@pytest.mark.parametrize(
    ("org_type", "br_number", "errors"),
    [
        (OrganisationType.ENTERPRISE, "12345678", {}),
        (
            OrganisationType.ENTERPRISE,
            "",
            {"br_number": ["An enterprise needs its 8-digit Business Registration number."]},
        ),
        (OrganisationType.ENTERPRISE, "1234", {"br_number": ["A Business Registration number is exactly 8 digits."]}),
        (OrganisationType.UNIVERSITY, "", {}),
        (OrganisationType.UNIVERSITY, "1234", {"br_number": ["A Business Registration number is exactly 8 digits."]}),
        (OrganisationType.RND_CENTRE, "", {}),
        (OrganisationType.GOVERNMENT, "", {}),
    ],
)
def test_organisation_form_br_number_rules(org_type, br_number, errors):
    form = OrganisationForm(data={"name": "Kowloon AI Lab", "org_type": org_type, "br_number": br_number})

    assert form.errors == errors


def test_organisation_form_duplicate_br_error_on_field():
    OrganisationFactory(org_type=OrganisationType.ENTERPRISE, br_number="12345678")

    form = OrganisationForm(data={"name": "Copycat", "org_type": OrganisationType.ENTERPRISE, "br_number": "12345678"})

    assert form.errors == {
        "br_number": ["An organisation with this Business Registration number is already registered."]
    }
