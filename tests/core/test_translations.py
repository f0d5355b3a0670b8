"""The Traditional Chinese catalogue is complete and compiled."""

from pathlib import Path

from django.conf import settings
from django.utils import translation

PO = Path(settings.BASE_DIR) / "portal" / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"


def _entries(text: str) -> list[dict[str, str]]:
    entries = []
    for block in text.split("\n\n"):
        entry: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                if line.startswith("#,"):
                    entry["flags"] = line
                continue
            if line.startswith('"') and key:
                entry[key] += line.strip()[1:-1]
                continue
            key, _, value = line.partition(" ")
            entry[key] = value.strip()[1:-1]
        if entry.get("msgid") or entry.get("msgid_plural"):
            entries.append(entry)
    return entries


def test_every_message_is_translated():
    entries = _entries(PO.read_text(encoding="utf-8"))
    assert len(entries) > 1000
    untranslated = [e["msgid"] for e in entries if not (e.get("msgstr") or e.get("msgstr[0]"))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", "")]
    assert untranslated == []
    assert fuzzy == []


def test_compiled_catalogue_is_used():
    with translation.override("zh-hant"):
        assert translation.gettext("Save draft") == "儲存草稿"
        assert translation.pgettext("proposal state", "Submitted") == "已提交"
