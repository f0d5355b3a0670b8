"""The hostile-input corpus (issue 10 §6) and a reader of the forms on a page, for tests/core/test_hostile_input.py.

The corpus is a fixed list of values known to break things (NULs, huge and negative numbers, very long strings,
malformed dates, bidi and zero-width characters, formulas, markup) plus values drawn by hypothesis from the
strategy :func:`hostile_values`, derandomised so that CI always feeds the same ones."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hypothesis import strategies as st

NUL = "\x00"

# The fixed corpus by kind. The crawl gives every field (and every query parameter) one value of each kind per
# pass, taking the kind's values in turn, so that each kind of field meets every value at least once.
KINDS: dict[str, list[str]] = {
    "nul": [NUL, f"Cantonese{NUL} LLM", "%00%27"],
    "huge number": ["1e30", "99999999999999999999999", "9" * 400, "0x7fffffff"],  # 23 digits; 400 digits
    "negative": ["-1", "-1e30", "-99999999999999999999999"],
    "odd number": ["0", "NaN", "-Infinity", "1e-30"],
    "odd digits": ["\uff11\uff12\uff13", "\u00b2"],  # full-width digits; a superscript two (isdigit() but no int)
    "long text": ["x" * 10_000, "漢" * 3_000],
    "bad date": ["2026-02-30", "0000-00-00", "99999-12-31", "2026-13-45T25:61:61"],
    "bidi": ["\u202eevil\u202c \u2066\u2067\u2068\u2069", "\u200b\u200c\u200d\ufeff"],  # overrides; zero-width
    "markup": ["<script>alert(1)</script>", '=HYPERLINK("https://evil.example","x")'],
    "sql": ["' OR 1=1 --"],
    "path": ["../../../../etc/passwd"],
    "blank": ["", "  ", "\t"],
}
FIXED_CORPUS: list[str] = [value for values in KINDS.values() for value in values]

_HOSTILE_CHARACTERS = [
    NUL,
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\u0301",
    "\x07",
    "漢",
    "a",
    "9",
    "-",
    ".",
    "e",
    "'",
    "<",
]


def hostile_values() -> st.SearchStrategy[str]:
    """Text no form expects: mixes of control, bidi, zero-width and combining characters; numbers far out of range
    (as integers, decimals and in exponent notation); dates that do not exist; very long runs."""
    return st.one_of(
        st.sampled_from(FIXED_CORPUS),
        st.text(alphabet=st.sampled_from(_HOSTILE_CHARACTERS), min_size=1, max_size=40),
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
        st.tuples(st.integers(-99999, 99999), st.integers(-5, 99), st.integers(-5, 99)).map(
            lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
        ),
        st.integers(min_value=1_000, max_value=30_000).map(lambda n: "長" * n),
    )


def as_kept(value: str) -> str:
    """How a value typed into a text field appears when the form is shown again: NULs removed (the portal strips
    them from every form), escaped as Django escapes."""
    return html.escape(value.replace(NUL, ""))


# ---- Forms on a page ----------------------------------------------------------------------------------------------

TEXT_TYPES = frozenset({"text", "email", "number", "date", "datetime-local", "time", "url", "tel", "search", ""})
# Password fields get the corpus too, but are never shown again (Django's PasswordInput leaves them empty).
SKIPPED_TYPES = frozenset({"submit", "button", "reset", "image", "file"})


@dataclass
class FormField:
    name: str
    kind: str  # an input's type, "textarea" or "select"
    value: str = ""
    options: list[str] = field(default_factory=list)
    checked: bool = False
    invalid: bool = False  # shown with an error (Django marks the widget aria-invalid)

    @property
    def keeps_text(self) -> bool:
        """A field whose typed text is shown again when the form comes back with errors."""
        return self.kind == "textarea" or self.kind in TEXT_TYPES


@dataclass
class Form:
    method: str
    action: str
    fields: list[FormField] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of named submit buttons

    def field_names(self) -> list[str]:
        return sorted({f.name for f in self.fields})

    def base_data(self) -> dict[str, list[str]]:
        """What a browser would send untouched, with a plausible value in empty required-looking fields."""
        data: dict[str, list[str]] = {}
        for f in self.fields:
            if f.kind in ("checkbox", "radio"):
                if f.checked or (f.kind == "checkbox" and not any(g.checked for g in self.fields if g.name == f.name)):
                    data.setdefault(f.name, []).append(f.value or "on")
                elif f.kind == "radio" and f.name not in data:
                    data[f.name] = [f.value]
                continue
            if f.kind == "select":
                choice = f.value or next((o for o in f.options if o), "")
                data.setdefault(f.name, []).append(choice)
                continue
            data.setdefault(f.name, []).append(f.value or _plausible(f))
        return data


def _plausible(f: FormField) -> str:
    if f.kind == "hidden":
        return ""
    return {"email": "someone@example.hk", "number": "1", "date": "2026-12-01", "url": "https://example.hk"}.get(
        f.kind, "Plain text"
    )


def _invalid(attrs: dict[str, str]) -> bool:
    return attrs.get("aria-invalid") == "true" or "is-invalid" in attrs.get("class", "").split()


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: FormField | None = None
        self._select: FormField | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = Form(method=(a.get("method") or "get").lower(), action=a.get("action", ""))
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "submit" and a.get("name"):
                form.buttons.append((a["name"], a.get("value", "")))
            if kind in SKIPPED_TYPES or "disabled" in a:
                return
            form.fields.append(
                FormField(a["name"], kind, a.get("value", ""), checked="checked" in a, invalid=_invalid(a))
            )
        elif tag == "button":
            if a.get("name") and a.get("type", "submit") == "submit":
                form.buttons.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = FormField(a["name"], "textarea", invalid=_invalid(a))
            form.fields.append(self._textarea)
        elif tag == "select":
            self._select = FormField(a["name"], "select", invalid=_invalid(a))
            form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.options.append(value)
            if "selected" in a:
                self._select.value = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            if self._textarea is not None and self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_of(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms
