from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One append-only audit record. Each record's hash is an HMAC (key from the environment) of its content and
    the previous record's hash, so an edit, a deletion or a reordering breaks the chain (``manage.py verify_audit``),
    even by someone who can write to the database. On PostgreSQL a trigger refuses UPDATE and DELETE."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: a person who acted is deactivated, never deleted (portal.accounts.services.user_remove), so the
    # record keeps naming them and its digest, which covers the actor's id, stays valid.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_repr = models.CharField(_("actor"), max_length=255, blank=True)
    action = models.CharField(_("action"), max_length=60)  # indexed with object_type (Meta)
    object_type = models.CharField(_("object type"), max_length=60, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=60, blank=True)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        # Filters by action, and the log's distinct (action, object type) pairs read by skipping through it
        # (selectors.action_pairs), which a log of millions of records would otherwise scan whole on every page.
        indexes = [models.Index(fields=["action", "object_type"], name="audit_action_object_type")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(_("An audit record cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("An audit record cannot be deleted."))


class AuditHead(models.Model):
    """The newest record's number and hash, kept beside the chain (one row), so that deleting the newest records
    is detected too. Its row is also the lock that serialises writers."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"head #{self.seq}"
