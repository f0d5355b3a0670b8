"""Usage: importing Slurm ``sacct`` exports (services) and reading usage back (selectors). Domain brief §8.

Decisions:

- **All or nothing, streamed.** The file is written as it is read, :data:`BATCH_SIZE` jobs at a time, all in one
  transaction, so memory does not grow with the file (only counters, account codes and the JobIDs left pending
  are kept). A bad line rolls the transaction back: the attempt is recorded as a rejected :class:`UsageImport`
  with the reason, and no job or quarter row changes. The last allocation line for a JobID wins; a job that an
  earlier line of the same file started and a later line shows pending again is removed if this import created
  it (one stored before keeps the values of its started line).
- **Written in bulk.** Multi-row ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite; on PostgreSQL the rows go in by
  ``COPY`` (through a temporary table for the upsert), which halves the database's share of the time.
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
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
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
# UsageJob's columns as the import writes them; created_at is kept when a row is updated.
JOB_INSERT_FIELDS = (
    "job_id",
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
    "created_at",
)


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


def _insert(
    model,
    fields: tuple[str, ...],
    rows: list[tuple],
    *,
    upsert_on: str = "",
    keep: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> list[tuple]:
    """Insert ``rows`` (values already adapted for the database, in the order of ``fields``) in multi-row
    ``INSERT`` statements; with ``upsert_on``, a row whose value of that unique field is stored already updates
    that row instead, all but the ``keep`` fields (``ON CONFLICT ... DO UPDATE``, which SQLite and PostgreSQL
    both have). Returns the
    ``returning`` columns of every row. Plain SQL rather than ``bulk_create``, whose per-value work cost more
    than the database's own."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _copy_insert(model, fields, rows, upsert_on=upsert_on, keep=keep, returning=returning)
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in fields]
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(column) for column in columns)}) VALUES "  # noqa: S608 - names from the model, values bound
    if upsert_on:
        key = meta.get_field(upsert_on).column
        kept = {key, *(meta.get_field(name).column for name in keep)}
        sql_tail = f" ON CONFLICT ({quote(key)}) DO UPDATE SET " + ", ".join(
            f"{quote(column)} = EXCLUDED.{quote(column)}" for column in columns if column not in kept
        )
    else:
        sql_tail = ""
    if returning:
        sql_tail += " RETURNING " + ", ".join(quote(meta.get_field(name).column) for name in returning)
    per_statement = max(1, (connection.features.max_query_params or 30000) // len(columns))
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    returned: list[tuple] = []
    with connection.cursor() as cursor:
        for begin in range(0, len(rows), per_statement):
            chunk = rows[begin : begin + per_statement]
            cursor.execute(
                sql + ", ".join([placeholder] * len(chunk)) + sql_tail,
                [value for row in chunk for value in row],
            )
            if returning:
                returned.extend(cursor.fetchall())
    return returned


def _copy_text(value) -> str:
    """One value in PostgreSQL's ``COPY ... FROM STDIN`` text format."""
    if value is None:
        return "\\N"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_insert(
    model,
    fields: tuple[str, ...],
    rows: list[tuple],
    *,
    upsert_on: str,
    keep: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple]:
    """:func:`_insert` on PostgreSQL: ``COPY`` the rows in (its text format, no statement to parse with tens of
    thousands of parameters), straight into the table, or, for an upsert, into a temporary table of the same
    columns (dropped at commit) and from there with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``. Same
    constraints, same result, about half the database's time (issue 14)."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    data = io.StringIO("".join("\t".join(_copy_text(value) for value in row) + "\n" for row in rows))
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if not upsert_on and not returning:
            cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", data)
            return []
        stage = quote(f"stage_{meta.db_table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608 - names from the model
        )
        cursor.execute(f"TRUNCATE {stage}")
        cursor.cursor.copy_expert(f"COPY {stage} ({columns}) FROM STDIN", data)
        sql = f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}"  # noqa: S608 - names from the model
        if upsert_on:
            key = meta.get_field(upsert_on).column
            kept = {key, *(meta.get_field(name).column for name in keep)}
            sql += f" ON CONFLICT ({quote(key)}) DO UPDATE SET " + ", ".join(
                f"{quote(meta.get_field(name).column)} = EXCLUDED.{quote(meta.get_field(name).column)}"
                for name in fields
                if meta.get_field(name).column not in kept
            )
        if returning:
            sql += " RETURNING " + ", ".join(quote(meta.get_field(name).column) for name in returning)
        cursor.execute(sql)
        return cursor.fetchall() if returning else []


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
    of the file), and written as it is read, :data:`BATCH_SIZE` jobs at a time, all in one transaction: memory
    stays the same whatever the file's length. Raises :class:`~portal.allocations.sacct.SacctError` (line number
    and reason) for a bad file, after rolling back everything written from it and recording the rejection.
    """
    reader = _Reader(stream)
    try:
        return _usage_write(reader=reader, filename=filename, actor=actor, record=record)
    except SacctError as error:
        reader.drain()
        if record is not None:
            record.refresh_from_db()  # forget what the rolled-back writes set on it
        usage_import_reject(
            filename=filename,
            sha256=reader.digest.hexdigest(),
            lines_read=reader.lines,
            error=error,
            actor=actor,
            record=record,
        )
        raise


class _Writer:
    """Writes the jobs of one import batch by batch, keeping only what does not grow with the file: counters, the
    account codes seen, the first line of each unknown account, and the JobIDs whose last line so far is pending.

    What an earlier batch of the same file wrote is recognised in the database: its rows have ``imported_in`` this
    import, and ``created_at`` this import's time when the import created them.
    """

    def __init__(self, record: UsageImport) -> None:
        self.record = record
        self.now = timezone.now()
        self.created = self.updated = 0
        self.pending: set[str] = set()
        self.proposal_ids: dict[str, int | None] = {}
        self.first_lines: dict[str, int] = {}

    def _proposal_id(self, accounts: set[str]) -> None:
        new = accounts - self.proposal_ids.keys()
        if new:
            self.proposal_ids.update(dict.fromkeys(new))
            self.proposal_ids.update(
                Proposal.objects.filter(account_code__in=new).values_list("account_code", "pk").order_by()
            )

    def write(self, batch: dict[str, SacctJob | None]) -> None:
        """Write one batch: JobID -> its last job in the batch, or None when that line is pending."""
        existing = {
            job_id: (pk, imported_in, created_at)
            for job_id, pk, imported_in, created_at in UsageJob.objects.filter(job_id__in=list(batch))
            .values_list("job_id", "pk", "imported_in_id", "created_at")
            .order_by()
        }
        started: list[SacctJob] = []
        dropped: list[int] = []
        for job_id, job in batch.items():
            row = existing.get(job_id)
            ours = row is not None and row[1] == self.record.pk  # written from an earlier line of this file
            if job is None:
                self.pending.add(job_id)
                if ours and row[2] == self.now:  # created by this import: pending now, so not stored
                    dropped.append(row[0])
                    self.created -= 1
                elif ours:  # stored before this import, and updated from an earlier line: its values stay
                    self.updated -= 1
                continue
            self.pending.discard(job_id)
            started.append(job)
            if row is None:
                self.created += 1
            elif not ours:
                self.updated += 1
        if dropped:
            UsageJob.objects.filter(pk__in=dropped).delete()  # with its quarters
        if not started:
            return

        self._proposal_id({job.account for job in started})
        adapt = connection.ops.adapt_datetimefield_value
        now = adapt(self.now)
        rows = []
        for job in started:
            proposal_id = self.proposal_ids[job.account]
            if proposal_id is None and job.line_number < self.first_lines.get(job.account, job.line_number + 1):
                self.first_lines[job.account] = job.line_number
            rows.append(
                (
                    job.job_id,
                    job.account,
                    job.user,
                    job.partition,
                    job.gpus,
                    job.elapsed_seconds,
                    adapt(job.start),
                    adapt(job.end),
                    job.state,
                    job.gpu_seconds,
                    job.gpu_hours,
                    proposal_id,
                    self.record.pk,
                    now,
                    now,
                )
            )
        pks = dict(
            _insert(
                UsageJob, JOB_INSERT_FIELDS, rows, upsert_on="job_id", keep=("created_at",), returning=("job_id", "id")
            )
        )
        replaced = [existing[job.job_id][0] for job in started if job.job_id in existing]
        if replaced:
            UsageQuarter.objects.filter(job_id__in=replaced).delete()
        _insert(
            UsageQuarter,
            ("job", "quarter", "gpu_seconds", "gpu_hours"),
            [
                (pks[job.job_id], quarter, job.gpus * seconds, gpu_hours(job.gpus * seconds))
                for job in started
                if job.gpus
                for quarter, seconds in job.quarters
                if seconds
            ],
        )

    def unknown_accounts(self) -> list[dict[str, Any]]:
        """Accounts of this import's jobs that no proposal has: the number of jobs and the first line."""
        counts = (
            UsageJob.objects.filter(imported_in=self.record, proposal__isnull=True)
            .values_list("account")
            .annotate(jobs=Count("pk"))
            .order_by("account")
        )
        return [
            {"account": account, "jobs": jobs, "first_line": self.first_lines.get(account, 0)}
            for account, jobs in counts
        ]


@transaction.atomic
def _usage_write(*, reader: "_Reader", filename: str, actor, record: UsageImport | None) -> UsageImport:
    record = record or UsageImport(actor=actor if getattr(actor, "pk", None) else None, filename=filename[:255])
    if record.pk is None:
        record.status = UsageImportStatus.RUNNING
        record.save()  # for the jobs to point at; rolled back with them if a line is bad
    writer = _Writer(record)
    batch: dict[str, SacctJob | None] = {}
    for job in sacct_jobs(reader):
        _check_lengths(job)
        batch.pop(job.job_id, None)
        batch[job.job_id] = None if job.is_pending else job
        if len(batch) >= BATCH_SIZE:
            writer.write(batch)
            batch = {}
    if batch:
        writer.write(batch)

    record.sha256 = reader.digest.hexdigest()
    record.status = UsageImportStatus.COMPLETED
    record.lines_read = reader.lines
    record.jobs_pending = len(writer.pending)
    record.jobs_created = writer.created
    record.jobs_updated = writer.updated
    record.unknown_accounts = writer.unknown_accounts()
    record.finished_at = timezone.now()
    record.full_clean()
    record.save()
    audit_record(
        actor=actor,
        action="usage.import",
        obj=record,
        after={
            "filename": record.filename,
            "sha256": record.sha256,
            "lines_read": record.lines_read,
            "jobs_created": record.jobs_created,
            "jobs_updated": record.jobs_updated,
            "jobs_pending": record.jobs_pending,
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
