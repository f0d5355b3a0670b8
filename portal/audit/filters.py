import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent
from .selectors import action_pairs


def _choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The actions and the object types the log holds, in one query (whatever the size of the log)."""
    actions, types = set(), set()
    for action, object_type in action_pairs():
        actions.add(action)
        types.add(object_type)
    return [(a, a) for a in sorted(actions) if a], [(t, t) for t in sorted(types) if t]


class AuditEventFilter(django_filters.FilterSet):
    """Filter the log by object (type, id, or what it is called), actor, action (a choice list of the actions the
    log holds) and a date range in Hong Kong time."""

    object_type = django_filters.ChoiceFilter(label=_("Object type"), choices=[])
    object_id = django_filters.CharFilter(label=_("Object id"), lookup_expr="exact")
    object = django_filters.CharFilter(
        label=_("Object (reference or name)"), field_name="object_repr", lookup_expr="icontains"
    )
    # The chain may name people by id ("user #12"); their current email and name are read from their account.
    actor = django_filters.CharFilter(label=_("Actor (email or name)"), method="filter_actor")
    action = django_filters.ChoiceFilter(label=_("Action"), choices=[])
    since = django_filters.DateFilter(
        label=_("From (date)"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        label=_("To (date)"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id", "object", "actor", "action", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions, types = _choices()
        self.filters["action"].extra["choices"] = actions
        self.filters["object_type"].extra["choices"] = types

    def filter_actor(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(actor__email__icontains=value) | Q(actor__full_name__icontains=value) | Q(actor_repr__icontains=value)
        )
