"""The approval report is made by a real Celery worker (Redis in CI), and the result is kept and reused."""

import time

import pytest

from portal.accounts.enums import Role
from portal.reports.enums import DocumentStatus
from portal.reports.models import GeneratedDocument
from portal.reports.services import approval_report_request
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
