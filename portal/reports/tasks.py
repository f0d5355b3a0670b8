from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .services import approval_report_build, approval_report_stopped

TRANSIENT = (OperationalError, InterfaceError)

# The task's own limits, around the render's (PORTAL_APPROVAL_REPORT_TIME_LIMIT, enforced on the render's child
# process): time to gather the data and store the file too. At the soft limit the task records "took too long" on
# the document and ends the render; the hard limit replaces the worker process if even that did not happen.
APPROVAL_REPORT_SOFT_TIME_LIMIT = settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT + 120
APPROVAL_REPORT_HARD_TIME_LIMIT = APPROVAL_REPORT_SOFT_TIME_LIMIT + 60


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=5,
    soft_time_limit=APPROVAL_REPORT_SOFT_TIME_LIMIT,
    time_limit=APPROVAL_REPORT_HARD_TIME_LIMIT,
)
def approval_report_task(self, document_id: int) -> str:
    """Generate one queued approval report (ids only through the broker). Safe to run twice: a finished document
    is left alone. Stopped at the soft time limit with "took too long" recorded on the document. Workers are
    recycled after CELERY_WORKER_MAX_TASKS_PER_CHILD tasks or CELERY_WORKER_MAX_MEMORY_PER_CHILD KiB."""
    try:
        return approval_report_build(document_id=document_id).status
    except SoftTimeLimitExceeded:
        seconds = self.request.timelimit[1] if self.request.timelimit and self.request.timelimit[1] else None
        return approval_report_stopped(document_id=document_id, seconds=seconds or self.soft_time_limit).status


@shared_task(autoretry_for=TRANSIENT, retry_backoff=30, retry_backoff_max=600, max_retries=5)
def export_snapshots_tidy() -> int:
    """Every quarter of an hour (Celery beat): drop the kept exports that can no longer be sent (their data has
    changed) and fold the change log into one row. Safe to run twice. Returns how many exports were dropped."""
    from .snapshots import tidy

    return tidy()
