from django.db.models import QuerySet

from .models import AuditEvent


def audit_log() -> QuerySet[AuditEvent]:
    """The audit log, newest first, with the acting user joined."""
    return AuditEvent.objects.select_related("actor").order_by("-seq")
