from django.views.generic import TemplateView

from portal.core.permissions import PermissionRequiredMixin

from .work import LIMIT, work_waiting


class WorkWaitingView(PermissionRequiredMixin, TemplateView):
    """What waits for the user's role, each item linking to where it is done."""

    template_name = "decisions/work.html"
    permission_required = "portal.decisions.view_work"

    def get_context_data(self, **kwargs):
        kinds = work_waiting(user=self.request.user)
        return super().get_context_data(kinds=kinds, limit=LIMIT, nothing=not any(k.total for k in kinds), **kwargs)
