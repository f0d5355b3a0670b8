"""The audit log: append-only, hash-chained."""

import hashlib
import json
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
