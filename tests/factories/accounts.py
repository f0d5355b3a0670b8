from datetime import timedelta

import factory
from django.utils import timezone

from portal.accounts.enums import MembershipRole, OrganisationType, Role
from portal.accounts.models import Invitation, Membership, Organisation, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.hk")
    full_name = factory.Faker("name")
    role = Role.APPLICANT
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"University {n}")
    org_type = OrganisationType.UNIVERSITY
    br_number = ""


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = MembershipRole.ADMIN


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    organisation = factory.SubFactory(OrganisationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.hk")
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


# ---- Second factor ------------------------------------------------------------------------------------------------

# A fixed authenticator secret for tests that type codes (hex, as django-otp stores it).
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


def totp_device(user, *, key: str = TEST_TOTP_KEY, confirmed: bool = True):
    """The user's authenticator (created confirmed with ``key`` if they have none)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=confirmed).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", key=key, confirmed=confirmed)
    return device


def totp_code(device) -> str:
    """What the person's app shows now."""
    from portal.accounts.security import totp_code_now

    return totp_code_now(device)


def second_factor_pass(client, user) -> None:
    """Mark ``client``'s session as having passed the second factor, when ``user`` needs or has one."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from portal.accounts.security import HAS_FACTOR_KEY, second_factor_enabled, second_factor_required

    if not (second_factor_required(user) or second_factor_enabled(user)):
        return
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session[HAS_FACTOR_KEY] = True
    session.save()
