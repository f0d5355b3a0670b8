"""The Django admin needs the second factor too (django-otp's OTPAdminSite), and has no log-in form of its own:
it sends people to the portal's, where lock-outs (django-axes) and two-step sign-in apply."""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class PortalAdminSite(OTPAdminSite):
    """``has_permission`` (from OTPAdminSite) also needs a session that has passed the second factor."""

    def login(self, request, extra_context=None):
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")
