import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.allocations.models import UsageImport, UsageImportStatus, UsageJob, UsageQuarter
from portal.allocations.sacct import SacctError
from portal.allocations.tasks import usage_import_file
from portal.allocations.usage import (
    usage_by_account_quarter,
    usage_by_proposal_quarter,
    usage_import,
    usage_jobs_link,
)
from portal.audit.models import AuditEvent
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import ProposalFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# The Slurm sample kept with the tests (tests/data).
SAMPLE = Path(settings.BASE_DIR) / "tests" / "data" / "sacct-sample.txt"
HEADER = "JobID|JobName|Account|User|Partition|AllocTRES|ElapsedRaw|Start|End|State\n"


def sacct(*lines: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(f"{line}\n" for line in lines))


def job_line(
    job_id, *, account="aiss-0007", gpus=8, elapsed=3600, start="2026-01-05T08:00:00", end=None, state="COMPLETED"
):
    return (
        f"{job_id}|name|{account}|kwong|h800|cpu=8,gres/gpu={gpus},node=1|{elapsed}|{start}|{end or 'Unknown'}|{state}"
    )


@pytest.fixture
def officer() -> User:
    return UserFactory(role=Role.SECRETARIAT)


def approved_proposal(account_code: str) -> Proposal:
    return ProposalFactory(state=ProposalState.APPROVED, account_code=account_code)


@pytest.fixture
def known_accounts() -> dict[str, Proposal]:
    return {code: approved_proposal(code) for code in ("aiss-0007", "aiss-0012")}


def summary() -> str:
    out = io.StringIO()
    call_command("usage_summary", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int]:
    return UsageJob.objects.count(), UsageQuarter.objects.count()


def test_import_usage_sample_summary_exact(known_accounts):
    out = io.StringIO()

    call_command("import_usage", str(SAMPLE), stdout=out)

    assert out.getvalue() == (
        "sacct-sample.txt: 4 jobs created, 0 updated, 1 pending skipped; unknown accounts: none.\n"
    )
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"


def test_import_usage_sample_record_exact(known_accounts, officer):
    with SAMPLE.open("rb") as stream:
        record = usage_import(stream=stream, filename="sacct-sample.txt", actor=officer)

    assert (
        record.status,
        record.actor,
        record.filename,
        record.sha256,
        record.lines_read,
        record.jobs_created,
        record.jobs_updated,
        record.jobs_pending,
        record.unknown_accounts,
    ) == (
        UsageImportStatus.COMPLETED,
        officer,
        "sacct-sample.txt",
        hashlib.sha256(SAMPLE.read_bytes()).hexdigest(),
        10,
        4,
        0,
        1,
        [],
    )
    job = UsageJob.objects.get(job_id="4101")
    assert (job.proposal, job.gpus, job.gpu_hours, job.start, job.end, job.imported_in) == (
        known_accounts["aiss-0007"],
        64,
        Decimal("640.000000"),
        datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        record,
    )
    event = AuditEvent.objects.get(action="usage.import")
    assert (event.actor, event.object_id, event.after["jobs_created"]) == (officer, str(record.pk), 4)


def test_import_usage_sample_twice_same_totals(known_accounts):
    call_command("import_usage", str(SAMPLE), stdout=io.StringIO())
    out = io.StringIO()

    call_command("import_usage", str(SAMPLE), stdout=out)

    assert out.getvalue() == (
        "sacct-sample.txt: 0 jobs created, 4 updated, 1 pending skipped; unknown accounts: none.\n"
    )
    assert counts() == (4, 3)
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"


def test_usage_import_running_job_grown_updated(known_accounts):
    first = usage_import(
        stream=sacct(job_line("5000", elapsed=3600, start="2026-02-01T10:00:00", state="RUNNING")),
        filename="day1.txt",
        actor=None,
    )

    second = usage_import(
        stream=sacct(
            job_line("5000", elapsed=7200, start="2026-02-01T10:00:00", end="2026-02-01T12:00:00"),
            job_line("5001", elapsed=360),
        ),
        filename="day2.txt",
        actor=None,
    )

    job = UsageJob.objects.get(job_id="5000")
    assert (first.jobs_created, second.jobs_created, second.jobs_updated) == (1, 1, 1)
    assert (job.state, job.elapsed_seconds, job.gpu_hours, job.end, job.imported_in) == (
        "COMPLETED",
        7200,
        Decimal("16.000000"),
        datetime(2026, 2, 1, 4, 0, tzinfo=UTC),
        second,
    )
    assert list(job.quarters.values_list("quarter", "gpu_hours")) == [("2026Q1", Decimal("16.000000"))]
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,16.8\n"


def test_usage_import_job_crossing_quarter_split_exactly(known_accounts):
    # 8 GPUs from 2026-03-31 22:00 to 2026-04-01 01:00 HKT: 2 hours in 2026Q1, 1 hour in 2026Q2.
    usage_import(
        stream=sacct(job_line("6000", elapsed=10800, start="2026-03-31T22:00:00", end="2026-04-01T01:00:00")),
        filename="boundary.txt",
        actor=None,
    )

    job = UsageJob.objects.get(job_id="6000")
    assert list(job.quarters.values_list("quarter", "gpu_seconds", "gpu_hours")) == [
        ("2026Q1", 8 * 7200, Decimal("16.000000")),
        ("2026Q2", 8 * 3600, Decimal("8.000000")),
    ]
    assert job.gpu_hours == Decimal("24.000000")
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,16.0\naiss-0007,2026Q2,8.0\n"
    assert list(usage_by_proposal_quarter()) == [
        {"proposal": known_accounts["aiss-0007"].pk, "quarter": "2026Q1", "gpu_seconds": 8 * 7200},
        {"proposal": known_accounts["aiss-0007"].pk, "quarter": "2026Q2", "gpu_seconds": 8 * 3600},
    ]


def test_usage_import_job_arrays_and_typed_gpus(known_accounts):
    usage_import(
        stream=sacct(
            job_line("4200_7", elapsed=3600),
            job_line("4200_7.batch", elapsed=3600),
            job_line("4200_8", elapsed=1800),
            "4201|t|aiss-0012|chan|h800|cpu=8,gres/gpu:h800=4,node=1|3600|2026-01-06T00:00:00|2026-01-06T01:00:00|COMPLETED",
            "4202|t|aiss-0012|chan|h800|cpu=8,gres/gpu=2,gres/gpu:h800=2,node=1|3600|2026-01-06T00:00:00|2026-01-06T01:00:00|COMPLETED",
        ),
        filename="arrays.txt",
        actor=None,
    )

    assert dict(UsageJob.objects.values_list("job_id", "gpus")) == {"4200_7": 8, "4200_8": 8, "4201": 4, "4202": 2}
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,12.0\naiss-0012,2026Q1,6.0\n"


def test_usage_import_unknown_accounts_reported_and_kept(known_accounts, tmp_path):
    out = io.StringIO()
    stream = sacct(
        job_line("7000"),
        job_line("7001", account="aiss-0099"),
        job_line("7001.batch", account="aiss-0099"),
        job_line("7002", account="aiss-0099", elapsed=1800),
        job_line("7003", account="physics"),
    )

    record = usage_import(stream=stream, filename="unknown.txt", actor=None)
    stream.seek(0)
    path = tmp_path / "unknown.txt"
    path.write_text(stream.getvalue())
    call_command("import_usage", str(path), stdout=out)

    assert record.unknown_accounts == [
        {"account": "aiss-0099", "jobs": 2, "first_line": 3},
        {"account": "physics", "jobs": 1, "first_line": 6},
    ]
    assert (
        out.getvalue()
        == "unknown.txt: 0 jobs created, 4 updated, 0 pending skipped; unknown accounts: aiss-0099, physics.\n"
    )
    assert list(UsageJob.objects.filter(proposal=None).values_list("job_id", flat=True).order_by("job_id")) == [
        "7001",
        "7002",
        "7003",
    ]
    assert summary() == ("account,quarter,gpu_hours\naiss-0007,2026Q1,8.0\naiss-0099,2026Q1,12.0\nphysics,2026Q1,8.0\n")


def test_usage_jobs_link_attaches_once_account_known(known_accounts, officer):
    usage_import(stream=sacct(job_line("7001", account="aiss-0099")), filename="u.txt", actor=None)
    proposal = approved_proposal("aiss-0099")

    linked = usage_jobs_link(actor=officer)

    assert (linked, UsageJob.objects.get(job_id="7001").proposal) == (1, proposal)


def test_usage_import_duplicate_job_id_last_line_wins(known_accounts):
    record = usage_import(
        stream=sacct(job_line("8000", elapsed=3600, state="RUNNING"), job_line("8000", elapsed=7200)),
        filename="dup.txt",
        actor=None,
    )

    assert (record.jobs_created, UsageJob.objects.get(job_id="8000").elapsed_seconds) == (1, 7200)


BAD_FILES = [
    pytest.param(
        "JobID|Account|AllocTRES|Elapsed|Start|End|State\n" + "4101|aiss-0007|gres/gpu=8|3600|x|y|COMPLETED\n",
        1,
        "header lacks ElapsedRaw: expected a sacct --parsable2 export with JobID, Account, AllocTRES, ElapsedRaw, "
        "Start, End, State",
        id="wrong-header",
    ),
    pytest.param(
        HEADER + job_line("4101", elapsed=7200) + "\n" + job_line("9001", elapsed="12h") + "\n",
        3,
        "ElapsedRaw '12h' is not a whole number of seconds",
        id="non-numeric",
    ),
    pytest.param(
        HEADER + job_line("4101", elapsed=7200) + "\n" + job_line("9001") + "\n" + job_line("9002")[:30],
        4,
        "truncated line (no newline at the end of the file; 5 of 10 fields)",
        id="truncated",
    ),
]


@pytest.mark.parametrize(("text", "line_number", "reason"), BAD_FILES)
def test_usage_import_bad_file_refused_whole(known_accounts, officer, text, line_number, reason):
    call_command("import_usage", str(SAMPLE), stdout=io.StringIO())
    before = counts()

    with pytest.raises(SacctError) as caught:
        usage_import(stream=io.BytesIO(text.encode()), filename="bad.txt", actor=officer)

    assert (caught.value.line_number, caught.value.reason) == (line_number, reason)
    assert counts() == before
    assert UsageJob.objects.get(job_id="4101").elapsed_seconds == 36000
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"
    rejected = UsageImport.objects.get(status=UsageImportStatus.REJECTED)
    assert (rejected.filename, rejected.error, rejected.jobs_created, rejected.sha256) == (
        "bad.txt",
        f"line {line_number}: {reason}",
        0,
        hashlib.sha256(text.encode()).hexdigest(),
    )
    assert AuditEvent.objects.filter(action="usage.import_rejected").count() == 1


def test_import_usage_command_bad_file_one_line_error(known_accounts, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(HEADER + job_line("1", elapsed="abc") + "\n")

    with pytest.raises(CommandError) as caught:
        call_command("import_usage", str(path), stdout=io.StringIO())

    assert str(caught.value) == (
        "bad.txt refused, nothing imported: line 2: ElapsedRaw 'abc' is not a whole number of seconds."
    )
    assert counts() == (0, 0)


def test_import_usage_command_missing_file(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("import_usage", str(tmp_path / "none.txt"), stdout=io.StringIO())

    assert str(caught.value) == f"Cannot read {tmp_path / 'none.txt'}: No such file or directory."


def test_usage_import_file_task_imports(known_accounts, officer):
    import_id = usage_import_file.delay(str(SAMPLE), officer.pk).get()

    record = UsageImport.objects.get(pk=import_id)
    assert (record.actor, record.jobs_created, record.filename) == (officer, 4, "sacct-sample.txt")
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,640.0\naiss-0012,2026Q1,17.5\n"


def test_usage_summary_rounds_half_up_one_decimal(known_accounts):
    # 1 GPU x 180 s = 0.05 h -> 0.1; 1 GPU x 170 s = 0.0472 h -> 0.0.
    usage_import(
        stream=sacct(
            job_line("1", gpus=1, elapsed=180),
            job_line("2", account="aiss-0012", gpus=1, elapsed=170),
            job_line("3", gpus=1, elapsed=60, start="2026-07-01T00:00:00"),
        ),
        filename="round.txt",
        actor=None,
    )

    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,0.1\naiss-0007,2026Q3,0.0\naiss-0012,2026Q1,0.0\n"
    assert list(usage_by_account_quarter()) == [
        {"account": "aiss-0007", "quarter": "2026Q1", "gpu_seconds": 180},
        {"account": "aiss-0007", "quarter": "2026Q3", "gpu_seconds": 60},
        {"account": "aiss-0012", "quarter": "2026Q1", "gpu_seconds": 170},
    ]


def test_usage_summary_empty_prints_header_only():
    assert summary() == "account,quarter,gpu_hours\n"


def test_usage_import_invalid_utf8_refused(known_accounts):
    data = (HEADER + job_line("1") + "\n").encode() + b"2|\xff|aiss-0007\n"

    with pytest.raises(SacctError) as caught:
        usage_import(stream=io.BytesIO(data), filename="latin1.txt", actor=None)

    assert (str(caught.value), counts()) == ("line 3: not valid UTF-8 text", (0, 0))


def test_import_usage_command_actor_recorded(known_accounts, officer):
    call_command("import_usage", str(SAMPLE), "--actor", officer.email, stdout=io.StringIO())

    assert UsageImport.objects.get().actor == officer


def test_usage_import_overlong_account_refused(known_accounts):
    with pytest.raises(SacctError) as caught:
        usage_import(stream=sacct(job_line("1"), job_line("2", account="a" * 65)), filename="long.txt", actor=None)

    assert (str(caught.value), counts()) == ("line 3: Account is longer than 64 characters", (0, 0))


def test_import_usage_command_unknown_actor():
    with pytest.raises(CommandError) as caught:
        call_command("import_usage", str(SAMPLE), "--actor", "nobody@example.hk", stdout=io.StringIO())

    assert (str(caught.value), UsageImport.objects.count()) == ("No user with the email address nobody@example.hk.", 0)


# ---- Streamed in batches: what one batch wrote, a later batch of the same file sees in the database ----------------


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr("portal.allocations.usage.BATCH_SIZE", 2)


def test_usage_import_batches_duplicate_across_batches_counted_once(known_accounts, small_batches):
    record = usage_import(
        stream=sacct(
            job_line("8000", elapsed=3600, state="RUNNING"),
            job_line("8001"),
            job_line("8002", account="aiss-0099"),
            job_line("8000", elapsed=7200),
            job_line("8003", account="aiss-0099"),
        ),
        filename="dup.txt",
        actor=None,
    )

    assert (record.jobs_created, record.jobs_updated, record.jobs_pending) == (4, 0, 0)
    assert UsageJob.objects.get(job_id="8000").elapsed_seconds == 7200
    assert list(UsageQuarter.objects.filter(job__job_id="8000").values_list("gpu_seconds", flat=True)) == [8 * 7200]
    assert record.unknown_accounts == [{"account": "aiss-0099", "jobs": 2, "first_line": 4}]
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,24.0\naiss-0099,2026Q1,16.0\n"


def test_usage_import_batches_started_then_pending_not_stored(known_accounts, small_batches):
    record = usage_import(
        stream=sacct(
            job_line("8100"),
            job_line("8101"),
            job_line("8102"),
            job_line("8100", start="Unknown", elapsed=0, state="PENDING"),
            job_line("8103", start="Unknown", elapsed=0, state="PENDING"),
            job_line("8104"),
            job_line("8103"),
        ),
        filename="requeued.txt",
        actor=None,
    )

    assert (record.jobs_created, record.jobs_updated, record.jobs_pending) == (4, 0, 1)
    assert sorted(UsageJob.objects.values_list("job_id", flat=True)) == ["8101", "8102", "8103", "8104"]
    assert counts() == (4, 4)


def test_usage_import_batches_second_import_updates(known_accounts, small_batches):
    lines = [job_line(str(8200 + n)) for n in range(5)] + [job_line("8200", elapsed=7200)]
    usage_import(stream=sacct(*lines), filename="a.txt", actor=None)

    record = usage_import(stream=sacct(*lines), filename="a.txt", actor=None)

    assert (record.jobs_created, record.jobs_updated, record.jobs_pending) == (0, 5, 0)
    assert counts() == (5, 5)
    assert summary() == "account,quarter,gpu_hours\naiss-0007,2026Q1,48.0\n"


def test_usage_import_batches_bad_line_after_batches_written_refuses_whole(known_accounts, officer, small_batches):
    call_command("import_usage", str(SAMPLE), stdout=io.StringIO())
    before = counts()
    text = sacct(*[job_line(str(8300 + n)) for n in range(7)], job_line("4101", elapsed=1), "8399|x").getvalue()

    with pytest.raises(SacctError) as caught:
        usage_import(stream=io.StringIO(text), filename="bad.txt", actor=officer)

    assert str(caught.value) == "line 10: expected 10 fields, found 2"
    assert counts() == before
    assert UsageJob.objects.get(job_id="4101").elapsed_seconds == 36000
    rejected = UsageImport.objects.get(status=UsageImportStatus.REJECTED)
    assert (rejected.error, rejected.lines_read, rejected.jobs_created, rejected.unknown_accounts) == (
        "line 10: expected 10 fields, found 2",
        10,
        0,
        [],
    )
    assert UsageImport.objects.filter(status=UsageImportStatus.COMPLETED).count() == 1


def test_usage_import_text_kept_exactly_whatever_the_database(known_accounts, small_batches):
    """PostgreSQL takes the rows by COPY: its escapes (backslash, tab, the null marker \\N) must not change a value."""
    usage_import(
        stream=sacct(
            "8400|t|aiss-0007|\\N|h800\\x|cpu=8,gres/gpu=1,node=1|3600|2026-01-05T08:00:00|Unknown|COMPLETED",
            "8401|t|aiss-0007|a\tb\\tc|分區|cpu=8,gres/gpu=1,node=1|3600|2026-01-05T08:00:00|Unknown|COMPLETED",
            "8402|t|aiss-0007|陳|h800|cpu=8,gres/gpu=1,node=1|3600|2026-01-05T08:00:00|Unknown|COMPLETED",
        ),
        filename="escapes.txt",
        actor=None,
    )

    assert sorted(UsageJob.objects.values_list("job_id", "user", "partition")) == [
        ("8400", "\\N", "h800\\x"),
        ("8401", "a\tb\\tc", "分區"),
        ("8402", "陳", "h800"),
    ]
    assert counts() == (3, 3)
