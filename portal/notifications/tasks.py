import smtplib

from celery import shared_task
from django.core.mail import EmailMessage
from django.db import OperationalError, transaction
from django.utils import timezone

from .models import OutboundEmail
from .services import outbox_resend

TRANSIENT = (smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=6)
def send_email(self, email_id: int) -> bool:
    """Send one queued email. Safe to run twice: the row is locked while sending, and an email that has been
    sent is never sent again. Transient failures are recorded and retried with bounded backoff."""
    failure: Exception | None = None
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.sent_at is not None:
            return False
        email.attempts += 1
        try:
            EmailMessage(subject=email.subject, body=email.body, to=[email.to]).send(fail_silently=False)
        except TRANSIENT as exc:
            failure = exc
            email.last_error = str(exc)[:2000]
            email.save(update_fields=["attempts", "last_error"])
        else:
            email.sent_at = timezone.now()
            email.save(update_fields=["attempts", "sent_at"])
    if failure is not None:
        raise failure
    return True


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, retry_backoff_max=600, max_retries=5)
def resend_stuck_emails() -> list[int]:
    """Every few minutes (Celery beat): queue again the emails stuck in the outbox. Safe to run twice."""
    return outbox_resend()
