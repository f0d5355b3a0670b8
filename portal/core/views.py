from django.shortcuts import redirect
from django.views.generic import TemplateView

from portal.calls.selectors import calls_by_status


class HomeView(TemplateView):
    template_name = "core/home.html"

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            if request.user.has_perm("portal.reviews.view_own_assignments"):
                return redirect("reviews:my_assignments")
            return redirect("proposals:dashboard")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(calls=calls_by_status(closed_limit=0), **kwargs)


class PrivacyView(TemplateView):
    template_name = "core/pics.html"
