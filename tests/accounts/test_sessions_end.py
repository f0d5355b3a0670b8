"""Issue 10: a reset or newly enrolled second factor, or a changed password, ends the person's other sessions (the
one that made the change stays signed in). Real sessions in the database, each in its own test client."""

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.enums import Role
from tests.accounts.helpers import PASSWORD
from tests.factories.accounts import UserFactory, totp_code, totp_device

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(PROFILE).status_code == 200
    return client


def _still_signed_in(client) -> bool:
    response = client.get(PROFILE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_reset_second_factor_ends_every_session_of_the_person():
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    totp_device(chair)
    office, home = _signed_in(chair), _signed_in(chair)
    secretariat = _signed_in(UserFactory(role=Role.SECRETARIAT))

    response = secretariat.post(
        reverse("accounts:second_factor_reset", args=[chair.pk]), {"reason": "Lost phone; identity checked"}
    )

    assert response.status_code == 302
    assert (_still_signed_in(office), _still_signed_in(home), _still_signed_in(secretariat)) == (False, False, True)
    assert office.get(PROFILE).url.startswith(reverse("accounts:login"))


def test_a_changed_password_ends_the_other_sessions_and_keeps_this_one():
    user = UserFactory(role=Role.APPLICANT)
    this, other = _signed_in(user), _signed_in(user)
    new = "a-new-and-long-passphrase-41"

    response = this.post(
        reverse("accounts:password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )

    assert response.url == PROFILE
    assert (_still_signed_in(this), _still_signed_in(other)) == (True, False)


def test_a_newly_enrolled_factor_ends_the_other_sessions_and_keeps_this_one(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = UserFactory(role=Role.APPLICANT)
    this, other = _signed_in(user), _signed_in(user)
    this.get(reverse("accounts:second_factor_setup"))
    pending = TOTPDevice.objects.get(user=user, confirmed=False)

    response = this.post(reverse("accounts:second_factor_setup"), {"code": totp_code(pending)})

    assert response.status_code == 200
    assert len(response.context["codes"]) == 10
    assert (_still_signed_in(this), _still_signed_in(other)) == (True, False)


def test_sessions_from_before_any_change_stay_valid():
    """Raising the generation is what ends sessions: a person whose generation was never raised keeps Django's own
    session hash, so deploying this ends nobody's session."""
    user = UserFactory(role=Role.APPLICANT)
    client = _signed_in(user)

    user.refresh_from_db()

    assert user.session_generation == 0
    assert _still_signed_in(client)
