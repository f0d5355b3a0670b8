"""``{{ event.before|audit_json }}``: a record's values as compact JSON (Chinese kept as written)."""

import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder

register = template.Library()


@register.filter
def audit_json(value) -> str:
    if not value:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
