"""One messenger, two channels: email (sent by Celery after commit) and in-app notifications."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from .models import Notification, OutboundEmail


def email_queue(*, key: str, to: str, template: str, context: dict, language: str = "en") -> OutboundEmail:
    """Render ``template``'s subject and body in ``language`` and queue the email once per ``key``.

    The send task is queued only after the surrounding transaction commits."""
    existing = OutboundEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    context = {"base_url": settings.PORTAL_BASE_URL, **context}
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}_body.txt", context)
    try:
        with transaction.atomic():
            email = OutboundEmail.objects.create(key=key, to=to, subject=subject, body=body, language=language)
    except IntegrityError:
        return OutboundEmail.objects.get(key=key)

    from .tasks import send_email  # tasks sit above services

    transaction.on_commit(lambda: send_email.delay(email.pk))
    return email


def notify(*, user, message: str, url: str = "") -> Notification:
    return Notification.objects.create(user=user, message=message[:500], url=url)
