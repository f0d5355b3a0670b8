"""One messenger, two channels: email (sent by Celery after commit) and in-app notifications.

``user_notify`` is the messenger: one call per event and recipient renders the event's templates in the
recipient's language, adds an in-app notification (whose text is the email's subject line) and queues the email.
Both channels are idempotent by ``key``: telling the same person of the same event twice tells them once."""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .messages import Message, decode, encode
from .models import Notification, OutboundEmail


def _render(template: str, context: dict, language: str) -> tuple[str, str]:
    with translation.override(language):
        # Through encode/decode, so that an email and the notification beside it see the same values; inside the
        # recipient's language, so that lazy text (a time's zone name) is put into words in it.
        context = {"base_url": settings.PORTAL_BASE_URL, **decode(encode(context))}
        subject = _subject(template, context)
        body = render_to_string(f"{template}_body.txt", context)
    return subject, body


def _subject(template: str, context: dict) -> str:
    return " ".join(render_to_string(f"{template}_subject.txt", context).split())


def notification_text(note: Notification) -> str:
    """What ``note`` says, in the active language (the reader's, now)."""
    if note.template:
        context = {"base_url": settings.PORTAL_BASE_URL, **decode(note.params)}
        return _subject(note.template, context)
    if note.msgid:
        return Message(note.msgid, decode(note.params)).render()
    return note.message


def email_queue(*, key: str, to: str, template: str, context: dict, language: str = "en") -> OutboundEmail:
    """Render ``template``'s subject and body in ``language`` and queue the email once per ``key``.

    The send task is queued only after the surrounding transaction commits."""
    existing = OutboundEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    subject, body = _render(template, context, language)
    try:
        with transaction.atomic():
            email = OutboundEmail.objects.create(key=key, to=to, subject=subject[:255], body=body, language=language)
    except IntegrityError:
        return OutboundEmail.objects.get(key=key)

    from .tasks import send_email  # tasks sit above services

    transaction.on_commit(lambda: send_email.delay(email.pk))
    return email


def outbox_resend(*, now=None) -> list[int]:
    """Queue the send task again for every email still unsent ``settings.OUTBOX_RESEND_MINUTES`` after it was
    queued (its task lost, or its retries spent while the mail server was down), up to
    ``settings.OUTBOX_MAX_ATTEMPTS`` attempts; return their ids. Run by Celery beat. Safe to run twice, or while the
    first task is still retrying: the send task locks the row and never sends a sent email again."""
    from .tasks import send_email  # tasks sit above services

    now = now or timezone.now()
    stuck = list(
        OutboundEmail.objects.filter(
            sent_at__isnull=True,
            created_at__lte=now - timedelta(minutes=settings.OUTBOX_RESEND_MINUTES),
            attempts__lt=settings.OUTBOX_MAX_ATTEMPTS,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in stuck:
        send_email.delay(pk)
    return stuck


def notify(
    *, user, message: str | Message, url: str = "", key: str = "", template: str = "", params: dict | None = None
) -> Notification:
    """An in-app notification; with a ``key``, at most one per user and key.

    ``message`` is a :class:`Message` (a message id and its parameters, put into words when read, in the reader's
    language then) or plain text; ``template`` and ``params`` name an email subject template rendered when read."""
    fields = {"url": url}
    if isinstance(message, Message):
        fields.update(msgid=message.msgid, params=encode(message.params))
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            message = message.render()
    if template:
        fields.update(template=template, params=encode(params or {}))
    fields["message"] = str(message)[:500]
    if key:
        existing = Notification.objects.filter(user=user, key=key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return Notification.objects.create(user=user, key=key, **fields)
        except IntegrityError:
            return Notification.objects.get(user=user, key=key)
    return Notification.objects.create(user=user, **fields)


def user_notify(*, user, key: str, template: str, context: dict, url: str = "", email: bool = True) -> Notification:
    """Tell ``user`` of one event on both channels, in their language.

    ``template`` names ``<template>_subject.txt`` (also the in-app text) and ``<template>_body.txt``; the context
    gets ``name`` (the recipient's name) and ``url``. Inactive users are told nothing by email."""
    language = user.preferred_language or settings.LANGUAGE_CODE
    context = {"name": user.full_name, "url": url, **context}
    subject, _body = _render(template, context, language)
    note = notify(user=user, message=subject, url=url, key=key, template=template, params=context)
    if email and user.is_active and user.email:
        email_queue(key=f"{key}:{user.pk}", to=user.email, template=template, context=context, language=language)
    return note


def users_notify(*, users: Iterable, key: str, template: str, context: dict, url: str = "") -> int:
    """``user_notify`` for each of ``users`` (each in their own language); returns how many were told."""
    count = 0
    for user in users:
        user_notify(user=user, key=key, template=template, context=context, url=url)
        count += 1
    return count
