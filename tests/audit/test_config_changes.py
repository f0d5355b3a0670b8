"""Every change an official makes to calls, pools, capacities, rubrics, rates, budgets and roles is one audit
record with the values before and after: through the services' ``config_change`` and through the admin."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.audit.services import config_change, config_snapshot
from portal.calls.models import PoolCapacity, RubricCriterion
from tests.factories import UserFactory, open_call

from .admin_forms import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def official():
    return UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True, full_name="Officer Lau")


def _config_events():
    return list(AuditEvent.objects.filter(action__startswith="config.").order_by("seq"))


def test_config_change_records_only_what_changed(official):
    call = open_call()
    with config_change(actor=official, obj=call, reason="Budget revised by the Board"):
        call.budget = Decimal("250000000.00")
        call.subsidy_rate = Decimal("0.650")
        call.save()
    (event,) = _config_events()
    assert (event.action, event.object_type, event.object_id) == ("config.change", "calls.call", str(call.pk))
    assert event.before == {"budget": "300000000.00", "subsidy_rate": "0.700"}
    assert event.after == {"budget": "250000000.00", "subsidy_rate": "0.650"}
    assert event.reason == "Budget revised by the Board"
    assert event.actor == official


def test_config_change_without_a_change_writes_nothing(official):
    call = open_call()
    with config_change(actor=official, obj=call):
        call.save()
    assert _config_events() == []


def test_config_change_records_a_creation_and_a_deletion(official):
    call = open_call()
    criterion = RubricCriterion(call=call, number=6, name="Openness", weight=Decimal("5"))
    with config_change(actor=official, obj=criterion):
        criterion.save()
    pk = criterion.pk
    with config_change(actor=official, obj=criterion):
        criterion.delete()
    created, deleted = _config_events()
    assert created.action == "config.create"
    assert {k: created.after[k] for k in ("call", "number", "name", "weight", "min_to_pass")} == {
        "call": call.pk,
        "number": 6,
        "name": "Openness",
        "weight": "5.00",
        "min_to_pass": None,
    }
    assert (deleted.action, deleted.object_id, deleted.after) == ("config.delete", str(pk), {})
    assert deleted.before["name"] == "Openness"
    assert criterion.pk is None


def test_config_snapshot_reads_the_database_with_related_rows():
    call = open_call()
    call.budget = Decimal("1.00")  # in memory only
    snapshot = config_snapshot(call, fields=["budget", "pools"], related={"criteria": ["number", "weight"]})
    assert snapshot["budget"] == "300000000.00"
    assert snapshot["pools"] == sorted(call.pools.values_list("pk", flat=True))
    assert sorted(c["number"] for c in snapshot["criteria"].values()) == [1, 2, 3, 4, 5]


def test_admin_call_change_is_audited_with_the_rubric(client, official):
    call = open_call()
    client.force_login(official)
    url = reverse("admin:calls_call_change", args=[call.pk])
    page = client.get(url)
    criterion = call.criteria.get(number=2)
    index = [f.instance.pk for f in page.context["inline_admin_formsets"][0].formset.forms].index(criterion.pk)
    data = admin_form_data(page, budget="280000000.00", **{f"criteria-{index}-weight": "15.00"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    (event,) = _config_events()
    assert event.before["budget"] == "300000000.00"
    assert event.after["budget"] == "280000000.00"
    assert event.before["criteria"][str(criterion.pk)]["weight"] == "20.00"
    assert event.after["criteria"][str(criterion.pk)]["weight"] == "15.00"


def test_admin_pool_capacity_change_is_audited(client, official):
    open_call()
    capacity = PoolCapacity.objects.order_by("quarter__starts_on").first()
    pool = capacity.pool
    client.force_login(official)
    url = reverse("admin:calls_resourcepool_change", args=[pool.pk])
    page = client.get(url)
    index = [f.instance.pk for f in page.context["inline_admin_formsets"][0].formset.forms].index(capacity.pk)
    response = client.post(url, admin_form_data(page, **{f"capacities-{index}-gpu_hours": "1000000"}))
    assert response.status_code == 302
    (event,) = _config_events()
    assert event.object_type == "calls.resourcepool"
    assert event.before["capacities"][str(capacity.pk)]["gpu_hours"] == 1_300_000
    assert event.after["capacities"][str(capacity.pk)]["gpu_hours"] == 1_000_000


def test_admin_deleting_a_quarter_is_audited(client, official):
    from portal.calls.models import Quarter

    quarter = Quarter.objects.create(code="2030Q1", starts_on="2030-01-01", ends_on="2030-03-31")
    client.force_login(official)
    response = client.post(reverse("admin:calls_quarter_delete", args=[quarter.pk]), {"post": "yes"})
    assert response.status_code == 302
    (event,) = _config_events()
    assert (event.action, event.object_type, event.before["code"], event.after) == (
        "config.delete",
        "calls.quarter",
        "2030Q1",
        {},
    )


def test_admin_access_flags_and_groups_are_audited_without_personal_data(client, official):
    user = UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Ho")
    group = Group.objects.create(name="Call managers")
    client.force_login(official)
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = client.get(url)
    response = client.post(url, admin_form_data(page, is_staff="on", groups=[str(group.pk)]))
    assert response.status_code == 302
    (event,) = _config_events()
    assert event.before == {"groups": [], "is_staff": False}
    assert event.after == {"groups": [group.pk], "is_staff": True}
    assert "Prof Ho" not in str(event.before) + str(event.after)


def test_admin_group_permissions_are_audited(client, official):
    group = Group.objects.create(name="Call managers")
    permission = Permission.objects.get(codename="change_call")
    client.force_login(official)
    url = reverse("admin:auth_group_change", args=[group.pk])
    page = client.get(url)
    response = client.post(url, admin_form_data(page, permissions=[str(permission.pk)]))
    assert response.status_code == 302
    (event,) = _config_events()
    assert (event.object_type, event.before, event.after) == (
        "auth.group",
        {"permissions": []},
        {"permissions": [permission.pk]},
    )


def test_admin_role_change_is_audited_with_its_reason_and_without_personal_data(client, official):
    user = UserFactory(role=Role.REVIEWER, full_name="Prof Ho Ka Yan")
    client.force_login(official)
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = client.get(url)
    response = client.post(
        url, admin_form_data(page, role=Role.COMMITTEE_MEMBER, role_change_reason="Joined the committee.")
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.role_changed")
    assert (event.actor, event.object_repr, event.before, event.after, event.reason) == (
        official,
        f"user #{user.pk}",
        {"role": Role.REVIEWER},
        {"role": Role.COMMITTEE_MEMBER},
        "Joined the committee.",
    )
    assert "Ho Ka Yan" not in event.object_repr + event.actor_repr + str(event.after)


def test_admin_role_change_without_a_reason_changes_nothing(client, official):
    user = UserFactory(role=Role.REVIEWER)
    client.force_login(official)
    url = reverse("admin:accounts_user_change", args=[user.pk])
    response = client.post(url, admin_form_data(client.get(url), role=Role.COMMITTEE_CHAIR))
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.role == Role.REVIEWER
    assert not AuditEvent.objects.filter(action="user.role_changed").exists()
