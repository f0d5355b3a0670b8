"""Usage uploads through the portal: checked and stored in the request, imported by a Celery task, followed on a
status page (domain brief §8)."""

import io
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from portal.accounts.enums import Role
from portal.allocations.models import UsageImport, UsageImportStatus, UsageJob, UsageQuarter
from portal.allocations.tasks import usage_import_task
from portal.audit.models import AuditEvent
from portal.proposals.enums import ProposalState
from tests.browser.helpers import log_in_with_form
from tests.factories import ProposalFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SAMPLE = Path(settings.BASE_DIR) / "tests" / "data" / "sacct-sample.txt"
HEADER = "JobID|JobName|Account|User|Partition|AllocTRES|ElapsedRaw|Start|End|State\n"
GOOD_LINE = (
    "5001|name|aiss-0007|kwong|h800|cpu=8,gres/gpu=8,node=1|3600|2026-01-05T08:00:00|2026-01-05T09:00:00|COMPLETED\n"
)
BAD_LINE = (
    "5002|name|aiss-0007|kwong|h800|cpu=8,gres/gpu=8,node=1|abc|2026-01-05T08:00:00|2026-01-05T09:00:00|COMPLETED\n"
)
UPLOAD_URL = reverse("allocations:usage_upload")


@pytest.fixture
def known_accounts():
    return [ProposalFactory(state=ProposalState.APPROVED, account_code=code) for code in ("aiss-0007", "aiss-0012")]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def summary() -> str:
    out = io.StringIO()
    call_command("usage_summary", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int]:
    return UsageJob.objects.count(), UsageQuarter.objects.count()


def stored_files() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "usage-imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def upload(client, name: str, content: bytes):
    return client.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, content, content_type="text/plain")})


def status_json(client, record: UsageImport) -> dict:
    return client.get(reverse("allocations:usage_import_status", args=[record.pk])).json()


def test_usage_upload_sample_imported_by_task_status_page_totals(
    client, officer, known_accounts, django_capture_on_commit_callbacks
):
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(client, "sacct-sample.txt", SAMPLE.read_bytes())

    record = UsageImport.objects.get()
    assert (response.status_code, response["Location"], len(callbacks)) == (
        302,
        reverse("allocations:usage_import", args=[record.pk]),
        1,
    )
    assert (
        record.status,
        record.actor,
        record.filename,
        record.lines_read,
        record.jobs_created,
        record.jobs_updated,
        record.jobs_pending,
        record.unknown_accounts,
        record.upload.name,
    ) == (UsageImportStatus.COMPLETED, officer, "sacct-sample.txt", 10, 4, 0, 1, [], "")
    assert stored_files() == []
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"
    page = text(client.get(response["Location"]))
    assert "sacct-sample.txt is imported." in page
    assert (
        '<dt class="col-sm-4">Lines read</dt> <dd class="col-sm-8" id="lines-read"> 10 </dd> '
        '<dt class="col-sm-4">Jobs created</dt> <dd class="col-sm-8" id="jobs-created"> 4 </dd> '
        '<dt class="col-sm-4">Jobs updated</dt> <dd class="col-sm-8" id="jobs-updated"> 0 </dd> '
        '<dt class="col-sm-4">Pending jobs skipped</dt> <dd class="col-sm-8" id="jobs-pending"> 1 </dd> '
        '<dt class="col-sm-4">Unknown accounts</dt> <dd class="col-sm-8" id="unknown-count"> 0 </dd>'
    ) in page
    assert (
        '<tbody> <tr> <th scope="row">aiss-0007</th> <td>2026Q1</td> <td class="num">640.0</td> </tr> '
        '<tr> <th scope="row">aiss-0012</th> <td>2026Q1</td> <td class="num">17.5</td> </tr> </tbody>'
    ) in page
    assert "usage_import_status.js" not in page
    assert status_json(client, record) == {
        "status": "completed",
        "status_display": "Completed",
        "finished": True,
        "lines_read": 10,
        "jobs_created": 4,
        "jobs_updated": 0,
        "jobs_pending": 1,
        "unknown_accounts": [],
        "error": "",
    }


def test_usage_upload_unknown_accounts_listed(client, officer, django_capture_on_commit_callbacks):
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "sacct-sample.txt", SAMPLE.read_bytes())

    page = text(client.get(response["Location"]))
    assert '<dd class="col-sm-8" id="unknown-count"> 2 </dd>' in page
    assert (
        '<tbody> <tr> <th scope="row">aiss-0007</th> <td class="num">2</td> <td class="num">2</td> </tr> '
        '<tr> <th scope="row">aiss-0012</th> <td class="num">2</td> <td class="num">6</td> </tr> </tbody>'
    ) in page


def test_usage_upload_queued_until_commit_stored_under_media(client, officer):
    client.force_login(officer)

    response = upload(client, "sacct-sample.txt", SAMPLE.read_bytes())

    record = UsageImport.objects.get()
    files = stored_files()
    assert (record.status, record.sha256, counts()) == (UsageImportStatus.QUEUED, "", (0, 0))
    assert [re.fullmatch(r"[0-9a-f]{32}\.txt", path.name) is not None for path in files] == [True]
    assert record.upload.name == f"usage-imports/{files[0].name}"
    assert files[0].read_bytes() == SAMPLE.read_bytes()
    page = text(client.get(response["Location"]))
    status_url = reverse("allocations:usage_import_status", args=[record.pk])
    assert f'data-status-url="{status_url}"' in page
    assert '<p aria-live="polite" id="usage-import-state"> Queued: waiting for a worker. </p>' in page
    assert f'<a href="{response["Location"]}">Refresh</a>' in page
    assert '<script src="/static/allocations/usage_import_status.js" defer></script>' in page
    assert status_json(client, record) == {
        "status": "queued",
        "status_display": "Queued",
        "finished": False,
        "lines_read": 0,
        "jobs_created": 0,
        "jobs_updated": 0,
        "jobs_pending": 0,
        "unknown_accounts": [],
        "error": "",
    }


def test_usage_upload_bad_file_refused_with_line_nothing_imported(
    client, officer, known_accounts, django_capture_on_commit_callbacks
):
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "bad.txt", (HEADER + GOOD_LINE + BAD_LINE).encode())

    record = UsageImport.objects.get()
    assert (record.status, record.error, record.lines_read, record.upload.name) == (
        UsageImportStatus.REJECTED,
        "line 3: ElapsedRaw 'abc' is not a whole number of seconds",
        3,
        "",
    )
    assert (counts(), stored_files()) == ((0, 0), [])
    page = text(client.get(response["Location"]))
    assert (
        '<p id="refusal"> The file was refused and nothing was imported: '
        "line 3: ElapsedRaw &#x27;abc&#x27; is not a whole number of seconds. </p>"
    ) in page
    assert status_json(client, record)["error"] == "line 3: ElapsedRaw 'abc' is not a whole number of seconds"


def test_usage_import_task_twice_imports_once(client, officer, known_accounts, django_capture_on_commit_callbacks):
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=False):
        upload(client, "sacct-sample.txt", SAMPLE.read_bytes())
    record = UsageImport.objects.get()

    first = usage_import_task.delay(record.pk).get()
    second = usage_import_task.delay(record.pk).get()

    record.refresh_from_db()
    assert (first, second) == ("completed", "completed")
    assert (record.jobs_created, record.jobs_updated, counts()) == (4, 0, (4, 3))
    assert AuditEvent.objects.filter(action="usage.import").count() == 1
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"


def test_usage_import_task_claimed_elsewhere_does_nothing(officer, known_accounts):
    record = UsageImport.objects.create(
        filename="sacct-sample.txt", status=UsageImportStatus.RUNNING, started_at=timezone.now(), actor=officer
    )

    assert usage_import_task.delay(record.pk).get() == "running"

    assert counts() == (0, 0)


def test_usage_import_task_reclaims_run_abandoned_past_time_limit(client, officer, known_accounts):
    client.force_login(officer)
    upload(client, "sacct-sample.txt", SAMPLE.read_bytes())
    record = UsageImport.objects.get()
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    UsageImport.objects.filter(pk=record.pk).update(status=UsageImportStatus.RUNNING, started_at=long_ago)

    assert usage_import_task.delay(record.pk).get() == "completed"

    assert (counts(), stored_files()) == ((4, 3), [])


def test_stuck_uploads_are_queued_again_by_the_periodic_task(client, officer, known_accounts, settings):
    from portal.allocations.tasks import usage_imports_requeue_stuck

    client.force_login(officer)
    for name in ("lost.txt", "abandoned.txt", "fresh.txt"):
        upload(client, name, SAMPLE.read_bytes())  # on_commit never runs here: as if each task were lost
    lost, abandoned, _fresh = UsageImport.objects.order_by("pk")
    now = timezone.now()
    waited = now - timedelta(minutes=settings.USAGE_IMPORT_REQUEUE_MINUTES, seconds=1)
    UsageImport.objects.filter(pk=lost.pk).update(created_at=waited)
    UsageImport.objects.filter(pk=abandoned.pk).update(
        created_at=waited,
        status=UsageImportStatus.RUNNING,
        started_at=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1),
    )

    assert usage_imports_requeue_stuck.apply().get() == [lost.pk, abandoned.pk]
    assert usage_imports_requeue_stuck.apply().get() == []

    statuses = dict(UsageImport.objects.values_list("filename", "status"))
    assert statuses == {
        "lost.txt": UsageImportStatus.COMPLETED,
        "abandoned.txt": UsageImportStatus.COMPLETED,
        "fresh.txt": UsageImportStatus.QUEUED,
    }
    assert AuditEvent.objects.filter(action="usage.import").count() == 2


def test_usage_import_task_stored_file_lost_marked_failed(client, officer):
    client.force_login(officer)
    upload(client, "sacct-sample.txt", SAMPLE.read_bytes())
    record = UsageImport.objects.get()
    stored_files()[0].unlink()

    with pytest.raises(FileNotFoundError):
        usage_import_task.delay(record.pk)

    record.refresh_from_db()
    assert (record.status, record.error, record.upload.name) == (UsageImportStatus.FAILED, "FileNotFoundError", "")
    assert AuditEvent.objects.filter(action="usage.import_failed").count() == 1
    page = text(client.get(reverse("allocations:usage_import", args=[record.pk])))
    assert "The import stopped because of a fault in the portal, and nothing was imported." in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "This is not a text file. Upload the output of sacct --parsable2 as it is, as plain text (UTF-8).",
        ),
        (
            HEADER.encode("utf-16"),
            "This is not a text file. Upload the output of sacct --parsable2 as it is, as plain text (UTF-8).",
        ),
        (
            (HEADER + "5001|Zoë").encode("latin-1"),
            "This is not a text file. Upload the output of sacct --parsable2 as it is, as plain text (UTF-8).",
        ),
    ],
)
def test_usage_upload_binary_refused_before_queueing(client, officer, content, message):
    client.force_login(officer)

    response = upload(client, "usage.xlsx", content)

    assert response.status_code == 422
    assert f'<div id="file-error" class="invalid-feedback d-block">{message}</div>' in text(response)
    assert (UsageImport.objects.count(), stored_files()) == (0, [])


def test_usage_upload_utf8_cut_at_sample_end_accepted(client, officer):
    client.force_login(officer)
    # "é" is two bytes; the 64 KiB sample ends between them.
    content = (HEADER + "x" * (64 * 1024 - len(HEADER) - 1) + "é\n").encode()

    response = upload(client, "long.txt", content)

    assert (response.status_code, UsageImport.objects.get().status) == (302, UsageImportStatus.QUEUED)


def test_usage_upload_over_size_limit_refused(client, officer, settings):
    settings.USAGE_UPLOAD_MAX_BYTES = 1024
    client.force_login(officer)

    response = upload(client, "sacct.txt", HEADER.encode() * 20)

    assert response.status_code == 422
    assert "The file is 1.4 KB; files up to 1.0 KB are accepted." in text(response)
    assert (UsageImport.objects.count(), stored_files()) == (0, [])


def test_usage_upload_page_states_limit_and_links_imports(client, officer):
    record = UsageImport.objects.create(filename="old.txt", status=UsageImportStatus.COMPLETED)
    client.force_login(officer)

    page = text(client.get(UPLOAD_URL))

    assert "Files up to 512.0 MB are accepted." in page
    assert f'<a href="{reverse("allocations:usage_import", args=[record.pk])}">old.txt</a>' in page


@pytest.mark.parametrize("role", [Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.AUDITOR, Role.APPLICANT])
def test_usage_upload_and_status_forbidden_to_others(client, role):
    record = UsageImport.objects.create(filename="sacct.txt", status=UsageImportStatus.QUEUED)
    client.force_login(UserFactory(role=role))

    responses = [
        client.get(UPLOAD_URL).status_code,
        upload(client, "sacct-sample.txt", SAMPLE.read_bytes()).status_code,
        client.get(reverse("allocations:usage_import", args=[record.pk])).status_code,
        client.get(reverse("allocations:usage_import_status", args=[record.pk])).status_code,
    ]

    assert responses == [403, 403, 403, 403]
    assert (UsageImport.objects.count(), stored_files()) == (1, [])


def test_usage_import_status_anonymous_sent_to_login(client):
    record = UsageImport.objects.create(filename="sacct.txt", status=UsageImportStatus.QUEUED)

    response = client.get(reverse("allocations:usage_import_status", args=[record.pk]))

    assert (response.status_code, response["Location"].split("?")[0]) == (302, reverse("accounts:login"))


def test_usage_import_unknown_id_not_found(client, officer):
    client.force_login(officer)

    responses = [
        client.get(reverse("allocations:usage_import", args=[999])).status_code,
        client.get(reverse("allocations:usage_import_status", args=[999])).status_code,
    ]

    assert responses == [404, 404]


@pytest.mark.django_db(transaction=True)
def test_usage_upload_imported_by_real_celery_worker(celery_worker, client):
    for code in ("aiss-0007", "aiss-0012"):
        ProposalFactory(state=ProposalState.APPROVED, account_code=code)
    client.force_login(UserFactory(role=Role.SECRETARIAT))

    response = upload(client, "sacct-sample.txt", SAMPLE.read_bytes())

    record = UsageImport.objects.get()
    deadline = time.monotonic() + 30
    while record.status in (UsageImportStatus.QUEUED, UsageImportStatus.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.2)
        record.refresh_from_db()
    assert (record.status, record.jobs_created, record.jobs_pending, stored_files()) == (
        UsageImportStatus.COMPLETED,
        4,
        1,
        [],
    )
    assert '<td class="num">640.0</td>' in text(client.get(response["Location"]))
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_uploads_and_status_page_follows_queued_import(page, live_server):
    for code in ("aiss-0007", "aiss-0012"):
        ProposalFactory(state=ProposalState.APPROVED, account_code=code)
    UserFactory(email="officer@aiss.example.hk", role=Role.SECRETARIAT, full_name="Mr Lau Chi Keung")
    log_in_with_form(page, "officer@aiss.example.hk")

    # Tasks run eagerly here: the upload is imported as soon as its transaction commits.
    page.goto(UPLOAD_URL)
    page.get_by_label("Slurm accounting export").set_input_files(str(SAMPLE))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("sacct-sample.txt is imported.")).to_be_visible()
    expect(page.get_by_role("row", name="aiss-0007 2026Q1 640.0")).to_be_visible()
    page.shot("imported")

    # A queued import: the page polls its status and shows the result once a worker has run it.
    record = UsageImport(filename="later.txt", status=UsageImportStatus.QUEUED)
    with SAMPLE.open("rb") as stream:
        record.upload.save("upload.txt", File(stream), save=True)
    page.goto(reverse("allocations:usage_import", args=[record.pk]))
    expect(page.get_by_text("Queued: waiting for a worker.")).to_be_visible()
    page.shot("queued")
    usage_import_task.delay(record.pk)
    expect(page.get_by_text("later.txt is imported.")).to_be_visible()
    expect(page.locator("#jobs-updated")).to_have_text("4")
    page.shot("queued-then-imported")
