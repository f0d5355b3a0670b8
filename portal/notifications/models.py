from django.conf import settings
from django.db import models
from django.utils import timezone


class OutboundEmail(models.Model):
    """An email rendered in the recipient's language and queued for sending.

    ``key`` makes queueing idempotent; ``sent_at`` makes sending idempotent: a redelivered task finds it set
    and sends nothing."""

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"


class Notification(models.Model):
    """An in-app notification."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # The event this notification tells of (e.g. "proposal-approve:12:34"); one notification per user and key.
    key = models.CharField(max_length=200, blank=True)
    # What the notification says, put into words when it is read, in the reader's language then: a message id
    # with parameters, or the subject template of an email with its context (see messages.py). ``message`` is the
    # text in the recipient's language when it was sent, for notifications made before these were kept.
    msgid = models.TextField(blank=True)
    template = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], condition=~models.Q(key=""), name="one_notification_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.message
