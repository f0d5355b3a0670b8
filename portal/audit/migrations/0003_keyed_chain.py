"""The audit chain becomes keyed: every record is re-chained with HMAC-SHA256 under ``AUDIT_HMAC_KEY`` (from the
environment, never stored in the database), the head follows, and the records stop naming people other than by id.

Run it with the key the portal will run with: a different key at run time makes ``verify_audit`` report record #1.
The canonical form below is frozen here (it is the one ``portal.audit.services`` uses at this migration)."""

import hashlib
import hmac
import json

import django.db.models.deletion
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations, models

GENESIS = "0" * 64

# The objects whose names (``str``) included a person's name or email when this migration was written.
PERSONAL_OBJECT_TYPES = {
    "accounts.consentrecord",
    "accounts.membership",
    "accounts.invitation",
    "accounts.joinrequest",
    "reviews.reviewerprofile",
    "reviews.collaboration",
    "reviews.suggestedreviewer",
    "reviews.assignment",
    "reviews.declaration",
    "reviews.score",
    "reviews.applicantresponse",
    "reviews.consensus",
    "reviews.remindersent",
    "notifications.outboundemail",
    "notifications.notification",
}


def _canonical(event) -> bytes:
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


def _pseudonymise(event) -> None:
    if event.actor_id is not None:
        event.actor_repr = f"user #{event.actor_id}"
    if event.object_type == settings.AUTH_USER_MODEL.lower():
        event.object_repr = f"user #{event.object_id}"
    elif event.object_type in PERSONAL_OBJECT_TYPES:
        event.object_repr = f"{event.object_type.split('.')[1]} #{event.object_id}"
    if event.action == "user.profile_changed":
        if "full_name" in event.before:
            event.before = {**event.before, "full_name": "(personal data)"}
        if "full_name" in event.after:
            event.after = {**event.after, "full_name": "(corrected)"}


def rechain(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditHead = apps.get_model("audit", "AuditHead")
    if not AuditEvent.objects.exists():
        return
    if not settings.AUDIT_HMAC_KEY:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY must be set to re-chain the audit log.")
    key = settings.AUDIT_HMAC_KEY.encode()
    prev_hash = GENESIS
    last = None
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        _pseudonymise(event)
        event.prev_hash = prev_hash
        event.hash = hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()
        AuditEvent.objects.filter(pk=event.pk).update(
            actor_repr=event.actor_repr,
            object_repr=event.object_repr,
            before=event.before,
            after=event.after,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )
        prev_hash = event.hash
        last = event
    AuditHead.objects.update_or_create(pk=1, defaults={"seq": last.seq, "hash": last.hash})


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_audithead"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(rechain, migrations.RunPython.noop, elidable=False),
    ]
