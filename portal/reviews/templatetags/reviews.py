from django import template

from portal.reviews.explain import pair_reason as _pair_reason

register = template.Library()


@register.simple_tag
def pair_reason(explanation, names) -> str:
    """``{% pair_reason assignment.explanation tag_names as why %}``: why this reviewer (escaped by the template)."""
    return _pair_reason(explanation or {}, names or {})
