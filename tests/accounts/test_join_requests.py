"""Finding a registered organisation and asking to join it (its administrator approves), instead of
registering it twice; and the organisation search behind the co-applicant picker."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from portal.accounts.enums import MembershipRole
from portal.accounts.models import JoinRequest, Membership
from portal.accounts.services import join_request_create, join_request_decide, organisation_create
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def organisation():
    return OrganisationFactory(name="Chinese University of Hong Kong", name_zh="香港中文大學")


@pytest.fixture
def admin(organisation):
    return MembershipFactory(organisation=organisation, role=MembershipRole.ADMIN).user


@pytest.fixture
def newcomer():
    return UserFactory(full_name="Dr Lee Ka Yan")


def test_ask_to_join_tells_the_administrators_and_is_audited(
    organisation, admin, newcomer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = join_request_create(organisation=organisation, user=newcomer, message="I lead the NLP lab.")
    assert request.decided_at is None
    note = Notification.objects.get(user=admin)
    assert note.message == "Dr Lee Ka Yan asks to join Chinese University of Hong Kong"
    assert note.url == reverse("accounts:organisation")
    audit = AuditEvent.objects.get(action="organisation.join_requested")
    assert (audit.object_id, audit.after) == (str(organisation.pk), {"user": newcomer.pk})
    with pytest.raises(ValidationError, match="already asked"):
        join_request_create(organisation=organisation, user=newcomer)


def test_administrator_approves_and_the_person_becomes_a_member(organisation, admin, newcomer):
    request = join_request_create(organisation=organisation, user=newcomer)
    join_request_decide(request=request, actor=admin, approve=True)
    request.refresh_from_db()
    assert request.approved is True
    assert request.decided_by == admin
    assert Membership.objects.get(user=newcomer, organisation=organisation).role == MembershipRole.MEMBER
    assert AuditEvent.objects.filter(action="organisation.join_approved").count() == 1
    assert Notification.objects.get(user=newcomer, key=f"join-request-decided:{request.pk}").message == (
        "You have joined Chinese University of Hong Kong"
    )
    with pytest.raises(ValidationError):
        join_request_decide(request=request, actor=admin, approve=False)


def test_declined_request_makes_no_member(organisation, admin, newcomer):
    request = join_request_create(organisation=organisation, user=newcomer)
    join_request_decide(request=request, actor=admin, approve=False)
    assert not Membership.objects.filter(user=newcomer, organisation=organisation).exists()
    assert AuditEvent.objects.filter(action="organisation.join_declined").count() == 1


def test_only_an_administrator_of_the_organisation_decides(organisation, admin, newcomer):
    request = join_request_create(organisation=organisation, user=newcomer)
    member = MembershipFactory(organisation=organisation, role=MembershipRole.MEMBER).user
    other_admin = MembershipFactory(organisation=OrganisationFactory()).user
    for actor in (member, other_admin, newcomer):
        with pytest.raises(PermissionDenied):
            join_request_decide(request=request, actor=actor, approve=True)
    assert JoinRequest.objects.get().decided_at is None


def test_registering_an_organisation_twice_is_refused(organisation):
    user = UserFactory()
    with pytest.raises(ValidationError, match="ask to join it instead"):
        organisation_create(creator=user, name="chinese university of hong kong", org_type="university")


def test_registration_page_finds_the_organisation_and_asks_to_join(client, organisation, admin, newcomer):
    client.force_login(newcomer)
    html = client.get(reverse("accounts:organisation"), {"q": "中文大學"}).content.decode()
    assert "Chinese University of Hong Kong" in html
    assert f'action="/accounts/organisations/{organisation.pk}/join/"' in html
    response = client.post(reverse("accounts:join_request", args=[organisation.pk]))
    assert response.url == reverse("accounts:organisation")
    html = client.get(reverse("accounts:organisation")).content.decode()
    assert "waiting for an administrator" in html
    client.force_login(admin)
    html = client.get(reverse("accounts:organisation")).content.decode()
    request = JoinRequest.objects.get()
    assert f'action="/accounts/join-requests/{request.pk}/approve/"' in html
    client.post(reverse("accounts:join_request_decide", args=[request.pk, "approve"]))
    assert Membership.objects.filter(user=newcomer, organisation=organisation).exists()


def test_only_the_organisations_administrator_sees_and_decides_requests(client, organisation, newcomer):
    request = join_request_create(organisation=organisation, user=newcomer)
    client.force_login(MembershipFactory(organisation=OrganisationFactory()).user)
    response = client.post(reverse("accounts:join_request_decide", args=[request.pk, "approve"]))
    assert response.status_code == 404
    assert not Membership.objects.filter(user=newcomer, organisation=organisation).exists()


def test_organisation_search_needs_login(client, organisation):
    response = client.get(reverse("accounts:organisation_search"), {"q": "Chinese"})
    assert response.status_code == 302


def test_organisation_search_matches_names_and_br_number(client, organisation):
    OrganisationFactory(name="Harbour Vision AI Limited", org_type="enterprise", br_number="61234567")
    client.force_login(UserFactory())
    url = reverse("accounts:organisation_search")
    assert [r["name"] for r in client.get(url, {"q": "chinese"}).json()["results"]] == [
        "Chinese University of Hong Kong"
    ]
    assert [r["name_zh"] for r in client.get(url, {"q": "中文"}).json()["results"]] == ["香港中文大學"]
    assert [r["name"] for r in client.get(url, {"q": "61234567"}).json()["results"]] == ["Harbour Vision AI Limited"]
    assert client.get(url, {"q": "c"}).json()["results"] == []


@pytest.mark.parametrize("n", [3, 40])
def test_organisation_search_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n):
    for i in range(n):
        OrganisationFactory(name=f"University of Testing {i}")
    client.force_login(UserFactory())
    client.get(reverse("accounts:organisation_search"), {"q": "xx"})  # warm the session
    with django_assert_num_queries(3):
        response = client.get(reverse("accounts:organisation_search"), {"q": "Testing"})
    assert len(response.json()["results"]) == min(n, 10)
