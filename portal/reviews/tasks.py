from celery import shared_task
from django.db import OperationalError

from .services import review_reminders_send


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, retry_backoff_max=600, max_retries=5)
def send_review_reminders() -> int:
    """Daily (Celery beat): remind reviewers before and after the review deadline. Safe to run twice."""
    return review_reminders_send()
