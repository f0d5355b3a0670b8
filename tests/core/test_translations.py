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


# The names Django's makemessages looks for (xgettext's keywords); a message wrapped under any other name is never
# extracted, and the next `make messages` drops its translation from the catalogue.
EXTRACTED_NAMES = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
}


def test_translation_functions_are_imported_under_names_makemessages_extracts():
    import ast

    wrong = []
    for path in sorted((Path(settings.BASE_DIR) / "portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                wrong += [
                    f"{path.name}: {alias.name} as {alias.asname}"
                    for alias in node.names
                    if alias.name in EXTRACTED_NAMES and (alias.asname or alias.name) not in EXTRACTED_NAMES
                ]
    assert wrong == []
