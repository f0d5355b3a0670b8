"""Small helpers for the report templates."""

from django import template
from django.utils.html import format_html

from portal.core.i18n import localised, text_language

register = template.Library()


@register.filter
def get_cell(cells, key):
    """``cells[key]`` for a dict keyed by (pool code, quarter code); None when absent."""
    try:
        return cells.get(tuple(key))
    except AttributeError:
        return None


@register.filter
def sub(value, other):
    """``value - other`` for numbers (Decimal-safe)."""
    return value - other


@register.filter
def proposal_lang(proposal) -> str:
    """`` lang="en"`` (with its leading space) for the ranked list's cell of ``proposal`` (reference, title,
    organisation) when its title and organisation are both in another language than the page's, else nothing.

    The language is marked on the cell, not on a ``<span>`` in it: in the long tables of the approval report an
    inline element in each row was a tenth of WeasyPrint's work (make bench). A title in another language than its
    organisation's is left unmarked there; WeasyPrint's PDF has no language of its own for an element (its
    structure tree carries only the document's), and Latin text is set the same on a page in either language."""
    text = f"{localised(proposal, 'title')} {localised(proposal.organisation, 'name')}"
    tag = text_language(text)
    return format_html(' lang="{}"', tag) if tag else ""
