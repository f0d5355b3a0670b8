import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test import override_settings
from django.urls import reverse

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent, AuditHead
from portal.audit.services import GENESIS, audit_batch, audit_record, audit_verify
from tests.audit.tamper import tampering
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
    assert capsys.readouterr().out == (
        "Audit chain intact: 5 records.\n"
        "Records match the audit log: 0 submitted versions, 0 proposals, 0 decisions, 0 locked awards.\n"
    )


def test_verify_audit_detects_an_edit(chain):
    with tampering():
        AuditEvent.objects.filter(seq=3).update(reason="changed")
    assert _verify_message() == "Audit chain broken at record #3: record #3 was altered after it was written."


def test_verify_audit_detects_a_deleted_middle_record(chain):
    with tampering():
        AuditEvent.objects.filter(seq=2).delete()
    assert _verify_message() == "Audit chain broken at record #2: record #2 is missing (next is #3)."


def test_verify_audit_detects_a_deleted_newest_record(chain):
    with tampering():
        AuditEvent.objects.filter(seq=5).delete()
    assert _verify_message() == "Audit chain broken at record #5: record #5 is missing (the chain ends at #5)."


def test_verify_audit_detects_a_reordering(chain):
    third, fourth = AuditEvent.objects.get(seq=3), AuditEvent.objects.get(seq=4)
    with tampering():
        AuditEvent.objects.filter(pk=third.pk).update(seq=1000)
        AuditEvent.objects.filter(pk=fourth.pk).update(seq=3)
        AuditEvent.objects.filter(pk=third.pk).update(seq=4)
    assert _verify_message() == "Audit chain broken at record #3: record #3 does not follow the record before it."


def _plain_sha256(event: AuditEvent) -> str:
    """What an attacker without the key computes: the unkeyed digest of the same canonical content."""
    payload = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_id,
        "actor_repr": event.actor_repr,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_a_rewritten_and_rechained_record_is_detected_without_the_key(chain):
    """Someone with write access to the database rewrites record #3 and re-chains #3 to #5 and the head with plain
    SHA-256 (the digest they can compute): the chain is keyed, so record #3 is reported."""
    prev = AuditEvent.objects.get(seq=2).hash
    with tampering():
        for event in AuditEvent.objects.filter(seq__gte=3).order_by("seq"):
            if event.seq == 3:
                event.after = {"i": 300}
            event.prev_hash = prev
            event.hash = _plain_sha256(event)
            AuditEvent.objects.filter(pk=event.pk).update(after=event.after, prev_hash=prev, hash=event.hash)
            prev = event.hash
        AuditHead.objects.filter(pk=1).update(hash=prev)
    assert _verify_message() == "Audit chain broken at record #3: record #3 was altered after it was written."


def test_the_chain_does_not_verify_under_another_key(chain):
    assert chain[0].prev_hash == GENESIS
    with override_settings(AUDIT_HMAC_KEY="another-key"):
        assert audit_verify().problem == "record #1 was altered after it was written"
    assert audit_verify() is None


def test_verify_audit_prints_the_head_and_checks_a_head_kept_outside(chain, capsys):
    call_command("verify_audit", "--head")
    head = f"#5:{chain[-1].hash}"
    assert capsys.readouterr().out.splitlines()[0] == f"Audit chain head: {head}"
    call_command("verify_audit", "--expect-head", head)
    with tampering():  # the newest two records and the head are cut off consistently
        AuditEvent.objects.filter(seq__gte=4).delete()
        AuditHead.objects.filter(pk=1).update(seq=3, hash=chain[2].hash)
    call_command("verify_audit")  # the chain alone cannot tell...
    with pytest.raises(CommandError) as exc:  # ...the head kept outside can
        call_command("verify_audit", "--expect-head", head)
    assert str(exc.value) == "Audit chain head #5 kept outside the portal is missing: truncated."
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit", "--expect-head", "5:nothex")
    assert str(exc.value) == "--expect-head takes SEQ:DIGEST as printed by --head (64 hexadecimal digits)."


def test_the_chain_names_people_by_id_only(chain):
    actor = chain[0].actor
    assert {e.actor_repr for e in chain} == {f"user #{actor.pk}"}
    event = audit_record(actor=actor, action="test.user", obj=actor)
    assert (event.object_type, event.object_repr) == ("accounts.user", f"user #{actor.pk}")
    assert actor.email not in json.dumps([e.actor_repr + e.object_repr for e in AuditEvent.objects.all()])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_update_and_delete_of_audit_records():
    audit_record(actor=None, action="test.pg", after={"i": 1})
    for statement in ("UPDATE audit_auditevent SET reason = 'x'", "DELETE FROM audit_auditevent"):
        with (
            pytest.raises(DatabaseError, match="audit records are append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.update(reason="x")
    assert AuditEvent.objects.get().reason == ""
    assert audit_verify() is None


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
    with tampering():
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
    with django_assert_num_queries(7):  # the filter's choice lists of actions and object types: one query
        response = client.get(reverse("audit:log"))
    assert len(response.context["events"]) == size + 1  # and the auditor's login


def test_audit_log_page_finds_an_actor_by_email_and_shows_it(client, chain):
    auditor = UserFactory(role=Role.AUDITOR)
    client.force_login(auditor)
    actor = chain[0].actor
    response = client.get(reverse("audit:log"), {"actor": actor.email.upper()})
    assert [e.seq for e in response.context["events"]] == [5, 4, 3, 2, 1]
    assert f'{actor.email}<br><span class="small">user #{actor.pk}</span>' in response.content.decode()


def test_the_migration_rechains_existing_records_with_the_key(chain):
    """Records chained with plain SHA-256 (before the chain was keyed) verify once the migration re-chains them."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("portal.audit.migrations.0003_keyed_chain")
    prev = GENESIS
    with tampering():
        for event in AuditEvent.objects.order_by("seq"):
            event.prev_hash = prev
            event.hash = _plain_sha256(event)
            AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev, hash=event.hash)
            prev = event.hash
        AuditHead.objects.filter(pk=1).update(hash=prev)
        assert audit_verify().seq == 1
        migration.rechain(apps, None)
    assert audit_verify() is None


def test_production_refuses_to_start_without_the_audit_key():
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AUDIT_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "portal.example.hk",
    }
    command = [sys.executable, "manage.py", "check"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=settings.BASE_DIR)
    assert result.returncode == 1
    assert "AUDIT_HMAC_KEY must be set in production (at least 32 characters)." in result.stderr
    env["AUDIT_HMAC_KEY"] = "k" * 32
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=settings.BASE_DIR)
    assert "AUDIT_HMAC_KEY" not in result.stderr


# ---- Records appended together (audit_batch) ----------------------------------------------------------------------


def test_a_batch_appends_its_records_together_at_its_end(chain):
    actor = chain[0].actor
    with transaction.atomic(), audit_batch():
        first = audit_record(actor=actor, action="test.batch", after={"n": 1}, reason="why")
        second = audit_record(actor=actor, action="test.batch", after={"n": 2})
        assert first.seq is None
        assert not AuditEvent.objects.filter(action="test.batch").exists()
    assert (first.seq, second.seq) == (6, 7)
    assert first.prev_hash == chain[-1].hash
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(seq=6)
    assert (stored.actor, stored.action, stored.after, stored.reason) == (actor, "test.batch", {"n": 1}, "why")
    assert AuditHead.objects.get().seq == 7
    assert audit_verify() is None


def test_a_batch_left_by_an_exception_appends_nothing(chain):
    def fail() -> None:
        with transaction.atomic(), audit_batch():
            audit_record(actor=None, action="test.batch")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert AuditEvent.objects.count() == 5
    audit_record(actor=None, action="test.after")  # not held back by a batch left open
    assert AuditEvent.objects.get(seq=6).action == "test.after"
    assert audit_verify() is None


@pytest.mark.django_db(transaction=True)
def test_a_batch_needs_a_transaction():
    with pytest.raises(TransactionManagementError), audit_batch():
        pass


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_and_single_records_keep_one_chain():
    import threading

    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            for j in range(5):
                if i % 2:
                    audit_record(actor=None, action="test.single", after={"i": i, "j": j})
                else:
                    with transaction.atomic(), audit_batch():
                        audit_record(actor=None, action="test.pair", after={"i": i, "j": j, "k": 1})
                        audit_record(actor=None, action="test.pair", after={"i": i, "j": j, "k": 2})
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert AuditEvent.objects.count() == 3 * 5 + 3 * 5 * 2
    pairs = list(AuditEvent.objects.filter(action="test.pair").order_by("seq").values_list("seq", "after"))
    for (seq1, after1), (seq2, after2) in zip(pairs[::2], pairs[1::2], strict=True):  # a pair is never split
        assert (seq2, after2["k"], after1["k"], after1["i"], after1["j"]) == (seq1 + 1, 2, 1, after2["i"], after2["j"])
    assert audit_verify() is None


def test_a_record_appended_outside_the_service_is_not_papered_over(chain):
    """The service continues the chain from its head, not from whatever record is newest: the next record refuses
    to take the forged record's place, and the forgery stays reported."""
    last = AuditEvent.objects.get(seq=5)
    AuditEvent.objects.bulk_create(
        [AuditEvent(seq=6, created_at=last.created_at, action="forged", prev_hash=last.hash, hash="f" * 64)]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        audit_record(actor=None, action="test.after")
    assert audit_verify().seq == 6
