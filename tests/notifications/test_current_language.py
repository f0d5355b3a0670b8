"""Notifications are put into words when they are read, in the reader's language at that moment."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop, override

from portal.notifications.messages import Bilingual, Message, decode, encode
from portal.notifications.models import Notification
from portal.notifications.services import notification_text, notify, user_notify
from portal.proposals.enums import ProposalState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HKT = ZoneInfo("Asia/Hong_Kong")


def test_encode_keeps_what_values_stand_for():
    moment = datetime(2026, 11, 27, 17, 0, tzinfo=HKT)
    data = encode(
        {
            "state": ProposalState.APPROVED,
            "time": moment,
            "amount": Decimal("12.50"),
            "title": Bilingual("Cantonese LLM", "粵語大型語言模型"),
            "n": 2,
        }
    )
    assert data["state"] == {"__choice__": "portal.proposals.enums.ProposalState", "value": "approved"}
    decoded = decode(data)
    assert decoded["time"] == moment
    assert decoded["amount"] == Decimal("12.50")
    with override("zh-hant"):
        assert str(decoded["state"]) == "已批准"
        assert str(decoded["title"]) == "粵語大型語言模型"
    with override("en"):
        assert str(decoded["state"]) == "Approved"
        assert str(decoded["title"]) == "Cantonese LLM"


def test_a_message_reads_in_the_language_of_the_reader_now(client):
    user = UserFactory(preferred_language="en")
    note = notify(
        user=user,
        message=Message(gettext_noop("%(reference)s was submitted (version %(n)s)."), {"reference": "AISS-1", "n": 2}),
    )
    assert note.message == "AISS-1 was submitted (version 2)."
    client.force_login(user)
    assert "AISS-1 was submitted (version 2)." in client.get(reverse("notifications:list")).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    html = client.get(reverse("notifications:list")).content.decode()
    assert "AISS-1 was submitted" not in html
    with override("zh-hant"):
        assert notification_text(Notification.objects.get()) in html
        assert "AISS-1" in notification_text(Notification.objects.get())


def test_an_email_subject_notification_reads_in_the_language_of_the_reader_now(django_capture_on_commit_callbacks):
    user = UserFactory(preferred_language="en")
    with django_capture_on_commit_callbacks(execute=True):
        note = user_notify(
            user=user,
            key="ev:lang",
            template="emails/decisions_proposal_state",
            context={
                "reference": "AISS-2026-0001",
                "title": Bilingual("Cantonese LLM", "粵語大型語言模型"),
                "call": Bilingual("AISS 2026 Batch 1", "人工智能資助計劃 2026 第一批"),
                "state": ProposalState.APPROVED,
                "action": "approve",
                "reason": "",
                "time": datetime(2026, 11, 27, 17, 0, tzinfo=HKT),
            },
        )
    assert note.message == "AISS-2026-0001 is now “Approved”"
    with override("zh-hant"):
        assert notification_text(note) == "AISS-2026-0001 現為「已批准」"
    with override("en"):
        assert notification_text(note) == "AISS-2026-0001 is now “Approved”"


def test_old_notifications_without_a_key_keep_their_text():
    note = Notification.objects.create(user=UserFactory(), message="Written long ago.")
    with override("zh-hant"):
        assert notification_text(note) == "Written long ago."
