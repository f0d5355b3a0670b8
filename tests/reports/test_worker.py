"""The approval report is made by a real Celery worker (Redis in CI), and the result is kept and reused."""

import multiprocessing
import threading
import time

import pytest
from django.conf import settings

from portal.accounts.enums import Role
from portal.reports.enums import DocumentStatus
from portal.reports.models import GeneratedDocument
from portal.reports.services import approval_report_request, approval_report_stopped
from portal.reports.tasks import approval_report_task
from tests.factories import UserFactory
from tests.factories.reports import report_call


@pytest.mark.integration
def test_approval_report_is_generated_by_a_worker_and_reused(celery_worker):
    rc = report_call(4)
    officer = UserFactory(role=Role.SECRETARIAT)
    document = approval_report_request(call=rc.call, language="en", actor=officer)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status in (DocumentStatus.SUCCEEDED, DocumentStatus.FAILED):
            break
        time.sleep(0.25)
    assert document.status == DocumentStatus.SUCCEEDED
    assert document.progress == 100
    with document.file.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    again = approval_report_request(call=rc.call, language="en", actor=officer)
    assert again.pk == document.pk
    assert GeneratedDocument.objects.count() == 1


def finished(document: GeneratedDocument, seconds: float = 120) -> GeneratedDocument:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status in (DocumentStatus.SUCCEEDED, DocumentStatus.FAILED):
            break
        time.sleep(0.25)
    return document


@pytest.mark.integration
def test_an_over_long_report_is_stopped_with_a_clear_error_and_the_worker_goes_on(celery_worker, settings):
    rc = report_call(4)
    officer = UserFactory(role=Role.SECRETARIAT)
    threads = sorted(t.name for t in threading.enumerate())
    settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT = 0.1

    stopped = finished(approval_report_request(call=rc.call, language="en", actor=officer))

    assert (stopped.status, stopped.error, stopped.file.name) == (
        DocumentStatus.FAILED,
        "The report took longer than 0.1 seconds to make and was stopped. Request it again later; if it is stopped "
        "again, tell the portal's administrators.",
        "",
    )
    # The render's child process was ended and nothing of it is left; the same worker makes the report next time.
    assert multiprocessing.active_children() == []
    settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT = 600
    again = finished(approval_report_request(call=rc.call, language="en", actor=officer))
    assert (again.pk, again.status, again.progress) == (stopped.pk, DocumentStatus.SUCCEEDED, 100)
    assert sorted(t.name for t in threading.enumerate()) == threads


@pytest.mark.django_db
@pytest.mark.integration
def test_a_report_stopped_by_the_tasks_soft_time_limit_says_so():
    rc = report_call(2)
    officer = UserFactory(role=Role.SECRETARIAT)
    document = GeneratedDocument.objects.create(
        kind="approval_report", call=rc.call, language="en", fingerprint="f", version=1, requested_by=officer
    )

    stopped = approval_report_stopped(document_id=document.pk, seconds=720)

    assert (stopped.status, stopped.error) == (
        DocumentStatus.FAILED,
        "The report took longer than 720 seconds to make and was stopped. Request it again later; if it is stopped "
        "again, tell the portal's administrators.",
    )
    assert approval_report_stopped(document_id=document.pk, seconds=1).error == stopped.error  # finished: kept
    assert (approval_report_task.soft_time_limit, approval_report_task.time_limit) == (
        settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT + 120,
        settings.PORTAL_APPROVAL_REPORT_TIME_LIMIT + 180,
    )
