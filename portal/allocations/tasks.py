from pathlib import Path

from celery import shared_task
from django.contrib.auth import get_user_model

from .services import allocation_run_execute, clawback_checkpoints_run
from .usage import TRANSIENT, usage_import, usage_import_run, usage_imports_requeue


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=10, retry_backoff_max=300, max_retries=5)
def usage_import_file(self, path: str, actor_id: int | None) -> int:
    """Import the sacct export at ``path`` (on storage the worker can read; it is streamed, never sent through the
    broker) and return the import's id. Safe to run twice: jobs are upserted by JobID. A bad file raises
    ``SacctError`` after its rejection is recorded, and is not retried."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    with open(path, "rb") as stream:
        return usage_import(stream=stream, filename=Path(path).name, actor=actor).pk


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=10, retry_backoff_max=300, max_retries=5)
def usage_import_task(self, import_id: int) -> str:
    """Import a file uploaded through the portal (its import's id only through the broker; the file stays on
    storage) and return the import's status. Safe to run twice: the import is claimed from "queued" first, so a
    redelivered task does nothing. A bad file is recorded as rejected, not retried."""
    return usage_import_run(import_id=import_id).status


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=120, max_retries=5)
def allocation_run_task(self, run_id: int) -> str:
    """Solve one allocation run (ids only through the broker). Safe to run twice: a finished run is left alone."""
    return allocation_run_execute(run_id=run_id).status


@shared_task(autoretry_for=TRANSIENT, retry_backoff=30, retry_backoff_max=600, max_retries=5)
def clawback_checkpoints() -> dict[str, list[int]]:
    """Daily (Celery beat): warn the projects before each claw-back checkpoint and apply it when its date comes.
    Safe to run twice: a checkpoint is warned once and applied once."""
    return clawback_checkpoints_run()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=30, retry_backoff_max=600, max_retries=5)
def usage_imports_requeue_stuck() -> list[int]:
    """Every few minutes (Celery beat): queue again the uploads whose import task was lost or whose worker died.
    Safe to run twice: an import is claimed before it runs, so it runs once."""
    return usage_imports_requeue()
