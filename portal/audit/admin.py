"""Django admin pages that change official configuration write an audit record with the values before and after
(``config_snapshot`` / ``config_change_record``); records that change only through the portal's services are shown
read-only (:class:`ReadOnlyModelAdmin`). The audit log itself has no admin page: nobody edits it."""

from django.contrib import admin

from .services import config_change_record, config_snapshot


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A ModelAdmin that only shows: records that change through the portal's services (so that every change is
    recorded) or never (evidence), which nobody adds, edits or deletes by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletions are audited, inlines included.

    ``audit_fields``: the model's fields to record (None: all but passwords); ``audit_related``: reverse relations
    edited in inlines, name -> their fields (e.g. ``{"criteria": ("number", "name", "weight", "min_to_pass")}``)."""

    audit_fields: tuple[str, ...] | None = None
    audit_related: dict[str, tuple[str, ...]] = {}

    def _snapshot(self, obj):
        return config_snapshot(obj, fields=self.audit_fields, related=self.audit_related)

    def _before(self, request) -> dict:
        if not hasattr(request, "_audit_before"):
            request._audit_before = {}
        return request._audit_before

    def save_model(self, request, obj, form, change):
        # The database still holds the old values here (the instance in memory already has the new ones).
        self._before(request)[(obj._meta.label_lower, obj.pk)] = self._snapshot(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = self._before(request).pop((obj._meta.label_lower, obj.pk if change else None), {})
        config_change_record(actor=request.user, obj=obj, before=before, after=self._snapshot(obj))

    def delete_model(self, request, obj):
        before = self._snapshot(obj)
        pk = obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        config_change_record(actor=request.user, obj=obj, before=before, after={})
        obj.pk = None

    def delete_queryset(self, request, queryset):
        objects = list(queryset)
        befores = [(obj, obj.pk, self._snapshot(obj)) for obj in objects]
        super().delete_queryset(request, queryset)
        for obj, pk, before in befores:
            obj.pk = pk
            config_change_record(actor=request.user, obj=obj, before=before, after={})
