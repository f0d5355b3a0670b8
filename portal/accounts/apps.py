from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = _("Accounts and organisations")

    def ready(self) -> None:
        from django.contrib import admin

        from . import signals  # noqa: F401  (connects the receivers)
        from .admin_site import PortalAdminSite

        # Every model is registered on ``admin.site``: make that one site require the second factor.
        admin.site.__class__ = PortalAdminSite
