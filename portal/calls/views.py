"""The public pages of calls: anyone may read them, logged in or not."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import ListView, TemplateView

from portal.accounts.enums import OrganisationType
from portal.core.permissions import PermissionRequiredMixin
from portal.reviews.enums import SCORE_LABELS

from .forms import CallSetupForms
from .models import Call
from .selectors import calls_by_status, calls_for_secretariat, calls_public
from .services import call_configure, call_has_submissions


class CallListView(TemplateView):
    template_name = "calls/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(calls=calls_by_status(), **kwargs)


class CallDetailView(TemplateView):
    template_name = "calls/detail.html"

    def get_context_data(self, **kwargs):
        call = get_object_or_404(calls_public(), reference=kwargs["reference"])
        now = timezone.now()
        status = "open" if call.is_open(now) else ("upcoming" if now < call.opens_at else "closed")
        eligible = [OrganisationType(t).label for t in call.eligible_org_types or [] if t in OrganisationType.values]
        return super().get_context_data(
            call=call,
            status=status,
            eligible=eligible,
            scale=[(n, label) for n, label in sorted(SCORE_LABELS.items(), reverse=True)],
            **kwargs,
        )


# ---- The secretariat's pages: set up and change a call without the Django admin --------------------------------


class CallManageListView(PermissionRequiredMixin, ListView):
    """Every call, newest first, with links to change it; a button to create one."""

    template_name = "calls/manage_list.html"
    permission_required = "portal.calls.manage_call"
    paginate_by = 25
    context_object_name = "calls"

    def get_queryset(self):
        return calls_for_secretariat()


class CallEditView(PermissionRequiredMixin, TemplateView):
    """Create a call (no ``reference`` in the URL) or change one, with its whole set-up on one page."""

    template_name = "calls/manage_edit.html"
    permission_required = "portal.calls.manage_call"

    def prepare(self):
        reference = self.kwargs.get("reference")
        self.call = get_object_or_404(Call, reference=reference) if reference else None
        return None

    def get_context_data(self, **kwargs):
        forms = kwargs.pop("forms", None) or CallSetupForms(call=self.call)
        return super().get_context_data(
            call=self.call,
            forms=forms,
            has_submissions=call_has_submissions(self.call) if self.call else False,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        forms = CallSetupForms(call=self.call, data=request.POST)
        if forms.is_valid():
            try:
                call = call_configure(actor=request.user, call=self.call, setup=forms.setup(), reason=forms.reason())
            except ValidationError as error:
                forms.add_error(error)
            else:
                messages.success(
                    request,
                    _("The call was created.") if self.call is None else _("The call's changes were saved."),
                )
                return redirect("calls:manage_edit", reference=call.reference)
        return self.render_to_response(self.get_context_data(forms=forms), status=400)
