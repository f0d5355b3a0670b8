"""Personal data (PDPO): the My data page and its download, correction through the profile, erasure requests
decided by the secretariat; and removing a person never breaks the audit chain."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import translation

from portal.accounts.enums import Role
from portal.accounts.models import ErasureRequest, Membership, User
from portal.accounts.services import erasure_request_create, erasure_request_decide, user_remove
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record, audit_verify
from portal.notifications.models import Notification, OutboundEmail
from portal.notifications.services import email_queue, notify
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call
from tests.factories.proposals import ProposalFactory
from tests.factories.reviews import reviews_submitted, submitted_proposal

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def secretariat(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Ms Secretariat Ho")


# ---- Removing a person ---------------------------------------------------------------------------------------------


def test_a_person_the_audit_log_names_is_deactivated_not_deleted(secretariat):
    person = UserFactory(full_name="Dr Lee Ka Wai")
    audit_record(actor=person, action="test.acted")
    assert user_remove(user=person, actor=secretariat, reason="Left the university.") == "deactivated"
    person.refresh_from_db()
    assert person.is_active is False
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_repr, event.after, event.reason) == (
        "user.deactivated",
        f"user #{person.pk}",
        {"is_active": False},
        "Left the university.",
    )
    assert audit_verify() is None
    with pytest.raises(ProtectedError):  # and deleting them behind the service's back is refused
        person.delete()
    call_command("verify_audit")


def test_a_person_with_no_records_is_deleted(secretariat):
    person = UserFactory()
    pk = person.pk
    assert user_remove(user=person, actor=secretariat) == "deleted"
    assert not User.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id, event.object_repr) == ("user.deleted", str(pk), f"user #{pk}")
    assert audit_verify() is None


def test_the_admin_deactivates_instead_of_deleting_a_person_with_audit_records(client, db):
    admin_user = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True)
    person = UserFactory()
    audit_record(actor=person, action="test.acted")
    client.force_login(admin_user)
    assert client.get(reverse("admin:accounts_user_delete", args=[person.pk])).status_code == 403
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "remove_users", "_selected_action": [person.pk]},
        follow=True,
    )
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.is_active is False
    assert AuditEvent.objects.filter(action="user.deactivated", object_id=str(person.pk), actor=admin_user).count() == 1
    assert audit_verify() is None


# ---- My data -------------------------------------------------------------------------------------------------------


def test_my_data_gives_everything_held_about_a_reviewer(client, secretariat):
    call = open_call()
    proposal = submitted_proposal(call, co_organisations=[OrganisationFactory()])
    [review] = reviews_submitted(proposal, secretariat=secretariat, count=1)
    reviewer = review.assignment.reviewer
    notify(user=reviewer, message="You have a proposal to review.", key="test:assigned")
    email_queue(
        key="test:assigned", to=reviewer.email, template="emails/accounts_erasure_request", context={"number": 1}
    )
    client.force_login(reviewer)
    page = client.get(reverse("accounts:my_data"))
    html = page.content.decode()
    for section in ("Reviews you wrote", "Declarations of interest", "Notifications", "Emails sent to you"):
        assert section in html
    assert proposal.reference in html
    data = json.loads(client.get(reverse("accounts:my_data_download")).content)
    assert [(r["proposal"], r["comments_applicant"], r["state"]) for r in data["reviews"]] == [
        (proposal.reference, "Clear plan.", "submitted")
    ]
    assert [(d["proposal"], d["conflicted"]) for d in data["declarations"]] == [(proposal.reference, False)]
    assert {e["action"] for e in data["audit_entries"]} >= {"review.submit"}
    assert all(e["by_you"] for e in data["audit_entries"] if e["action"] == "review.submit")
    assert [n["text"] for n in data["notifications"]] == ["You have a proposal to review."]
    assert [e["to"] for e in data["emails"]] == [reviewer.email]
    assert "You have a proposal to review." in html


def test_my_data_names_the_proposals_that_name_the_person(client, db):
    call = open_call()
    proposal = submitted_proposal(call, co_organisations=[OrganisationFactory()])
    co_applicant = UserFactory(email="co1@example.hk")
    creator = proposal.created_by
    client.force_login(co_applicant)
    data = json.loads(client.get(reverse("accounts:my_data_download")).content)
    assert [(p["reference"], p["created_by_you"]) for p in data["proposals"]] == [(proposal.reference, False)]
    client.force_login(creator)
    data = json.loads(client.get(reverse("accounts:my_data_download")).content)
    assert [(p["reference"], p["created_by_you"]) for p in data["proposals"]] == [(proposal.reference, True)]
    assert UserFactory().pk  # someone else is named by nothing
    client.force_login(User.objects.latest("pk"))
    assert json.loads(client.get(reverse("accounts:my_data_download")).content)["proposals"] == []


@pytest.mark.parametrize("size", [2, 20])
def test_my_data_query_count_is_constant(client, db, size, django_assert_max_num_queries):
    person = MembershipFactory(organisation=OrganisationFactory()).user
    for i in range(size):
        ProposalFactory(created_by=person)
        notify(user=person, message=f"Notice {i}", key=f"test:{i}")
        email_queue(key=f"test:{i}", to=person.email, template="emails/accounts_erasure_request", context={"number": i})
        audit_record(actor=person, action="test.acted", obj=person)
    client.force_login(person)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("accounts:my_data"))
    assert len(response.context["data"]["audit_entries"]) == size
    assert len(response.context["data"]["proposals"]) == size


def test_my_data_is_in_both_languages_and_links_to_the_profile(client, db):
    person = UserFactory(preferred_language="zh-hant")
    client.force_login(person)
    with translation.override("zh-hant"):
        html = client.get(reverse("accounts:my_data"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "我的資料" in html
    assert reverse("accounts:profile") in html
    assert reverse("accounts:my_data") in client.get(reverse("accounts:profile")).content.decode()


def test_my_data_needs_a_login(client, db):
    response = client.get(reverse("accounts:my_data"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# ---- Erasure -------------------------------------------------------------------------------------------------------


def test_erasure_is_asked_for_then_done_by_the_secretariat_and_the_chain_still_verifies(client, secretariat):
    person = MembershipFactory(organisation=OrganisationFactory(), user__full_name="Dr Wong Siu Ming").user
    old_email = person.email
    audit_record(actor=person, action="test.acted", obj=person)
    client.force_login(person)
    response = client.post(reverse("accounts:erasure_request"), {"message": "I left academia.", "confirm": "on"})
    assert response.status_code == 302
    request = ErasureRequest.objects.get(user=person)
    assert (request.status, request.message) == ("open", "I left academia.")
    assert AuditEvent.objects.filter(action="user.erasure_requested", actor=person).count() == 1
    assert Notification.objects.filter(user=secretariat, key=f"erasure-request:{request.pk}").count() == 1
    assert "the secretariat has not yet decided" in client.get(reverse("accounts:my_data")).content.decode()

    client.force_login(secretariat)
    assert reverse("accounts:erasure_requests") in client.get(reverse("accounts:profile")).content.decode()
    listing = client.get(reverse("accounts:erasure_requests")).content.decode()
    assert "Dr Wong Siu Ming" in listing
    assert "I left academia." in listing
    response = client.post(reverse("accounts:erasure_request_decide", args=[request.pk]), {"decision": "erase"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.full_name, person.email, person.is_active, person.has_usable_password()) == (
        f"Erased user #{person.pk} · 已刪除的用戶",
        f"erased-{person.pk}@erased.invalid",
        False,
        False,
    )
    assert not Membership.objects.filter(user=person).exists()
    assert not Notification.objects.filter(user=person).exists()
    assert not OutboundEmail.objects.filter(to=old_email).exists()
    request.refresh_from_db()
    assert (request.status, request.decided_by) == ("erased", secretariat)
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.after["status"], event.after["erased"]["memberships"]) == ("user.erased", "erased", 1)
    chain = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert old_email not in chain
    assert "Wong Siu Ming" not in chain
    call_command("verify_audit")


def test_declining_needs_a_reason_and_tells_the_person(client, secretariat):
    person = UserFactory()
    request = erasure_request_create(user=person, message="")
    client.force_login(secretariat)
    client.post(reverse("accounts:erasure_request_decide", args=[request.pk]), {"decision": "decline"})
    request.refresh_from_db()
    assert request.status == "open"
    client.post(
        reverse("accounts:erasure_request_decide", args=[request.pk]),
        {"decision": "decline", "note": "An open investigation needs the account."},
    )
    request.refresh_from_db()
    assert (request.status, request.outcome) == ("declined", "An open investigation needs the account.")
    assert Notification.objects.filter(user=person, key=f"erasure-declined:{request.pk}").count() == 1
    assert AuditEvent.objects.filter(action="user.erasure_declined").get().reason == request.outcome
    person.refresh_from_db()
    assert person.is_active is True


def test_one_open_request_and_the_confirmation_is_required(client, db):
    person = UserFactory()
    client.force_login(person)
    response = client.post(reverse("accounts:erasure_request"), {"message": "Please."})
    assert response.status_code == 400
    assert 'href="#id_confirm"' in response.content.decode()
    client.post(reverse("accounts:erasure_request"), {"confirm": "on"})
    response = client.post(reverse("accounts:erasure_request"), {"confirm": "on"}, follow=True)
    assert "You have already asked for your data to be erased." in response.content.decode()
    assert ErasureRequest.objects.filter(user=person).count() == 1


@pytest.mark.parametrize("role", [Role.APPLICANT, Role.REVIEWER, Role.COMMITTEE_CHAIR, Role.AUDITOR])
def test_only_the_secretariat_sees_and_decides_erasure_requests(client, role):
    request = erasure_request_create(user=UserFactory())
    client.force_login(UserFactory(role=role))
    assert reverse("accounts:erasure_requests") not in client.get(reverse("accounts:profile")).content.decode()
    assert client.get(reverse("accounts:erasure_requests")).status_code == 403
    url = reverse("accounts:erasure_request_decide", args=[request.pk])
    assert client.post(url, {"decision": "erase"}).status_code == 403
    request.refresh_from_db()
    assert request.status == "open"


def test_no_officer_decides_their_own_request(secretariat):
    request = erasure_request_create(user=secretariat)
    with pytest.raises(ValidationError, match=r"Another officer must decide on your own request\."):
        erasure_request_decide(request=request, actor=secretariat, erase=True)
