from django.shortcuts import redirect
from django.views.generic import TemplateView

from portal.accounts.enums import Role


class HomeView(TemplateView):
    template_name = "core/home.html"

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            if request.user.role == Role.REVIEWER:
                return redirect("reviews:my_assignments")
            return redirect("proposals:dashboard")
        return super().get(request, *args, **kwargs)


class PrivacyView(TemplateView):
    template_name = "core/pics.html"
