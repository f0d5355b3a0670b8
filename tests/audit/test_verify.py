import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record, audit_verify
from tests.factories import UserFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def chain(db):
    actor = UserFactory(role=Role.SECRETARIAT)
    return [audit_record(actor=actor, action=f"test.{i}", after={"i": i}, reason=f"r{i}") for i in range(1, 6)]


def _verify_message() -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit")
    return str(exc.value)


def test_verify_audit_passes_an_intact_chain(chain, capsys):
    call_command("verify_audit")
    assert capsys.readouterr().out == "Audit chain intact: 5 records.\n"


def test_verify_audit_detects_an_edit(chain):
    AuditEvent.objects.filter(seq=3).update(reason="changed")
    assert _verify_message() == "Audit chain broken at record #3: record #3 was altered after it was written."


def test_verify_audit_detects_a_deleted_middle_record(chain):
    AuditEvent.objects.filter(seq=2).delete()
    assert _verify_message() == "Audit chain broken at record #2: record #2 is missing (next is #3)."


def test_verify_audit_detects_a_deleted_newest_record(chain):
    AuditEvent.objects.filter(seq=5).delete()
    assert _verify_message() == "Audit chain broken at record #5: record #5 is missing (the chain ends at #5)."


def test_verify_audit_detects_a_reordering(chain):
    third, fourth = AuditEvent.objects.get(seq=3), AuditEvent.objects.get(seq=4)
    AuditEvent.objects.filter(pk=third.pk).update(seq=1000)
    AuditEvent.objects.filter(pk=fourth.pk).update(seq=3)
    AuditEvent.objects.filter(pk=third.pk).update(seq=4)
    assert _verify_message() == "Audit chain broken at record #3: record #3 does not follow the record before it."


def test_verify_audit_detects_a_record_appended_outside_the_service(chain):
    last = AuditEvent.objects.get(seq=5)
    AuditEvent.objects.bulk_create(
        [AuditEvent(seq=6, created_at=last.created_at, action="forged", prev_hash=last.hash, hash="f" * 64)]
    )
    assert audit_verify().seq == 6


def test_audit_record_cannot_be_changed_or_deleted_through_the_model(chain):
    event = chain[0]
    event.reason = "changed"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()


def test_audit_log_page_is_for_auditors_only(client, chain):
    client.force_login(UserFactory(role=Role.SECRETARIAT))
    assert client.get(reverse("audit:log")).status_code == 403
    client.force_login(UserFactory(role=Role.AUDITOR))
    response = client.get(reverse("audit:log"), {"action": "test.3"})
    assert [e.seq for e in response.context["events"]] == [3]


def test_audit_log_page_verifies_the_chain(client, chain):
    client.force_login(UserFactory(role=Role.AUDITOR))
    AuditEvent.objects.filter(seq=4).update(reason="changed")
    response = client.get(reverse("audit:log"), {"verify": "1"})
    assert response.context["broken"].seq == 4


def test_audit_log_page_offers_no_way_to_change_it(client, chain):
    client.force_login(UserFactory(role=Role.AUDITOR))
    assert client.post(reverse("audit:log")).status_code == 405


@pytest.mark.parametrize("size", [2, 30])
def test_audit_log_query_count_is_constant(client, db, size, django_assert_num_queries):
    actor = UserFactory(role=Role.SECRETARIAT)
    for i in range(size):
        audit_record(actor=actor, action="test.x", after={"i": i})
    client.force_login(UserFactory(role=Role.AUDITOR))
    with django_assert_num_queries(5):
        response = client.get(reverse("audit:log"))
    assert len(response.context["events"]) == size + 1  # and the auditor's login
