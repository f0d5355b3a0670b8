"""The Django admin needs the second factor too (django-otp's OTPAdminSite), and has no log-in form of its own:
it sends people to the portal's, where lock-outs (django-axes) and two-step sign-in apply."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp.admin import OTPAdminSite


class PortalAdminSite(OTPAdminSite):
    """``has_permission`` (from OTPAdminSite) also needs a session that has passed the second factor, and the admin
    is for superusers only (whose model permissions all hold). Officials set calls up on the portal's own pages: one
    who opens the admin is sent there rather than to an empty admin."""

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and request.user.is_superuser

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and user.is_active and not user.is_superuser:
            if user.has_perm("portal.calls.manage_call"):
                messages.info(request, _("The Django admin is for superusers: calls are set up on these pages."))
                return redirect("calls:manage_list")
            messages.info(request, _("The Django admin is for superusers only."))
            return redirect("core:home")
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")
