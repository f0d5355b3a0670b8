import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.enums import MembershipRole, OrganisationType, Role
from portal.accounts.models import PICS_VERSION, ConsentRecord, Invitation, Membership, Organisation, User
from portal.audit.models import AuditEvent
from tests.accounts.helpers import PASSWORD, link_in
from tests.factories.accounts import InvitationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "full_name": "Wong Siu Ming",
    "email": "siu.ming@example.hk",
    "password1": "a-long-and-unusual-passphrase",
    "password2": "a-long-and-unusual-passphrase",
    "preferred_language": "en",
    "consent": "on",
}


def _sign_up(client, capture, data=SIGNUP, query=""):
    with capture(execute=True):
        return client.post(reverse("accounts:signup") + query, data)


# ---- Sign up and verification ----------------------------------------------------------------------------------


def test_signup_page_shows_pics_before_fields(client):
    html = client.get(reverse("accounts:signup")).content.decode()

    assert html.index("Personal Information Collection Statement") < html.index('name="full_name"')
    assert html.index("Purpose of collection") < html.index('name="full_name"')
    assert 'for="id_consent"' in html
    assert 'for="id_email"' in html


def test_signup_valid_sends_working_link(client, mailoutbox, django_capture_on_commit_callbacks):
    response = _sign_up(client, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response.url == reverse("accounts:signup_done")
    assert "siu.ming@example.hk" in client.get(response.url).content.decode()
    user = User.objects.get(email="siu.ming@example.hk")
    assert (user.role, user.email_verified_at) == (Role.APPLICANT, None)
    consent = ConsentRecord.objects.get(user=user)
    assert consent.pics_version == PICS_VERSION
    assert consent.consented_at is not None
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Verify your email address for the AI Subsidy Scheme portal"

    verified = client.get(link_in(mailoutbox[0].body))

    assert verified.status_code == 302
    assert verified.url == reverse("accounts:organisation")
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert get_user(client).pk == user.pk


def test_signup_missing_consent_keeps_typed_values(client):
    data = {k: v for k, v in SIGNUP.items() if k != "consent"}

    response = client.post(reverse("accounts:signup"), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Wong Siu Ming"' in html
    assert 'value="siu.ming@example.hk"' in html
    assert "You must agree to the Personal Information Collection Statement to sign up." in html
    assert "a-long-and-unusual-passphrase" not in html
    assert User.objects.count() == 0


def test_signup_with_taken_address_looks_like_a_new_one_and_emails_the_owner(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="siu.ming@example.hk")
    fresh = Client()

    with django_capture_on_commit_callbacks(execute=True):
        taken = client.post(reverse("accounts:signup"), SIGNUP | {"email": "Siu.Ming@Example.hk"}, follow=True)
        new = fresh.post(reverse("accounts:signup"), SIGNUP | {"email": "someone.new@example.hk"}, follow=True)

    assert taken.redirect_chain == new.redirect_chain == [(reverse("accounts:signup_done"), 302)]

    def page(response, address):
        html = response.content.decode().replace(address, "ADDRESS")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert page(taken, "siu.ming@example.hk") == page(new, "someone.new@example.hk")
    assert sorted(User.objects.values_list("email", flat=True)) == ["siu.ming@example.hk", "someone.new@example.hk"]
    assert sorted((m.to[0], m.subject) for m in mailoutbox) == [
        ("siu.ming@example.hk", "You already have an account on the AI Subsidy Scheme portal"),
        ("someone.new@example.hk", "Verify your email address for the AI Subsidy Scheme portal"),
    ]


def test_signup_weak_password_refused(client):
    response = client.post(reverse("accounts:signup"), SIGNUP | {"password1": "12345678", "password2": "12345678"})

    assert response.status_code == 200
    assert "password1" in response.context["form"].errors
    assert User.objects.count() == 0


def test_signup_when_logged_in_redirects_home(client, applicant):
    client.force_login(applicant)

    response = client.get(reverse("accounts:signup"))

    assert response.status_code == 302
    assert response.url == reverse("core:home")


def test_verify_bad_token_shows_resend_form(client):
    response = client.get(reverse("accounts:verify", kwargs={"token": "not-a-token"}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The verification link is not valid." in html
    assert f'action="{reverse("accounts:verify_resend")}"' in html
    assert get_user(client).is_authenticated is False


def test_verify_expired_token_says_expired(client, mailoutbox, django_capture_on_commit_callbacks):
    _sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mailoutbox[0].body)
    later = timezone.now() + timedelta(days=3, minutes=1)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.core.signing.time.time", later.timestamp)
        response = client.get(link)

    assert response.status_code == 200
    assert "The verification link has expired" in response.content.decode()
    assert User.objects.get().email_verified_at is None


def test_verify_used_link_does_not_log_in_again(client, mailoutbox, django_capture_on_commit_callbacks):
    _sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mailoutbox[0].body)
    client.get(link)
    client.post(reverse("accounts:logout"))

    response = client.get(link)

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert get_user(client).is_authenticated is False


def test_verify_member_goes_home(client, django_capture_on_commit_callbacks, mailoutbox):
    user = UserFactory(email_verified_at=None)
    MembershipFactory(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:verify_resend"), {"email": user.email})

    response = client.get(link_in(mailoutbox[0].body))

    assert response.status_code == 302
    assert response.url == reverse("core:home")


def test_verify_resend_same_answer_whether_or_not_email_exists(client, mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="waiting@example.hk", email_verified_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("accounts:verify_resend"), {"email": "waiting@example.hk"}, follow=True)
        unknown = client.post(reverse("accounts:verify_resend"), {"email": "nobody@example.hk"}, follow=True)

    assert [str(m) for m in known.context["messages"]] == [str(m) for m in unknown.context["messages"]]
    assert known.redirect_chain == unknown.redirect_chain == [(reverse("accounts:login"), 302)]
    assert [m.to for m in mailoutbox] == [["waiting@example.hk"]]


# ---- Log in, log out, password reset ----------------------------------------------------------------------------


def test_login_unverified_refused_with_resend_link(client):
    UserFactory(email="late@example.hk", email_verified_at=None)

    response = client.post(reverse("accounts:login"), {"username": "late@example.hk", "password": PASSWORD})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Your email address is not verified yet." in html
    assert f'href="{reverse("accounts:verify_resend")}"' in html
    assert get_user(client).is_authenticated is False


def test_login_verified_respects_next(client, applicant):
    next_url = reverse("accounts:my_data")

    response = client.post(
        reverse("accounts:login"), {"username": "Applicant@example.hk", "password": PASSWORD, "next": next_url}
    )

    assert response.status_code == 302
    assert response.url == next_url
    assert get_user(client).pk == applicant.pk


def test_login_ignores_next_to_other_site(client, applicant):
    response = client.post(
        reverse("accounts:login"),
        {"username": applicant.email, "password": PASSWORD, "next": "https://evil.example.com/"},
    )

    assert response.status_code == 302
    assert response.url == reverse("core:home")


def test_login_official_audited(client):
    officer = UserFactory(role=Role.SECRETARIAT, email="officer@example.hk")

    client.post(reverse("accounts:login"), {"username": officer.email, "password": PASSWORD})

    assert list(AuditEvent.objects.values_list("action", "actor")) == [("user.logged_in", officer.pk)]


def test_login_applicant_not_audited(client, applicant):
    client.post(reverse("accounts:login"), {"username": applicant.email, "password": PASSWORD})

    assert AuditEvent.objects.count() == 0


def test_logout_post_logs_out(client, applicant):
    client.force_login(applicant)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert get_user(client).is_authenticated is False


def test_password_reset_link_sets_new_password(client, applicant, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": "APPLICANT@example.hk"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["applicant@example.hk"]
    assert mailoutbox[0].subject == "Reset your password for the AI Subsidy Scheme portal"

    form_page = client.get(link_in(mailoutbox[0].body), follow=True)
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"},
    )

    assert done.status_code == 302
    assert done.url == reverse("accounts:password_reset_complete")
    applicant.refresh_from_db()
    assert applicant.check_password("another-long-passphrase") is True


def test_password_reset_unknown_email_sends_nothing(client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.hk"})

    assert response.status_code == 302
    assert mailoutbox == []


# ---- Organisations ---------------------------------------------------------------------------------------------


def test_organisation_page_without_organisation_offers_two_paths(client, applicant):
    InvitationFactory(email=applicant.email, organisation__name="Harbour Institute")
    client.force_login(applicant)

    html = client.get(reverse("accounts:organisation")).content.decode()

    assert f'href="{reverse("accounts:organisation_create")}"' in html
    assert "Join by invitation" in html
    assert "Join Harbour Institute" in html


def test_organisation_page_lists_members_and_invitations(client, member):
    MembershipFactory(organisation=member.organisation, user__full_name="Lee Ka Yan", role=MembershipRole.MEMBER)
    InvitationFactory(organisation=member.organisation, email="pending@example.hk")
    InvitationFactory(organisation=member.organisation, email="used@example.hk", accepted_at=timezone.now())
    client.force_login(member.user)

    html = client.get(reverse("accounts:organisation")).content.decode()

    assert "Lion Rock University" in html
    assert "Lee Ka Yan" in html
    assert "pending@example.hk" in html
    assert "used@example.hk" not in html
    assert f'action="{reverse("accounts:invite", args=[member.organisation.pk])}"' in html


def test_organisation_page_anonymous_redirected_to_login(client):
    response = client.get(reverse("accounts:organisation"))

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={reverse('accounts:organisation')}"


def test_organisation_detail_non_member_404(client, member):
    client.force_login(UserFactory())

    response = client.get(reverse("accounts:organisation_detail", args=[member.organisation.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("who", ["member", "auditor"])
def test_organisation_detail_member_or_official_200(client, member, who):
    client.force_login(member.user if who == "member" else UserFactory(role=Role.AUDITOR))

    response = client.get(reverse("accounts:organisation_detail", args=[member.organisation.pk]))

    assert response.status_code == 200
    assert response.context["organisation"] == member.organisation


def test_organisation_create_enterprise_makes_admin(client, applicant):
    client.force_login(applicant)

    response = client.post(
        reverse("accounts:organisation_create"),
        {
            "name": "Kowloon AI Ltd",
            "name_zh": "九龍人工智能有限公司",
            "org_type": OrganisationType.ENTERPRISE,
            "br_number": "12345678",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("accounts:organisation")
    organisation = Organisation.objects.get()
    assert (organisation.name_zh, organisation.br_number) == ("九龍人工智能有限公司", "12345678")
    assert Membership.objects.get(organisation=organisation).user == applicant


def test_organisation_create_bad_br_keeps_values(client, applicant):
    client.force_login(applicant)

    response = client.post(
        reverse("accounts:organisation_create"),
        {"name": "Kowloon AI Ltd", "org_type": OrganisationType.ENTERPRISE, "br_number": "1234"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"br_number": ["A Business Registration number is exactly 8 digits."]}
    assert 'value="Kowloon AI Ltd"' in response.content.decode()
    assert Organisation.objects.count() == 0


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.SECRETARIAT])
def test_organisation_create_non_applicant_403(client, role):
    client.force_login(UserFactory(role=role))

    response = client.get(reverse("accounts:organisation_create"))

    assert response.status_code == 403


# ---- Invitations -----------------------------------------------------------------------------------------------


def test_invite_member_sends_invitation(client, member, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(member.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:invite", args=[member.organisation.pk]), {"email": "co@example.hk"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:organisation")
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.invited_by) == ("co@example.hk", member.user)
    assert [m.to for m in mailoutbox] == [["co@example.hk"]]


def test_invite_duplicate_shows_error_on_field(client, member):
    InvitationFactory(organisation=member.organisation, email="co@example.hk")
    client.force_login(member.user)

    response = client.post(reverse("accounts:invite", args=[member.organisation.pk]), {"email": "co@example.hk"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": ["An invitation to this address is still open."]}


def test_invite_non_member_404(client, member):
    client.force_login(UserFactory())

    response = client.post(reverse("accounts:invite", args=[member.organisation.pk]), {"email": "co@example.hk"})

    assert response.status_code == 404
    assert Invitation.objects.count() == 0


def test_invitation_accept_anonymous_offers_login_and_signup(client):
    invitation = InvitationFactory(organisation__name="Harbour Institute")
    path = reverse("accounts:invitation_accept", args=[invitation.token])

    response = client.get(path)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("accounts:login")}?next={path}"' in html
    assert f'href="{reverse("accounts:signup")}?next={path}"' in html


def test_invitation_accept_anonymous_post_redirects_to_login(client):
    invitation = InvitationFactory()
    path = reverse("accounts:invitation_accept", args=[invitation.token])

    response = client.post(path)

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={path}"


def test_invitation_accept_logged_in_invitee_joins(client):
    invitation = InvitationFactory(email="co@example.hk")
    user = UserFactory(email="co@example.hk")
    client.force_login(user)

    response = client.post(reverse("accounts:invitation_accept", args=[invitation.token]))

    assert response.status_code == 302
    assert response.url == reverse("accounts:organisation")
    assert Membership.objects.get(user=user).organisation == invitation.organisation


def test_invitation_accept_wrong_email_refused(client):
    invitation = InvitationFactory(email="co@example.hk")
    client.force_login(UserFactory(email="other@example.hk"))
    path = reverse("accounts:invitation_accept", args=[invitation.token])

    page = client.get(path)
    response = client.post(path)

    assert "sent to a different email address" in page.content.decode()
    assert response.status_code == 400
    assert "sent to a different email address" in response.content.decode()
    assert Membership.objects.count() == 0


def test_invitation_accept_expired_refused(client):
    invitation = InvitationFactory(email="co@example.hk", expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(UserFactory(email="co@example.hk"))

    response = client.post(reverse("accounts:invitation_accept", args=[invitation.token]))

    assert response.status_code == 400
    assert "This invitation has expired." in response.content.decode()


def test_invitation_accept_reused_refused(client):
    invitation = InvitationFactory(email="co@example.hk")
    client.force_login(UserFactory(email="co@example.hk"))
    path = reverse("accounts:invitation_accept", args=[invitation.token])
    client.post(path)

    response = client.post(path)

    assert response.status_code == 400
    assert "This invitation has already been used." in response.content.decode()


def test_invitation_accept_unknown_token_404(client):
    response = client.get(reverse("accounts:invitation_accept", args=["6f1c7d1e-0000-4000-8000-000000000000"]))

    assert response.status_code == 404


def test_invitation_signup_then_verify_returns_to_invitation(client, mailoutbox, django_capture_on_commit_callbacks):
    invitation = InvitationFactory(email="siu.ming@example.hk")
    path = reverse("accounts:invitation_accept", args=[invitation.token])
    _sign_up(client, django_capture_on_commit_callbacks, query=f"?next={path}")

    verified = client.get(link_in(mailoutbox[0].body))
    accepted = client.post(verified.url)

    assert verified.status_code == 302
    assert verified.url == path
    assert accepted.status_code == 302
    assert Membership.objects.get().organisation == invitation.organisation


# ---- My data ---------------------------------------------------------------------------------------------------


def test_my_data_page_shows_consents(client, member):
    ConsentRecord.objects.create(user=member.user, pics_version=PICS_VERSION)
    client.force_login(member.user)

    html = client.get(reverse("accounts:my_data")).content.decode()

    assert "admin@example.hk" in html
    assert PICS_VERSION in html
    assert "Lion Rock University" in html


def test_my_data_download_is_json_attachment(client, member):
    ConsentRecord.objects.create(user=member.user, pics_version=PICS_VERSION)
    client.force_login(member.user)

    response = client.get(reverse("accounts:my_data_download"))

    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["account"]["email"] == "admin@example.hk"
    assert [c["pics_version"] for c in data["consents"]] == [PICS_VERSION]
    assert data["organisations"][0]["membership_role"] == "admin"


# ---- Admin -----------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    staff = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True, email="staff@example.hk")
    client.force_login(staff)
    client.staff = staff
    return client


def _admin_user_data(user, **changes):
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "preferred_language": user.preferred_language,
        "email_verified_at_0": "2026-01-05",
        "email_verified_at_1": "10:00:00",
        "role": user.role,
        "role_change_reason": "",
        "is_active": "on",
        "date_joined_0": "2026-01-05",
        "date_joined_1": "10:00:00",
    }
    return data | changes


def test_admin_role_change_audited(staff_client):
    user = UserFactory(role=Role.APPLICANT)
    url = reverse("admin:accounts_user_change", args=[user.pk])

    response = staff_client.post(url, _admin_user_data(user, role=Role.REVIEWER, role_change_reason="Panel member"))

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.role == Role.REVIEWER
    event = AuditEvent.objects.get(action="user.role_changed")
    assert (event.actor, event.before, event.after, event.reason) == (
        staff_client.staff,
        {"role": "applicant"},
        {"role": "reviewer"},
        "Panel member",
    )


def test_admin_role_change_without_reason_refused(staff_client):
    user = UserFactory(role=Role.APPLICANT)

    response = staff_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), _admin_user_data(user, role=Role.AUDITOR)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"role_change_reason": ["Give a reason for the role change."]}
    user.refresh_from_db()
    assert user.role == Role.APPLICANT


def test_admin_consent_records_read_only(staff_client):
    ConsentRecord.objects.create(user=staff_client.staff, pics_version=PICS_VERSION)

    assert staff_client.get(reverse("admin:accounts_consentrecord_add")).status_code == 403
    assert staff_client.get(reverse("admin:accounts_consentrecord_changelist")).status_code == 200


@pytest.mark.parametrize("name", ["accounts_user", "accounts_organisation", "accounts_invitation"])
def test_admin_changelists_render(staff_client, member, name):
    InvitationFactory(organisation=member.organisation)

    assert staff_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"admin:{name}_add")).status_code == 200


def test_admin_own_role_change_refused(staff_client):
    staff = staff_client.staff

    response = staff_client.post(
        reverse("admin:accounts_user_change", args=[staff.pk]),
        _admin_user_data(staff, role=Role.COMMITTEE_CHAIR, role_change_reason="Promote myself", is_staff="on"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"role": ["You cannot change your own role."]}
    staff.refresh_from_db()
    assert staff.role == Role.SECRETARIAT


def test_admin_user_created_audited(staff_client):
    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "reviewer@example.hk",
            "full_name": "Dr Reviewer",
            "role": Role.REVIEWER,
            "usable_password": "true",
            "password1": "a-long-and-unusual-passphrase",
            "password2": "a-long-and-unusual-passphrase",
        },
    )

    assert response.status_code == 302
    created = User.objects.get(email="reviewer@example.hk")
    event = AuditEvent.objects.get(action="user.created")
    assert (event.actor, event.object_id, event.after) == (staff_client.staff, str(created.pk), {"role": "reviewer"})
