"""Checks on what applicants type into their project's reports."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# A DOI: the directory indicator 10, a registrant code of digits (and dots), a slash and a suffix with no spaces
# (Crossref's advice: /^10.\d{4,9}/[-._;()/:A-Z0-9]+$/i matches nearly all of them; we accept any printable suffix).
DOI = re.compile(r"^10\.\d{4,9}(\.\d+)*/[^\s]+$")
DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")


def normalise_doi(value: str) -> str:
    """``https://doi.org/10.1000/xyz`` and ``doi:10.1000/xyz`` as ``10.1000/xyz``."""
    value = (value or "").strip()
    for prefix in DOI_PREFIXES:
        if value.lower().startswith(prefix):
            return value[len(prefix) :].strip()
    return value


def validate_doi(value: str) -> None:
    if not DOI.match(value or "") or len(value) > 200:
        raise ValidationError(
            _("Enter a DOI such as 10.1000/xyz123 (it starts with 10., then a number, a slash and the rest)."),
            code="invalid_doi",
        )
