from datetime import timedelta

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.accounts.enums import MembershipRole, OrganisationType, Role
from portal.accounts.models import PICS_VERSION, ConsentRecord, Membership, Organisation, User
from portal.accounts.selectors import organisations_for_user, organisations_visible_to, user_personal_data
from portal.accounts.services import (
    VERIFY_SALT,
    VerificationLinkError,
    invitation_accept,
    invitation_send,
    organisation_create,
    user_role_change,
    user_signup,
    user_verification_resend,
    user_verify_email,
    verification_token_make,
)
from portal.audit.models import AuditEvent
from portal.notifications.models import OutboundEmail
from tests.factories.accounts import InvitationFactory, MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _signup(**overrides) -> User:
    values = {
        "email": "New.Person@Example.hk",
        "full_name": "Wong Siu Ming",
        "password": "a-long-and-unusual-passphrase",
        "preferred_language": "zh-hant",
    }
    return user_signup(**(values | overrides))


def test_user_signup_creates_unverified_applicant_with_consent():
    before = timezone.now()

    user = _signup()

    assert user.email == "new.person@example.hk"
    assert user.role == Role.APPLICANT
    assert user.email_verified_at is None
    assert user.check_password("a-long-and-unusual-passphrase") is True
    consent = ConsentRecord.objects.get(user=user)
    assert consent.pics_version == PICS_VERSION
    assert before <= consent.consented_at <= timezone.now()


def test_user_signup_queues_verification_in_preferred_language(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = _signup()

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.person@example.hk"]
    assert OutboundEmail.objects.get(to=user.email).language == "zh-hant"
    assert "/accounts/verify/" in mailoutbox[0].body


def test_user_signup_existing_email_any_case_creates_nothing_and_emails_the_owner(
    mailoutbox, django_capture_on_commit_callbacks
):
    owner = UserFactory(email="taken@example.hk", full_name="Chan Tai Man", preferred_language="zh-hant")

    with django_capture_on_commit_callbacks(execute=True):
        result = _signup(email="TAKEN@example.hk")

    assert result is None
    assert list(User.objects.values_list("email", flat=True)) == ["taken@example.hk"]
    assert User.objects.get().password == owner.password
    assert [(m.to, m.subject) for m in mailoutbox] == [(["taken@example.hk"], "您已在人工智能資助計劃平台有帳戶")]
    assert "/accounts/password/reset/" in mailoutbox[0].body
    assert "/accounts/verify/" not in mailoutbox[0].body


def test_user_signup_weak_password_refused():
    with pytest.raises(ValidationError) as excinfo:
        _signup(password="12345678")

    assert list(excinfo.value.message_dict) == ["password"]
    assert User.objects.count() == 0


def test_user_verify_email_good_token_verifies_once():
    user = _signup()
    token = verification_token_make(user=user, next_url="/accounts/organisation/")

    first = user_verify_email(token=token)
    second = user_verify_email(token=token)

    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert (first.user, first.newly_verified, first.next_url) == (user, True, "/accounts/organisation/")
    assert second.newly_verified is False


def test_user_verify_email_tampered_token_invalid():
    user = _signup()
    token = verification_token_make(user=user)

    with pytest.raises(VerificationLinkError) as excinfo:
        user_verify_email(token=token[:-2] + "xx")

    assert excinfo.value.expired is False


def test_user_verify_email_token_of_other_salt_invalid():
    user = _signup()

    with pytest.raises(VerificationLinkError):
        user_verify_email(token=signing.dumps({"u": user.pk, "e": user.email}))


class _SignerInThePast(signing.TimestampSigner):
    """Signs as if it were three days and a minute ago."""

    def timestamp(self) -> str:
        return signing.b62_encode(int((timezone.now() - timedelta(days=3, minutes=1)).timestamp()))


def test_user_verify_email_after_three_days_expired():
    user = _signup()
    token = _SignerInThePast(salt=VERIFY_SALT).sign_object({"u": user.pk, "e": user.email}, compress=True)

    with pytest.raises(VerificationLinkError) as excinfo:
        user_verify_email(token=token)

    assert excinfo.value.expired is True
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_user_verification_resend_unknown_or_verified_sends_nothing(mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="done@example.hk")

    with django_capture_on_commit_callbacks(execute=True):
        user_verification_resend(email="nobody@example.hk")
        user_verification_resend(email="done@example.hk")

    assert mailoutbox == []


def test_user_verification_resend_unverified_sends_link(mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="waiting@example.hk", email_verified_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        user_verification_resend(email="Waiting@Example.hk")

    assert [m.to for m in mailoutbox] == [["waiting@example.hk"]]


@pytest.mark.parametrize(
    ("org_type", "br_number"),
    [
        (OrganisationType.ENTERPRISE, "12345678"),
        (OrganisationType.UNIVERSITY, ""),
        (OrganisationType.UNIVERSITY, "23456789"),
        (OrganisationType.RND_CENTRE, ""),
        (OrganisationType.GOVERNMENT, ""),
    ],
)
def test_organisation_create_valid_makes_creator_admin(org_type, br_number):
    creator = UserFactory()

    organisation = organisation_create(creator=creator, name="Kowloon AI Lab", org_type=org_type, br_number=br_number)

    assert organisation.br_number == br_number
    assert organisation.created_by == creator
    assert list(Membership.objects.filter(organisation=organisation).values_list("user", "role")) == [
        (creator.pk, MembershipRole.ADMIN)
    ]
    event = AuditEvent.objects.get(action="organisation.created")
    assert event.object_id == str(organisation.pk)


def test_organisation_create_enterprise_without_br_refused():
    with pytest.raises(ValidationError) as excinfo:
        organisation_create(creator=UserFactory(), name="Startup", org_type=OrganisationType.ENTERPRISE)

    assert excinfo.value.message_dict == {
        "br_number": ["An enterprise needs its 8-digit Business Registration number."]
    }
    assert Organisation.objects.count() == 0


def test_organisation_create_short_br_refused():
    with pytest.raises(ValidationError) as excinfo:
        organisation_create(
            creator=UserFactory(), name="Startup", org_type=OrganisationType.ENTERPRISE, br_number="1234"
        )

    assert excinfo.value.message_dict == {"br_number": ["A Business Registration number is exactly 8 digits."]}


def test_organisation_create_duplicate_br_refused():
    OrganisationFactory(org_type=OrganisationType.ENTERPRISE, br_number="12345678")

    with pytest.raises(ValidationError) as excinfo:
        organisation_create(
            creator=UserFactory(), name="Copycat", org_type=OrganisationType.ENTERPRISE, br_number="12345678"
        )

    assert excinfo.value.message_dict == {
        "br_number": ["An organisation with this Business Registration number is already registered."]
    }


@pytest.mark.parametrize(
    "user_kwargs", [{"email_verified_at": None}, {"role": Role.REVIEWER}, {"role": Role.SECRETARIAT}]
)
def test_organisation_create_not_verified_applicant_denied(user_kwargs):
    with pytest.raises(PermissionDenied):
        organisation_create(creator=UserFactory(**user_kwargs), name="X", org_type=OrganisationType.UNIVERSITY)


def test_invitation_send_emails_link(member, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_send(
            organisation=member.organisation, email="Co.Applicant@Example.hk", invited_by=member.user
        )

    assert invitation.email == "co.applicant@example.hk"
    assert invitation.expires_at - invitation.created_at == timedelta(days=14)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Invitation to join Lion Rock University on the AI Subsidy Scheme portal"
    assert f"/accounts/invitations/{invitation.token}/" in mailoutbox[0].body


def test_invitation_send_twice_to_same_address_refused(member):
    invitation_send(organisation=member.organisation, email="co@example.hk", invited_by=member.user)

    with pytest.raises(ValidationError) as excinfo:
        invitation_send(organisation=member.organisation, email="CO@example.hk", invited_by=member.user)

    assert excinfo.value.message_dict == {"email": ["An invitation to this address is still open."]}


def test_invitation_send_to_existing_member_refused(member):
    other = MembershipFactory(organisation=member.organisation, user__email="in@example.hk")

    with pytest.raises(ValidationError) as excinfo:
        invitation_send(organisation=member.organisation, email=other.user.email, invited_by=member.user)

    assert excinfo.value.message_dict == {"email": ["This person is already a member of the organisation."]}


def test_invitation_send_by_non_member_denied(member):
    with pytest.raises(PermissionDenied):
        invitation_send(organisation=member.organisation, email="co@example.hk", invited_by=UserFactory())


def test_invitation_accept_open_creates_membership():
    invitation = InvitationFactory(email="co@example.hk")
    user = UserFactory(email="CO@example.hk".lower())

    membership = invitation_accept(invitation=invitation, user=user)

    invitation.refresh_from_db()
    assert (membership.user, membership.organisation, membership.role) == (
        user,
        invitation.organisation,
        MembershipRole.MEMBER,
    )
    assert invitation.accepted_by == user
    assert invitation.accepted_at is not None
    assert AuditEvent.objects.filter(action="invitation.accepted", actor=user).count() == 1


def test_invitation_accept_email_differs_only_in_case_accepted():
    invitation = InvitationFactory(email="Co@Example.hk")

    membership = invitation_accept(invitation=invitation, user=UserFactory(email="co@example.hk"))

    assert membership.organisation == invitation.organisation


def test_invitation_accept_wrong_email_refused():
    invitation = InvitationFactory(email="co@example.hk")

    with pytest.raises(ValidationError) as excinfo:
        invitation_accept(invitation=invitation, user=UserFactory(email="someone.else@example.hk"))

    assert excinfo.value.code == "wrong_email"
    assert Membership.objects.count() == 0


def test_invitation_accept_expired_refused():
    invitation = InvitationFactory(email="co@example.hk", expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(ValidationError) as excinfo:
        invitation_accept(invitation=invitation, user=UserFactory(email="co@example.hk"))

    assert excinfo.value.code == "expired"


def test_invitation_accept_reused_refused():
    invitation = InvitationFactory(email="co@example.hk")
    user = UserFactory(email="co@example.hk")
    invitation_accept(invitation=invitation, user=user)

    with pytest.raises(ValidationError) as excinfo:
        invitation_accept(invitation=invitation, user=user)

    assert excinfo.value.code == "used"
    assert Membership.objects.filter(user=user).count() == 1


def test_invitation_accept_by_official_refused():
    invitation = InvitationFactory(email="officer@example.hk")

    with pytest.raises(ValidationError) as excinfo:
        invitation_accept(invitation=invitation, user=UserFactory(email="officer@example.hk", role=Role.SECRETARIAT))

    assert excinfo.value.code == "not_applicant"


def test_user_role_change_audited():
    actor = UserFactory(role=Role.SECRETARIAT, is_staff=True)
    user = UserFactory(role=Role.APPLICANT)

    user_role_change(user=user, role=Role.REVIEWER, actor=actor, reason="Appointed to the expert panel")

    user.refresh_from_db()
    assert user.role == Role.REVIEWER
    event = AuditEvent.objects.get(action="user.role_changed")
    assert (event.actor, event.object_id, event.before, event.after, event.reason) == (
        actor,
        str(user.pk),
        {"role": "applicant"},
        {"role": "reviewer"},
        "Appointed to the expert panel",
    )


def test_user_role_change_same_role_not_audited():
    user = UserFactory(role=Role.REVIEWER)

    user_role_change(user=user, role=Role.REVIEWER, actor=UserFactory(role=Role.SECRETARIAT), reason="No change")

    assert AuditEvent.objects.filter(action="user.role_changed").count() == 0


def test_user_role_change_own_role_refused():
    actor = UserFactory(role=Role.SECRETARIAT)

    with pytest.raises(ValidationError):
        user_role_change(user=actor, role=Role.COMMITTEE_CHAIR, actor=actor, reason="Promote myself")

    actor.refresh_from_db()
    assert actor.role == Role.SECRETARIAT


def test_user_role_change_without_reason_refused():
    with pytest.raises(ValidationError) as excinfo:
        user_role_change(user=UserFactory(), role=Role.AUDITOR, actor=UserFactory(role=Role.SECRETARIAT), reason=" ")

    assert list(excinfo.value.message_dict) == ["reason"]


def test_organisations_visible_to_member_only_own(member):
    OrganisationFactory(name="Someone else's")

    assert list(organisations_visible_to(user=member.user)) == [member.organisation]
    assert list(organisations_for_user(user=member.user)) == [member.organisation]


def test_organisations_visible_to_official_all(member):
    other = OrganisationFactory(name="Zeta Institute")

    visible = organisations_visible_to(user=UserFactory(role=Role.AUDITOR))

    assert list(visible) == [member.organisation, other]


def test_organisations_for_user_query_count_constant(django_assert_num_queries):
    for size in (1, 5):
        user = UserFactory()
        for _ in range(size):
            organisation = MembershipFactory(user=user).organisation
            MembershipFactory(organisation=organisation, role=MembershipRole.MEMBER)
            InvitationFactory(organisation=organisation)
        with django_assert_num_queries(4):
            organisations = list(organisations_for_user(user=user))
            assert [len(o.member_list) for o in organisations] == [2] * size
            assert [len(o.open_invitations) for o in organisations] == [1] * size
            assert [len(o.open_join_requests) for o in organisations] == [0] * size


def test_user_personal_data_contains_account_and_consents(member):
    user = member.user
    ConsentRecord.objects.create(user=user, pics_version=PICS_VERSION)

    data = user_personal_data(user=user)

    assert data["account"]["email"] == "admin@example.hk"
    assert [c["pics_version"] for c in data["consents"]] == [PICS_VERSION]
    assert [o["name"] for o in data["organisations"]] == ["Lion Rock University"]
