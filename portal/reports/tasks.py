from celery import shared_task
from django.db import InterfaceError, OperationalError

from .services import approval_report_build

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=120, max_retries=5)
def approval_report_task(self, document_id: int) -> str:
    """Generate one queued approval report (ids only through the broker). Safe to run twice: a finished document
    is left alone. Workers are recycled after CELERY_WORKER_MAX_TASKS_PER_CHILD tasks or
    CELERY_WORKER_MAX_MEMORY_PER_CHILD KiB, which bounds the memory a long render leaves behind."""
    return approval_report_build(document_id=document_id).status
