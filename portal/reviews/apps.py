from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "portal.reviews"
    label = "reviews"
    verbose_name = _("Reviews")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers that mark stored ranking figures stale)
