import pytest
from django.core import mail

from portal.notifications.models import Notification, OutboundEmail
from portal.notifications.services import user_notify
from portal.notifications.tasks import send_email
from tests.factories import UserFactory

CONTEXT = {
    "reference": "AISS-2026-0001",
    "title": "Cantonese LLM",
    "call": "Call 1",
    "state": "Approved",
    "action": "approve",
    "reason": "",
    "time": "2026-11-27 10:00:00 HKT",
}


@pytest.mark.django_db
def test_user_notify_sends_one_email_and_one_notification_per_event(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            user_notify(user=user, key="ev:1", template="emails/decisions_proposal_state", context=CONTEXT, url="/p/1/")
    assert Notification.objects.filter(user=user).count() == 1
    assert [m.subject for m in mail.outbox] == ["AISS-2026-0001 is now “Approved”"]
    email = OutboundEmail.objects.get()
    assert send_email.apply(args=[email.pk]).get() is False
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_user_notify_writes_in_the_recipients_language(django_capture_on_commit_callbacks):
    user = UserFactory(preferred_language="zh-hant")
    with django_capture_on_commit_callbacks(execute=True):
        note = user_notify(
            user=user, key="ev:2", template="emails/decisions_work_waiting", context={**CONTEXT, "task": "decide"}
        )
    expected = "待作出決定\uff1aAISS-2026-0001"  # with a full-width colon
    assert note.message == expected
    assert mail.outbox[0].subject == expected
    assert "正等待您處理" in mail.outbox[0].body


@pytest.mark.integration
def test_decision_email_is_sent_once_by_a_real_celery_worker(celery_worker):
    import time

    user = UserFactory()
    user_notify(user=user, key="ev:worker", template="emails/decisions_proposal_state", context=CONTEXT)
    email = OutboundEmail.objects.get()
    send_email.delay(email.pk)  # a redelivery: the worker sends it once
    for _ in range(100):
        email.refresh_from_db()
        if email.sent_at is not None and len(mail.outbox) >= 1:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(mail.outbox) == 1
    assert email.attempts == 1
