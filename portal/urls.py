from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from portal.projects.api import api as centre_api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path(settings.PORTAL_ADMIN_PATH, admin.site.urls),
    path("accounts/", include("portal.accounts.urls")),
    path("calls/", include("portal.calls.urls")),
    path("proposals/", include("portal.proposals.urls")),
    path("notifications/", include("portal.notifications.urls")),
    path("reviews/", include("portal.reviews.urls")),
    path("decisions/", include("portal.decisions.urls")),
    path("allocations/", include("portal.allocations.urls")),
    path("reports/", include("portal.reports.urls")),
    path("audit/", include("portal.audit.urls")),
    path("projects/", include("portal.projects.urls")),
    path("api/centre/", centre_api.urls),
    path("", include("portal.core.urls")),
]

handler400 = "portal.core.errors.bad_request"
handler403 = "portal.core.errors.permission_denied"
handler404 = "portal.core.errors.page_not_found"
handler500 = "portal.core.errors.server_error"
