"""Notifications are stored as a message key and its parameters and put into words when they are read, in the
reader's language at that moment: a notification written while the reader used English reads in Chinese once
they switch.

Parameters are kept as JSON. Values that are words in some language are stored as what they stand for:

* :class:`Message` — a message id (``gettext_noop``) with its own parameters, translated when read;
* a choice of a ``TextChoices`` enum (``ProposalState.APPROVED``) — shown as its label;
* :class:`Bilingual` — a stored name with an English and a Chinese version (a call's title) — the reader's one;
* a ``datetime`` — kept exactly, shown in Hong Kong time by the template;
* a ``Decimal`` — kept exactly."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Choices
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, pgettext

from portal.core.i18n import is_chinese


@dataclass(frozen=True)
class Message:
    """A message id to translate when read, e.g. ``Message(gettext_noop("%(reference)s was submitted."), {...})``."""

    msgid: str
    params: dict = field(default_factory=dict)
    context: str = ""

    def render(self) -> str:
        template = pgettext(self.context, self.msgid) if self.context else gettext(self.msgid)
        params = decode(encode(self.params))
        try:
            return template % {k: str(v) for k, v in params.items()} if params else template
        except (KeyError, ValueError, TypeError):
            return template


@dataclass(frozen=True)
class Bilingual:
    """A stored name in English with its Chinese version (may be empty)."""

    en: str
    zh: str = ""

    @classmethod
    def of(cls, obj, name: str) -> Bilingual:
        return cls(str(getattr(obj, name, "") or ""), str(getattr(obj, f"{name}_zh", "") or ""))

    def __str__(self) -> str:
        return self.zh if self.zh and is_chinese() else self.en


class _Label:
    """A choice shown as its label, translated when it is put into words."""

    def __init__(self, member):
        self.member = member

    def __str__(self) -> str:
        return str(self.member.label)


def encode(value):
    """``value`` as JSON-safe data, keeping what it stands for (see the module's docstring)."""
    if isinstance(value, Message):
        return {"__msg__": value.msgid, "ctx": value.context, "params": encode(value.params)}
    if isinstance(value, Bilingual):
        return {"__bilingual__": [value.en, value.zh]}
    if isinstance(value, _Label):
        value = value.member
    if isinstance(value, Choices):
        cls = type(value)
        return {"__choice__": f"{cls.__module__}.{cls.__qualname__}", "value": value.value}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def decode(value):
    """The inverse of :func:`encode`, for rendering: names and labels become objects that print in the active
    language."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__msg__" in value:
        return _Rendered(Message(value["__msg__"], value.get("params") or {}, value.get("ctx") or ""))
    if "__bilingual__" in value:
        en, zh = [*list(value["__bilingual__"]), "", ""][:2]
        return Bilingual(en, zh)
    if "__choice__" in value:
        module, _, name = value["__choice__"].rpartition(".")
        try:
            enum = getattr(importlib.import_module(module), name)
            return _Label(enum(value["value"]))
        except (ImportError, AttributeError, ValueError):
            return value.get("value", "")
    if "__datetime__" in value:
        return parse_datetime(value["__datetime__"])
    if "__decimal__" in value:
        return Decimal(value["__decimal__"])
    return {k: decode(v) for k, v in value.items()}


class _Rendered:
    def __init__(self, message: Message):
        self.message = message

    def __str__(self) -> str:
        return self.message.render()
