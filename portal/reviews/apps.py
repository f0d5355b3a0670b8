from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

REMINDER_SCHEDULE_NAME = "reviews-send-reminders"


class ReviewsConfig(AppConfig):
    name = "portal.reviews"
    label = "reviews"
    verbose_name = _("Reviews")

    def ready(self):
        from celery.schedules import crontab
        from django.conf import settings

        # Once a day at 09:00 Hong Kong time (CELERY_TIMEZONE).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            REMINDER_SCHEDULE_NAME,
            {"task": "portal.reviews.tasks.send_review_reminders", "schedule": crontab(hour=9, minute=0)},
        )
