"""Usage: importing Slurm ``sacct`` exports (services) and reading usage back (selectors). Domain brief §8.

Decisions:

- **All or nothing.** The file is parsed to the end first, keeping only one small record per JobID in memory
  (the last allocation line for a JobID wins); only then is anything written, in one transaction, in batches of
  :data:`BATCH_SIZE`. A bad line refuses the whole file: the attempt is recorded as a rejected
  :class:`UsageImport` with the reason, and no job or quarter row changes.
- **Upsert by JobID.** Importing the same file twice, or a later export that includes a job seen before, updates
  the job and replaces its quarter rows, so totals never double.
- **Unknown accounts are kept.** A job whose account no proposal has is stored with ``proposal=None`` and counted
  in totals by account; its account is listed in ``UsageImport.unknown_accounts`` (with the number of jobs and
  the first line) and returned. :func:`usage_jobs_link` attaches such jobs once a proposal receives the code.
- **Pending jobs are not stored**: they have used nothing yet; the import counts them (``jobs_pending``). A
  later export in which the job has started creates it.
- **Exact totals.** Totals are summed from whole GPU-seconds; hours are derived at the end.
- **Uploads are queued.** A file uploaded through the portal may be hundreds of megabytes, too long to import
  within a request: :func:`usage_import_queue` checks that it is text and within the size limit
  (``settings.USAGE_UPLOAD_MAX_BYTES``, 512 MB by default), stores it under ``MEDIA_ROOT`` with a generated name,
  records a *queued* :class:`UsageImport` and hands its id to the worker after commit. :func:`usage_import_run`
  (the worker's side) claims the record by a conditional update from *queued* to *running*, so a redelivered task
  does nothing, imports the file into that same record and deletes the stored file.
"""

import codecs
import hashlib
import io
from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.services import audit_record
from portal.proposals.models import Proposal

from .models import UsageImport, UsageImportStatus, UsageJob, UsageQuarter
from .sacct import SacctError, SacctJob, gpu_hours, sacct_jobs

BATCH_SIZE = 2000
UPLOAD_MAX_BYTES = 512 * 1024 * 1024  # unless settings.USAGE_UPLOAD_MAX_BYTES says otherwise
SNIFF_BYTES = 64 * 1024  # how much of an upload is read to tell text from binary before it is queued
TRANSIENT = (OperationalError, InterfaceError)
FIELD_MAX_LENGTH = 64  # UsageJob's text columns
JOB_UPDATE_FIELDS = [
    "account",
    "user",
    "partition",
    "gpus",
    "elapsed_seconds",
    "start",
    "end",
    "state",
    "gpu_seconds",
    "gpu_hours",
    "proposal",
    "imported_in",
    "updated_at",
]


class _Reader:
    """Lines of a text or binary stream, as text; counts them and hashes the bytes on the way through."""

    def __init__(self, stream: Iterable[str] | Iterable[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.lines = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.lines += 1
            if isinstance(raw, bytes):
                self.digest.update(raw)
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise SacctError(self.lines, "not valid UTF-8 text") from None
            else:
                self.digest.update(raw.encode("utf-8"))
                yield raw

    def drain(self) -> None:
        """Read the rest of the stream, so that the hash and line count cover the whole file."""
        for raw in self.stream:
            self.lines += 1
            self.digest.update(raw if isinstance(raw, bytes) else raw.encode("utf-8"))


def _check_lengths(job: SacctJob) -> None:
    for name, value in (
        ("JobID", job.job_id),
        ("Account", job.account),
        ("User", job.user),
        ("Partition", job.partition),
        ("State", job.state),
    ):
        if len(value) > FIELD_MAX_LENGTH:
            raise SacctError(job.line_number, f"{name} is longer than {FIELD_MAX_LENGTH} characters")


def _chunks(items: list, size: int) -> Iterator[list]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


@transaction.atomic
def usage_import_reject(
    *, filename: str, sha256: str, lines_read: int, error: SacctError, actor, record: UsageImport | None = None
) -> UsageImport:
    """Record a refused file and why (in ``record``, a queued upload's, or a new record); nothing else is
    written."""
    record = record or UsageImport(actor=actor if getattr(actor, "pk", None) else None, filename=filename[:255])
    record.sha256 = sha256
    record.status = UsageImportStatus.REJECTED
    record.error = str(error)
    record.lines_read = lines_read
    record.finished_at = timezone.now()
    record.full_clean()
    record.save()
    audit_record(actor=actor, action="usage.import_rejected", obj=record, reason=str(error))
    return record


def usage_import(
    *, stream: IO[str] | IO[bytes] | Iterable[str], filename: str, actor, record: UsageImport | None = None
) -> UsageImport:
    """Import one ``sacct --parsable2`` export and return its :class:`UsageImport` record: ``record`` (a queued
    upload's, see :func:`usage_import_run`) or a new one.

    ``stream`` is read once, line by line (a file opened in text or binary mode; binary gives the exact SHA-256
    of the file). Raises :class:`~portal.allocations.sacct.SacctError` (line number and reason) for a bad file,
    after recording the rejection; nothing from the file is imported then.

    Parsing runs outside any transaction, so a long file does not hold one open; the writes then happen in one
    transaction (:func:`_usage_write`).
    """
    reader = _Reader(stream)
    jobs: dict[str, SacctJob] = {}
    pending: set[str] = set()
    try:
        for job in sacct_jobs(reader):
            _check_lengths(job)
            if job.is_pending:
                pending.add(job.job_id)
                jobs.pop(job.job_id, None)
            else:
                pending.discard(job.job_id)
                jobs[job.job_id] = job
    except SacctError as error:
        reader.drain()
        usage_import_reject(
            filename=filename,
            sha256=reader.digest.hexdigest(),
            lines_read=reader.lines,
            error=error,
            actor=actor,
            record=record,
        )
        raise
    return _usage_write(
        jobs=jobs,
        jobs_pending=len(pending),
        filename=filename,
        sha256=reader.digest.hexdigest(),
        lines_read=reader.lines,
        actor=actor,
        record=record,
    )


@transaction.atomic
def _usage_write(
    *,
    jobs: dict[str, SacctJob],
    jobs_pending: int,
    filename: str,
    sha256: str,
    lines_read: int,
    actor,
    record: UsageImport | None,
) -> UsageImport:
    record = record or UsageImport(actor=actor if getattr(actor, "pk", None) else None, filename=filename[:255])
    record.sha256 = sha256
    record.status = UsageImportStatus.COMPLETED
    record.lines_read = lines_read
    record.jobs_pending = jobs_pending
    record.finished_at = timezone.now()
    record.full_clean()
    record.save()

    accounts = {job.account for job in jobs.values()}
    proposal_ids = dict(Proposal.objects.filter(account_code__in=accounts).values_list("account_code", "pk").order_by())
    unknown: dict[str, dict[str, Any]] = {}
    created = updated = 0
    now = timezone.now()
    for batch in _chunks(list(jobs.values()), BATCH_SIZE):
        job_ids = [job.job_id for job in batch]
        existing = set(UsageJob.objects.filter(job_id__in=job_ids).values_list("job_id", flat=True).order_by())
        rows = []
        for job in batch:
            proposal_id = proposal_ids.get(job.account)
            if proposal_id is None:
                entry = unknown.setdefault(
                    job.account, {"account": job.account, "jobs": 0, "first_line": job.line_number}
                )
                entry["jobs"] += 1
                entry["first_line"] = min(entry["first_line"], job.line_number)
            rows.append(
                UsageJob(
                    job_id=job.job_id,
                    account=job.account,
                    user=job.user,
                    partition=job.partition,
                    gpus=job.gpus,
                    elapsed_seconds=job.elapsed_seconds,
                    start=job.start,
                    end=job.end,
                    state=job.state,
                    gpu_seconds=job.gpu_seconds,
                    gpu_hours=job.gpu_hours,
                    proposal_id=proposal_id,
                    imported_in=record,
                    created_at=now,
                    updated_at=now,
                )
            )
        UsageJob.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["job_id"], update_fields=JOB_UPDATE_FIELDS
        )
        created += len(batch) - len(existing)
        updated += len(existing)

        pks = dict(UsageJob.objects.filter(job_id__in=job_ids).values_list("job_id", "pk").order_by())
        if existing:
            UsageQuarter.objects.filter(job_id__in=[pks[job_id] for job_id in existing]).delete()
        UsageQuarter.objects.bulk_create(
            UsageQuarter(
                job_id=pks[job.job_id],
                quarter=quarter,
                gpu_seconds=job.gpus * seconds,
                gpu_hours=gpu_hours(job.gpus * seconds),
            )
            for job in batch
            if job.gpus
            for quarter, seconds in job.quarters
            if seconds
        )

    record.jobs_created = created
    record.jobs_updated = updated
    record.unknown_accounts = sorted(unknown.values(), key=lambda entry: entry["account"])
    record.save(update_fields=["jobs_created", "jobs_updated", "unknown_accounts"])
    audit_record(
        actor=actor,
        action="usage.import",
        obj=record,
        after={
            "filename": record.filename,
            "sha256": record.sha256,
            "lines_read": record.lines_read,
            "jobs_created": created,
            "jobs_updated": updated,
            "jobs_pending": jobs_pending,
            "unknown_accounts": [entry["account"] for entry in record.unknown_accounts],
        },
    )
    return record


@transaction.atomic
def usage_jobs_link(*, actor=None) -> int:
    """Attach unlinked jobs to the proposal that now has their account code; return how many were linked."""
    linked = 0
    codes = UsageJob.objects.filter(proposal__isnull=True).values_list("account", flat=True).distinct().order_by()
    for code, proposal_id in Proposal.objects.filter(account_code__in=list(codes)).values_list("account_code", "pk"):
        linked += UsageJob.objects.filter(proposal__isnull=True, account=code).update(proposal_id=proposal_id)
    if linked:
        audit_record(actor=actor, action="usage.link", after={"jobs_linked": linked})
    return linked


# ---- Uploads through the portal: queued, then imported by a worker ----------------------------------------------


def usage_upload_max_bytes() -> int:
    """The largest upload accepted, in bytes: ``settings.USAGE_UPLOAD_MAX_BYTES``, 512 MB by default."""
    return getattr(settings, "USAGE_UPLOAD_MAX_BYTES", UPLOAD_MAX_BYTES)


def usage_upload_check(upload: File) -> None:
    """Refuse an upload that is empty, over the size limit, or not text, before anything is stored or queued.

    Only the first :data:`SNIFF_BYTES` are read here: a NUL byte or bytes that are not UTF-8 mean a binary file
    (a spreadsheet, an archive, UTF-16 text). The worker still reads every line, and refuses the whole file at
    the first bad one, naming it.
    """
    limit = usage_upload_max_bytes()
    if not upload.size:
        raise ValidationError(_("The file is empty."), code="empty")
    if upload.size > limit:
        raise ValidationError(
            _("The file is %(size)s; files up to %(limit)s are accepted."),
            code="too_large",
            params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
        )
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    try:
        # Unless the sample is the whole file, a character cut in two at its end is not an error.
        whole = len(head) >= upload.size
        binary = "\x00" in codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        binary = True
    if binary:
        raise ValidationError(
            _("This is not a text file. Upload the output of sacct --parsable2 as it is, as plain text (UTF-8)."),
            code="binary",
        )


@transaction.atomic
def usage_import_queue(*, upload: File, actor) -> UsageImport:
    """Check an uploaded sacct export, store it under ``MEDIA_ROOT`` with a generated name and record a queued
    import; after commit, :func:`~portal.allocations.tasks.usage_import_task` imports it. Raises
    ``ValidationError`` for a file refused by :func:`usage_upload_check` (nothing is stored then)."""
    from .tasks import usage_import_task  # tasks sit above services

    usage_upload_check(upload)
    record = UsageImport(
        actor=actor if getattr(actor, "pk", None) else None,
        filename=PurePath(upload.name or "").name[:255] or "upload.txt",
        status=UsageImportStatus.QUEUED,
    )
    record.upload.save("upload.txt", upload, save=False)
    try:
        record.full_clean()
        record.save()
        audit_record(
            actor=actor,
            action="usage.import_queued",
            obj=record,
            after={"filename": record.filename, "size": upload.size},
        )
    except BaseException:
        record.upload.delete(save=False)
        raise
    transaction.on_commit(lambda: usage_import_task.delay(record.pk))
    return record


def _stale_before(now) -> Any:
    """A record *running* since before this was left by a worker that died: ``CELERY_TASK_TIME_LIMIT`` has passed
    since it started, so that worker cannot still be at it."""
    return now - timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 3600)


def usage_imports_requeue(*, now=None) -> list[int]:
    """Queue the import task again for every upload stuck in the queue (its task lost, or its retries spent) for
    ``settings.USAGE_IMPORT_REQUEUE_MINUTES``, and every one left *running* by a worker that died; return their
    ids. Run by Celery beat. Safe to run twice, or while the first task is still waiting: :func:`usage_import_run`
    claims the record first, so only one task imports it."""
    from .tasks import usage_import_task  # tasks sit above services

    now = now or timezone.now()
    waited = now - timedelta(minutes=settings.USAGE_IMPORT_REQUEUE_MINUTES)
    stuck = list(
        UsageImport.objects.filter(
            Q(status=UsageImportStatus.QUEUED, created_at__lte=waited)
            | Q(status=UsageImportStatus.RUNNING, started_at__lt=_stale_before(now))
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in stuck:
        usage_import_task.delay(pk)
    return stuck


def _stored_file_delete(record: UsageImport) -> None:
    if record.upload:
        record.upload.delete(save=False)
        UsageImport.objects.filter(pk=record.pk).update(upload="")


def _lines(handle: File) -> Iterable[bytes]:
    # A file on local disk is read directly (lines end at "\n" only, as ``manage.py import_usage`` reads them);
    # other storages through Django's File.
    raw = getattr(handle, "file", None)
    return raw if isinstance(raw, io.IOBase) else handle


def usage_import_run(*, import_id: int) -> UsageImport:
    """Import a queued upload into its own record and delete the stored file; return the record.

    Safe to run twice: the record is claimed by a conditional update from *queued* to *running*, so a redelivered
    task finds it claimed (or finished) and does nothing. A record left *running* by a worker that died is claimed
    again only once ``CELERY_TASK_TIME_LIMIT`` has passed since it started, when that worker cannot still be at it
    (its writes are one transaction, so it wrote nothing). A bad file is recorded as *rejected* with the line and
    the reason; a database error puts the record back in the queue and is raised, for the task to retry; any other
    error marks it *failed* and is raised.
    """
    now = timezone.now()
    claimed = (
        UsageImport.objects.filter(pk=import_id)
        .filter(
            Q(status=UsageImportStatus.QUEUED) | Q(status=UsageImportStatus.RUNNING, started_at__lt=_stale_before(now))
        )
        .update(status=UsageImportStatus.RUNNING, started_at=now)
    )
    record = UsageImport.objects.select_related("actor").get(pk=import_id)
    if not claimed:
        if record.status in (UsageImportStatus.COMPLETED, UsageImportStatus.REJECTED, UsageImportStatus.FAILED):
            _stored_file_delete(record)  # left behind if the worker stopped right after the import
        return record
    try:
        with record.upload.storage.open(record.upload.name, "rb") as handle:
            usage_import(stream=_lines(handle), filename=record.filename, actor=record.actor, record=record)
    except SacctError:
        pass  # recorded as rejected by usage_import
    except TRANSIENT:
        UsageImport.objects.filter(pk=import_id, status=UsageImportStatus.RUNNING).update(
            status=UsageImportStatus.QUEUED, started_at=None
        )
        raise
    except Exception as error:
        UsageImport.objects.filter(pk=import_id).update(
            status=UsageImportStatus.FAILED, error=type(error).__name__, finished_at=timezone.now()
        )
        audit_record(actor=record.actor, action="usage.import_failed", obj=record, reason=type(error).__name__)
        _stored_file_delete(record)
        raise
    _stored_file_delete(record)
    record.refresh_from_db()
    return record


# ---- Selectors ---------------------------------------------------------------------------------------------------


def usage_by_account_quarter() -> QuerySet:
    """Rows ``{"account", "quarter", "gpu_seconds"}``: usage summed per account and quarter, sorted by account then
    quarter. Only quarters with GPU usage have rows."""
    return (
        UsageQuarter.objects.values("quarter", account=F("job__account"))
        .annotate(gpu_seconds=Sum("gpu_seconds"))
        .order_by("account", "quarter")
    )


def usage_by_proposal_quarter() -> QuerySet:
    """Rows ``{"proposal", "quarter", "gpu_seconds"}`` for jobs linked to a proposal (for awards and claw-back),
    sorted by proposal then quarter."""
    return (
        UsageQuarter.objects.filter(job__proposal__isnull=False)
        .values("quarter", proposal=F("job__proposal"))
        .annotate(gpu_seconds=Sum("gpu_seconds"))
        .order_by("proposal", "quarter")
    )


def usage_hours_display(gpu_seconds: int) -> str:
    """GPU-seconds as GPU-hours with one decimal place, rounded half up from the exact value: ``640.0``."""
    return str((Decimal(gpu_seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def usage_imports() -> QuerySet:
    """Import records, newest first, with who ran them."""
    return UsageImport.objects.select_related("actor").order_by("-created_at", "-pk")


def usage_import_get(*, pk: int) -> UsageImport:
    """One import record with who ran it; ``UsageImport.DoesNotExist`` if there is none."""
    return usage_imports().get(pk=pk)


def usage_import_totals(*, record: UsageImport) -> list[dict[str, Any]]:
    """GPU-hours used to date (all imports) per account and quarter, for the accounts whose jobs ``record`` wrote:
    rows ``{"account", "quarter", "gpu_seconds", "gpu_hours"}`` (hours as :func:`usage_hours_display` gives them),
    sorted by account then quarter: the figures ``manage.py usage_summary`` prints for those accounts."""
    accounts = UsageJob.objects.filter(imported_in=record).values("account")
    return [
        {**row, "gpu_hours": usage_hours_display(row["gpu_seconds"])}
        for row in usage_by_account_quarter().filter(job__account__in=accounts)
    ]
