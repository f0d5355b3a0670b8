from celery import shared_task
from django.db import OperationalError

from .progress import progress_report_reminders_send, progress_report_schedule_missing


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, retry_backoff_max=600, max_retries=5)
def send_progress_report_reminders() -> int:
    """Daily (Celery beat): schedule the reports of any locked award still without them, then remind projects of
    reports due in 14 days, due today, and weekly once overdue. Safe to run twice: each reminder is recorded."""
    progress_report_schedule_missing()
    return progress_report_reminders_send()
