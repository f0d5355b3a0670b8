from celery import shared_task
from django.db import OperationalError

from .services import proposal_event_notify, submission_notify


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, retry_backoff_max=300, max_retries=6)
def submission_notify_task(proposal_id: int, version_id: int, event_id: int | None = None) -> None:
    """After a submission: the submitter is told in the portal and by email, and (``event_id``: the submission's
    step) the officials whose work it makes, as ``proposal_event_notify_task`` tells them. Safe to run twice."""
    submission_notify(proposal_id, version_id)
    if event_id is not None:
        proposal_event_notify(proposal_id, event_id, applicants=False)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, retry_backoff_max=300, max_retries=6)
def proposal_event_notify_task(proposal_id: int, event_id: int, *, applicants: bool = True) -> None:
    """After a step of a proposal: its organisation and the officials whose work it makes are told. Safe to run
    twice."""
    proposal_event_notify(proposal_id, event_id, applicants=applicants)
