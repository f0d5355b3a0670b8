"""Small helpers for the report templates."""

from django import template

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
