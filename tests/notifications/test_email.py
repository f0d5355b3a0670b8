import smtplib
import time

import pytest
from django.core import mail

from portal.notifications.models import OutboundEmail
from portal.notifications.services import email_queue
from portal.notifications.tasks import send_email


def _queue(key="k1", language="en"):
    return email_queue(
        key=key,
        to="chan@example.hk",
        template="emails/proposal_submitted",
        context={
            "name": "Dr Chan",
            "reference": "AISS-2026-0001",
            "title": "T",
            "version": 1,
            "sha256": "ab",
            "submitted_at": "2026-11-27 10:00:00 HKT",
            "call": "C",
            "url": "/x",
        },
        language=language,
    )


@pytest.mark.django_db
def test_email_task_run_twice_sends_one_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()
    assert len(mail.outbox) == 1
    assert send_email.apply(args=[email.pk]).get() is False
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1
    assert email.sent_at is not None


@pytest.mark.django_db
def test_email_queued_twice_with_same_key_is_one_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue()
        second = _queue()
    assert first.pk == second.pk
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_email_is_not_sent_when_transaction_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    def queue_then_fail():
        with transaction.atomic():
            _queue()
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        queue_then_fail()
    assert OutboundEmail.objects.count() == 0
    assert mail.outbox == []


class FailingBackend:
    """An SMTP server that drops the connection."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("server went away")


@pytest.mark.django_db
def test_email_transient_failure_is_recorded_and_retried(settings):
    email = OutboundEmail.objects.create(key="k2", to="a@example.hk", subject="s", body="b")
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    # On its last allowed retry the task gives up and reports the transient error.
    result = send_email.apply(args=[email.pk], retries=send_email.max_retries, throw=False)
    assert result.state == "FAILURE"
    assert isinstance(result.result, smtplib.SMTPServerDisconnected)
    email.refresh_from_db()
    assert (email.sent_at, email.attempts, email.last_error) == (None, 1, "server went away")


def test_email_task_retries_with_bounded_backoff():
    assert send_email.max_retries == 6
    assert send_email.retry_backoff_max == 300


@pytest.mark.django_db
def test_email_is_rendered_in_the_recipients_language(django_capture_on_commit_callbacks):
    email = _queue(key="zh", language="zh-hant")
    assert email.language == "zh-hant"
    assert "AISS-2026-0001" in email.subject


def _wait_until(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.integration
def test_email_is_sent_by_a_real_celery_worker(celery_worker):
    """The task goes through the broker (Redis in CI) to a worker, which sends the email once, even when the
    task is delivered twice."""
    email = OutboundEmail.objects.create(key="worker", to="a@example.hk", subject="Via worker", body="b")
    send_email.delay(email.pk)
    assert _wait_until(lambda: OutboundEmail.objects.get(pk=email.pk).sent_at is not None)
    send_email.delay(email.pk)
    assert _wait_until(lambda: OutboundEmail.objects.get(pk=email.pk).attempts == 1)
    time.sleep(1)
    assert [m.subject for m in mail.outbox] == ["Via worker"]
    assert OutboundEmail.objects.get(pk=email.pk).attempts == 1


@pytest.mark.django_db
def test_emails_stuck_in_the_outbox_are_resent_by_the_periodic_task(settings):
    from datetime import timedelta

    from django.utils import timezone

    from portal.notifications.tasks import resend_stuck_emails

    now = timezone.now()
    waited = now - timedelta(minutes=settings.OUTBOX_RESEND_MINUTES, seconds=1)

    def outbound(key, **fields):
        return OutboundEmail.objects.create(key=key, to=f"{key}@example.hk", subject=key, body="b", **fields)

    lost = outbound("lost", created_at=waited)  # queued, its task never ran
    failed = outbound("failed", created_at=waited - timedelta(hours=1), attempts=7, last_error="server went away")
    outbound("fresh", created_at=now)  # its task may still be on its way
    outbound("sent", created_at=waited, sent_at=waited, attempts=1)
    outbound("given-up", created_at=waited, attempts=settings.OUTBOX_MAX_ATTEMPTS)

    assert resend_stuck_emails.apply().get() == [failed.pk, lost.pk]
    assert resend_stuck_emails.apply().get() == []

    assert sorted(m.subject for m in mail.outbox) == ["failed", "lost"]
    assert sorted(OutboundEmail.objects.filter(sent_at__isnull=True).values_list("key", flat=True)) == [
        "fresh",
        "given-up",
    ]
    failed.refresh_from_db()
    assert failed.attempts == 8
