"""The audit log: append-only, hash-chained."""

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

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


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder))


@transaction.atomic
def audit_record(
    *,
    actor,
    action: str,
    obj: Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one record to the chain. The head row is locked so two writers cannot fork the chain."""
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
        head = AuditHead.objects.select_for_update().get(pk=1)
    last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_repr=(actor.email if getattr(actor, "pk", None) else str(actor or "system"))[:255],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    AuditHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash, updated_at=event.created_at)
    return event


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
        if event_hash(event) != event.hash:
            return ChainBreak(event.seq, f"record #{event.seq} was altered after it was written")
        prev_hash = event.hash
        expected_seq += 1
    head = AuditHead.objects.filter(pk=1).first()
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
