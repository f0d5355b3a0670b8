"""The audit log: append-only, chained with a keyed hash (HMAC-SHA256).

Each record's ``hash`` is the HMAC-SHA256, under ``settings.AUDIT_HMAC_KEY``, of its content and the previous
record's hash. The key comes from the environment and is never stored in the database, so someone who can write to
the database can neither forge a record nor rewrite one and re-chain the rest (with plain SHA-256 they could).

The chain holds no mutable personal data: a user is named by their id (``user #12``), never by name or email, so
correcting or erasing a person's details (portal.accounts) changes nothing the chain covers. This module is the
only writer of audit records."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Model
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from portal.core.queries import insert_sql, update_sql

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
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
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode()


def _key() -> bytes:
    key = settings.AUDIT_HMAC_KEY
    if not key:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY is not set.")
    return key.encode()


def event_hash(event: AuditEvent) -> str:
    """The record's keyed digest: HMAC-SHA256 of its canonical content (its predecessor's digest included)."""
    return hmac.new(_key(), _canonical(event), hashlib.sha256).hexdigest()


def user_label(user) -> str:
    """How the chain names a person: by id only, so that erasing their details never touches the chain."""
    return f"user #{user.pk}"


# Apps whose objects' names (``str``) never name a person: proposals by reference or title, calls, runs, awards.
IMPERSONAL_NAMES = frozenset({"proposals", "decisions", "calls", "allocations", "reports", "accounts.organisation"})


def _names_people(model) -> bool:
    if model._meta.label_lower == settings.AUTH_USER_MODEL.lower():
        return True
    if model._meta.app_label in IMPERSONAL_NAMES or model._meta.label_lower in IMPERSONAL_NAMES:
        return False
    return any(
        isinstance(f, models.EmailField)
        or (f.is_relation and f.related_model is not None and f.related_model._meta.label == settings.AUTH_USER_MODEL)
        for f in model._meta.concrete_fields
    )


def _object_repr(obj: Model) -> str:
    """The object's name as the chain keeps it: a person, or an object whose name may include a person's name or
    email (a membership, a reviewer's declaration), is named by model and id only."""
    if obj._meta.label_lower == settings.AUTH_USER_MODEL.lower():
        return user_label(obj)
    if _names_people(type(obj)):
        return f"{obj._meta.model_name} #{obj.pk}"
    return str(obj)[:300]


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor,
    action: str,
    obj: Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one record to the chain. The head row is locked so two writers cannot fork the chain.

    Inside ``audit_batch()`` the record is made now (who, what, about which object, why) and appended with the
    block's other records when the block ends; its number, time and hash are set then."""
    event = AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_repr=(user_label(actor) if getattr(actor, "pk", None) else str(actor or "system"))[:255],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=_object_repr(obj) if obj is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )
    batch = _open_batch()
    if batch is not None:
        batch.append(event)
        return event
    with transaction.atomic():
        _append([event])
    return event


HEAD = 1  # the chain head's one row


def _head_locked(connection) -> tuple[int, str] | None:
    """The chain head's (number, hash), its row locked until the transaction ends; None when there is no head.

    Written SQL (names from the model): every audited change reads it, and compiling the ORM's query each time cost
    four times running it."""
    qn = connection.ops.quote_name
    meta = AuditHead._meta
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(meta.get_field('seq').column)}, {qn(meta.get_field('hash').column)} "  # noqa: S608
            f"FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s{lock}",
            [HEAD],
        )
        return cursor.fetchone()


def _append(events: list[AuditEvent]) -> None:
    """Chain ``events`` after the head and write them: one hold of the head's lock for all of them.

    The locked head names the newest record the service wrote, so the chain is continued from it without reading
    the records: a record deleted or appended outside the service is never papered over by the next one (a gap
    stays for ``verify_audit`` to report; a record in the head's next place refuses the write)."""
    connection = transaction.get_connection()
    head = _head_locked(connection)
    if head is None:  # the first record, or a head lost: continue from the newest record
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        AuditHead.objects.get_or_create(
            pk=HEAD, defaults={"seq": last.seq if last else 0, "hash": last.hash if last else GENESIS}
        )
        head = _head_locked(connection)
    seq, prev_hash = head
    now = timezone.now()
    for event in events:
        seq += 1
        event.seq, event.created_at, event.prev_hash = seq, now, prev_hash
        event.hash = prev_hash = event_hash(event)
    head_update = {"seq": seq, "hash": prev_hash, "updated_at": now}
    if connection.vendor == "postgresql":
        # The head stays locked until the commit, and every writer waits for it: the records and the head are
        # written in one round trip (two statements sent together), which keeps that hold short.
        # The records' ids are returned, as bulk_create sets them.
        statements = [
            update_sql(AuditHead.objects.filter(pk=HEAD), head_update, connection),
            *insert_sql(events, connection),
        ]
        with connection.cursor() as cursor:
            cursor.execute("; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
            ids = [row[0] for row in cursor.fetchall()]
        for event, pk in zip(events, ids, strict=True):
            event.pk = pk
            event._state.adding, event._state.db = False, connection.alias
        return
    AuditEvent.objects.bulk_create(events)
    AuditHead.objects.filter(pk=HEAD).update(**head_update)


_batches = threading.local()


def _open_batch() -> list[AuditEvent] | None:
    stack = getattr(_batches, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def audit_batch() -> Iterator[None]:
    """Append the audit records written in the block to the chain together when the block ends, under one hold of
    the chain head's lock, instead of each locking the head where it is written.

    Every writer serialises on the head, and its lock is held until the transaction commits: a service that writes
    records early in a long transaction makes everyone else's records wait for all of it. Open the block just
    inside the service's transaction (``with transaction.atomic(), audit_batch():``): its records are appended as
    it ends, just before the commit, and commit or roll back with the changes they record. An exception leaving
    the block discards its records (the transaction it is in rolls back). Do not catch inside the block an
    exception that rolled back a savepoint after a record was made in it: the record would still be appended. A
    block inside another joins it."""
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError("audit_batch() is used inside transaction.atomic().")
    stack = _batches.__dict__.setdefault("stack", [])
    if stack:
        yield
        return
    pending: list[AuditEvent] = []
    stack.append(pending)
    try:
        yield
    finally:
        stack.pop()
    if pending:
        with transaction.atomic(savepoint=False):
            _append(pending)


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def audit_verify() -> ChainBreak | None:
    """Walk the chain in order; return the first broken record, or None when the chain is intact."""
    prev_hash = GENESIS
    expected_seq = 1
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, f"record #{expected_seq} is missing (next is #{event.seq})")
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, f"record #{event.seq} does not follow the record before it")
        if not hmac.compare_digest(event_hash(event), event.hash):
            return ChainBreak(event.seq, f"record #{event.seq} was altered after it was written")
        prev_hash = event.hash
        expected_seq += 1
    head = AuditHead.objects.filter(pk=HEAD).first()
    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            return ChainBreak(last_seq, f"the chain head is missing (the newest record is #{last_seq})")
        return None
    if head.seq > last_seq:
        return ChainBreak(last_seq + 1, f"record #{last_seq + 1} is missing (the chain ends at #{head.seq})")
    if head.seq < last_seq:
        return ChainBreak(head.seq + 1, f"record #{head.seq + 1} was appended outside the audit service")
    if head.hash != prev_hash:
        return ChainBreak(last_seq, f"record #{last_seq} does not match the chain head")
    return None


# ---- Official configuration changes (calls, pools, capacities, rubrics, rates, budgets, roles) ---------------------
#
# How to use (portal pages and the admin alike):
#
#     from portal.audit.services import config_change
#
#     @transaction.atomic
#     def call_budget_set(*, call, budget, actor, reason=""):
#         with config_change(actor=actor, obj=call, reason=reason, related={"criteria": RUBRIC_FIELDS}):
#             call.budget = budget
#             call.full_clean()
#             call.save(update_fields=["budget"])
#
# ``config_change`` reads the object's stored values (with its many-to-many ids and any ``related`` rows, e.g. a
# call's rubric criteria or a pool's capacities) before the block and again after it, and writes ONE audit record
# "config.create" / "config.change" / "config.delete" holding only what changed, before and after. Nothing changed:
# no record. Give ``obj`` unsaved to record a creation; delete it inside the block to record a deletion. When a block
# cannot wrap the change (the admin saves in several steps), call ``config_snapshot`` before and
# ``config_change_record`` after, as ``portal.audit.admin.AuditedModelAdmin`` does.
# Never pass personal data fields (names, emails) in ``fields``: the audit chain keeps them for ever.

EXCLUDED_FIELDS = frozenset({"password", "last_login"})


def _value(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _own_values(obj: Model, fields: Iterable[str] | None) -> dict[str, Any]:
    wanted = set(fields) if fields is not None else None
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name in EXCLUDED_FIELDS or (wanted is not None and field.name not in wanted):
            continue
        values[field.name] = _value(getattr(obj, field.attname))
    for field in obj._meta.many_to_many:
        if field.name in EXCLUDED_FIELDS or (wanted is not None and field.name not in wanted):
            continue
        values[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True)) if obj.pk else []
    return values


def config_snapshot(
    obj: Model | None, *, fields: Iterable[str] | None = None, related: dict[str, Iterable[str]] | None = None
) -> dict[str, Any]:
    """The stored values of ``obj`` (all its fields, or ``fields``), many-to-many as sorted ids, and for each
    ``related`` name (a reverse foreign key, e.g. ``"criteria"``) the related rows' ``fields`` keyed by their id.
    Reads the database, not the instance in memory. ``{}`` for an unsaved or deleted object."""
    if obj is None or obj.pk is None:
        return {}
    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    if stored is None:
        return {}
    values = _own_values(stored, fields)
    for name, related_fields in (related or {}).items():
        rows = getattr(stored, name).order_by("pk")
        values[name] = {str(row.pk): _own_values(row, related_fields) for row in rows}
    return values


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            if key in before:
                old[key] = before[key]
            if key in after:
                new[key] = after[key]
    return old, new


@transaction.atomic
def config_change_record(
    *, actor, obj: Model, before: dict[str, Any], after: dict[str, Any], reason: str = ""
) -> AuditEvent | None:
    """Write the audit record of one configuration change from two ``config_snapshot``s: only the values that
    differ, before and after. ``before`` empty: a creation; ``after`` empty: a deletion. Returns None when nothing
    changed."""
    if before == after:
        return None
    if not before:
        action, old, new = "config.create", {}, after
    elif not after:
        action, old, new = "config.delete", before, {}
    else:
        action = "config.change"
        old, new = _changes(before, after)
    return audit_record(actor=actor, action=action, obj=obj, before=old, after=new, reason=reason)


@contextmanager
def config_change(
    *,
    actor,
    obj: Model,
    reason: str = "",
    fields: Iterable[str] | None = None,
    related: dict[str, Iterable[str]] | None = None,
) -> Iterator[None]:
    """Audit what the block changes in ``obj`` (see the note above). Use it inside the service's transaction."""
    fields = list(fields) if fields is not None else None
    before = config_snapshot(obj, fields=fields, related=related)
    pk = obj.pk
    yield
    deleted = obj.pk is None and pk is not None  # deleted in the block: Django clears the pk
    if deleted:
        obj.pk = pk
    after = config_snapshot(obj, fields=fields, related=related)
    config_change_record(actor=actor, obj=obj, before=before, after=after, reason=reason)
    if deleted:
        obj.pk = None
