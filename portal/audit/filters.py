import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(label=_("Action"), lookup_expr="icontains")
    # The chain names people by id ("user #12"); their current email and name are read from their account.
    actor = django_filters.CharFilter(label=_("Actor (email)"), method="filter_actor")
    object_type = django_filters.CharFilter(label=_("Object type"), lookup_expr="icontains")
    object_id = django_filters.CharFilter(label=_("Object id"), lookup_expr="exact")
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

    def filter_actor(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(actor__email__icontains=value) | Q(actor__full_name__icontains=value) | Q(actor_repr__icontains=value)
        )

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "object_type", "object_id", "since", "until"]
