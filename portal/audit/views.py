from django.views.generic import ListView

from portal.core.permissions import PermissionRequiredMixin

from .filters import AuditEventFilter
from .selectors import audit_log
from .services import audit_verify


class AuditLogView(PermissionRequiredMixin, ListView):
    """Auditors browse and filter the log. Read-only: the portal offers no way to change it."""

    template_name = "audit/log.html"
    permission_required = "portal.audit.view_log"
    paginate_by = 50
    context_object_name = "events"

    def get_queryset(self):
        self.filterset = AuditEventFilter(self.request.GET or None, queryset=audit_log())
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        if self.request.GET.get("verify") == "1":
            context["verified"] = True
            context["broken"] = audit_verify()
        return context
