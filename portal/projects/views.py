from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView

from portal.core.forms import error_text, form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin

from .centre import centre_client_create, centre_client_revoke, centre_clients
from .forms import CentreClientForm
from .models import CentreApiClient


class CentreClientsView(PermissionRequiredMixin, FormView):
    """The centre's API clients: create one (its token is shown once, on the page that answers), revoke one."""

    template_name = "projects/centre_clients.html"
    form_class = CentreClientForm
    permission_required = "portal.projects.manage_centre_api"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "clients": list(centre_clients()[:200])}

    def form_valid(self, form):
        try:
            client, token = centre_client_create(name=form.cleaned_data["name"], actor=self.request.user)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        response = self.render_to_response(self.get_context_data(form=self.form_class(), created=client, token=token))
        response["Cache-Control"] = "private, no-store"
        return response

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=422)


class CentreClientRevokeView(PermissionRequiredMixin, View):
    permission_required = "portal.projects.manage_centre_api"
    http_method_names = ["post"]

    def post(self, request, pk):
        client = get_object_or_404(CentreApiClient, pk=pk)
        try:
            centre_client_revoke(client=client, actor=request.user)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("The token of %(name)s is revoked.") % {"name": client.name})
        return redirect("projects:centre_clients")
