"""The audit log page: filtered by object, actor, action (a choice list) and date range; paginated; long values
wrap; each proposal's records link to its audit dossier."""

from datetime import timedelta

import pytest
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.audit.selectors import action_pairs
from portal.audit.services import audit_record
from portal.core.formatting import hk_today
from tests.factories import UserFactory, open_call
from tests.factories.reviews import submitted_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(client):
    user = UserFactory(role=Role.AUDITOR)
    client.force_login(user)
    return user


def seqs(response) -> list[int]:
    return [event.seq for event in response.context["events"]]


def test_filter_by_action_object_actor_and_dates(client):
    officer = UserFactory(role=Role.SECRETARIAT, full_name="Officer Chan Siu Ming")
    call = open_call(reference="aiss-log-1")
    first = audit_record(actor=officer, action="config.change", obj=call, after={"budget": "1.00"})
    second = audit_record(actor=None, action="reminder.sent", obj=call)
    client.force_login(UserFactory(role=Role.AUDITOR))
    url = reverse("audit:log")
    response = client.get(url)
    choices = dict(response.context["filter"].form.fields["action"].choices)
    assert {"config.change", "reminder.sent"} <= set(choices)
    assert seqs(client.get(url, {"action": "config.change"})) == [first.seq]
    assert seqs(client.get(url, {"actor": "chan siu"})) == [first.seq]
    assert seqs(client.get(url, {"object_type": "calls.call", "object_id": str(call.pk)})) == [second.seq, first.seq]
    assert seqs(client.get(url, {"object": "AISS call"})) == [second.seq, first.seq]
    today = hk_today()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    ours = {"object_type": "calls.call"}
    assert seqs(client.get(url, {**ours, "since": today, "until": today})) == [second.seq, first.seq]
    assert seqs(client.get(url, {**ours, "since": tomorrow})) == []
    assert seqs(client.get(url, {**ours, "until": yesterday})) == []
    response = client.get(url, {"action": "no-such-action"})
    assert response.status_code == 200
    assert response.context["filter"].form.errors["action"]


def test_paginated_long_values_wrap_and_dossier_link(client, auditor):
    proposal = submitted_proposal(open_call(reference="aiss-log-2"))
    for i in range(55):
        audit_record(actor=None, action="test.page", obj=proposal, after={"text": "長" * 300, "i": i})
    url = reverse("audit:log")
    first_page = client.get(url, {"action": "test.page"})
    assert len(first_page.context["events"]) == 50
    assert first_page.context["page_obj"].paginator.count == 55
    html = first_page.content.decode()
    assert 'class="table table-sm audit-log"' in html
    assert reverse("reports:audit_dossier", args=[proposal.pk]) in html
    assert "長" * 300 in html
    second_page = client.get(url, {"action": "test.page", "page": 2})
    assert len(second_page.context["events"]) == 5


def test_the_choice_lists_are_every_action_and_object_type_the_log_holds(client, auditor):
    """The pairs are read by skipping through their index (a log of millions of records is not scanned whole): the
    same pairs, in order, as a DISTINCT over every record."""
    call = open_call(reference="aiss-log-2")
    proposal = submitted_proposal(call)
    for action, obj in [
        ("b.two", call),
        ("a.one", proposal),
        ("b.two", proposal),
        ("a.one", proposal),
        ("a.one", None),  # no object: an empty object type
        ("c.three", call),
        ("b.two", call),
        ("a.one", call),
    ]:
        audit_record(actor=None, action=action, obj=obj)
    reference = sorted(AuditEvent.objects.order_by().values_list("action", "object_type").distinct())
    assert ("a.one", "") in reference
    assert action_pairs() == reference
    response = client.get(reverse("audit:log"))
    actions = [value for value, _label in response.context["filter"].form.fields["action"].choices if value]
    types = [value for value, _label in response.context["filter"].form.fields["object_type"].choices if value]
    assert actions == sorted({a for a, _t in reference})
    assert types == sorted({t for _a, t in reference if t})
