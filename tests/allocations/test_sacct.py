import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from portal.allocations.sacct import SacctError, gpu_hours, sacct_jobs, split_by_quarter

# The Slurm sample kept with the tests (tests/data).
SAMPLE = Path(settings.BASE_DIR) / "tests" / "data" / "sacct-sample.txt"
HEADER = "JobID|JobName|Account|User|Partition|AllocTRES|ElapsedRaw|Start|End|State\n"


def sacct(*lines: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(f"{line}\n" for line in lines))


def job_line(
    job_id,
    *,
    account="aiss-0007",
    tres="gres/gpu=8",
    elapsed=3600,
    start="2026-01-05T08:00:00",
    end=None,
    state="COMPLETED",
):
    return f"{job_id}|name|{account}|kwong|h800|billing=8,cpu=8,{tres},mem=60G,node=1|{elapsed}|{start}|{end or 'Unknown'}|{state}"


def only(stream) -> object:
    (job,) = list(sacct_jobs(stream))
    return job


@pytest.mark.unit
def test_sacct_sample_totals_per_account():
    with SAMPLE.open() as stream:
        jobs = list(sacct_jobs(stream))
    totals: dict[str, int] = {}
    for job in jobs:
        totals[job.account] = totals.get(job.account, 0) + job.gpu_seconds

    assert [job.job_id for job in jobs] == ["4101", "4102", "4103", "4104", "4105"]
    assert {account: gpu_hours(seconds) for account, seconds in totals.items()} == {
        "aiss-0007": Decimal("640.000000"),
        "aiss-0012": Decimal("17.500000"),
    }


@pytest.mark.unit
def test_sacct_sample_pending_and_cpu_jobs_count_nothing():
    with SAMPLE.open() as stream:
        jobs = {job.job_id: job for job in sacct_jobs(stream)}

    assert (jobs["4105"].is_pending, jobs["4105"].start, jobs["4105"].gpu_seconds, jobs["4105"].quarters) == (
        True,
        None,
        0,
        (),
    )
    assert (jobs["4104"].gpus, jobs["4104"].gpu_seconds) == (0, 0)
    assert jobs["4103"].state == "CANCELLED by 10234"


@pytest.mark.unit
def test_sacct_times_hong_kong_stored_utc():
    job = only(sacct(job_line("1", start="2026-01-05T08:00:00", end="2026-01-05T09:00:00")))

    assert job.start == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert job.end == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    assert job.quarters == (("2026Q1", 3600),)


@pytest.mark.unit
def test_sacct_steps_skipped_counted_once():
    stream = sacct(
        job_line("4101"),
        job_line("4101.batch"),
        job_line("4101.extern"),
        job_line("4101.0"),
        job_line("4101.interactive"),
    )

    jobs = list(sacct_jobs(stream))

    assert [(job.job_id, job.gpu_seconds) for job in jobs] == [("4101", 8 * 3600)]


@pytest.mark.unit
def test_sacct_job_arrays_distinct_jobs():
    stream = sacct(
        job_line("4200_7"),
        job_line("4200_7.batch"),
        job_line("4200_8", elapsed=1800),
        job_line("4200_[9-12%2]", start="Unknown", elapsed=0, state="PENDING"),
    )

    jobs = list(sacct_jobs(stream))

    assert [(job.job_id, job.gpu_seconds) for job in jobs] == [
        ("4200_7", 8 * 3600),
        ("4200_8", 8 * 1800),
        ("4200_[9-12%2]", 0),
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tres", "gpus"),
    [
        ("gres/gpu=8", 8),
        ("gres/gpu:h800=4", 4),
        ("gres/gpu=8,gres/gpu:h800=8", 8),
        ("gres/gpu:h800=8,gres/gpu=8", 8),
        ("gres/gpu:h800=2,gres/gpu:a100=3", 5),
        ("gres/gpu=2,gres/gpumem=80G,gres/gpuutil=100", 2),
        ("gres/shard=4", 0),
    ],
)
def test_sacct_gpus_typed_and_untyped(tres, gpus):
    job = only(sacct(job_line("1", tres=tres)))

    assert job.gpus == gpus


@pytest.mark.unit
def test_sacct_running_job_ends_after_elapsed():
    job = only(sacct(job_line("7", elapsed=5400, start="2026-02-01T10:00:00", end="Unknown", state="RUNNING")))

    assert job.end == datetime(2026, 2, 1, 3, 30, tzinfo=UTC)
    assert job.gpu_hours == Decimal("12.000000")


@pytest.mark.unit
def test_sacct_quarter_boundary_split_in_hong_kong_time():
    # 2026-03-31 23:00 HKT to 2026-04-01 01:00 HKT: one hour in each quarter (the boundary is 16:00 UTC).
    job = only(sacct(job_line("8", elapsed=7200, start="2026-03-31T23:00:00", end="2026-04-01T01:00:00")))

    assert job.quarters == (("2026Q1", 3600), ("2026Q2", 3600))


@pytest.mark.unit
def test_sacct_quarter_not_split_at_utc_boundary():
    # 2026-04-01 02:00 HKT is 2026-03-31 18:00 UTC: the job is wholly in 2026Q2.
    job = only(sacct(job_line("9", elapsed=3600, start="2026-04-01T02:00:00", end="2026-04-01T03:00:00")))

    assert job.quarters == (("2026Q2", 3600),)


@pytest.mark.unit
def test_sacct_split_across_year_and_three_quarters():
    quarters = split_by_quarter(datetime(2025, 12, 31, 12), datetime(2026, 4, 1, 12), 91 * 86400)

    assert quarters == (("2025Q4", 12 * 3600), ("2026Q1", 90 * 86400), ("2026Q2", 12 * 3600))


@pytest.mark.unit
def test_sacct_split_suspended_job_shares_elapsed_exactly():
    # 3 hours on the wall clock, 1000 seconds elapsed (suspended the rest): shared 1/3 : 2/3, adding up exactly.
    quarters = split_by_quarter(datetime(2026, 3, 31, 23), datetime(2026, 4, 1, 2), 1000)

    assert quarters == (("2026Q1", 333), ("2026Q2", 667))


@pytest.mark.unit
def test_sacct_optional_columns_absent():
    stream = io.StringIO(
        "State|End|Start|ElapsedRaw|AllocTRES|Account|JobID\n"
        "COMPLETED|2026-01-05T09:00:00|2026-01-05T08:00:00|3600|gres/gpu=2|aiss-0007|11\n"
    )

    job = only(stream)

    assert (job.job_id, job.account, job.user, job.partition, job.gpu_seconds) == ("11", "aiss-0007", "", "", 7200)


@pytest.mark.unit
def test_sacct_crlf_and_blank_lines_accepted():
    stream = io.StringIO(HEADER.replace("\n", "\r\n") + "\r\n" + job_line("12") + "\r\n")

    job = only(stream)

    assert job.gpu_seconds == 8 * 3600


@pytest.mark.unit
def test_sacct_reads_lazily():
    pulled = []

    def lines():
        for line in [HEADER, job_line("1") + "\n", job_line("2") + "\n"]:
            pulled.append(line)
            yield line

    first = next(sacct_jobs(lines()))

    assert (first.job_id, len(pulled)) == ("1", 2)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: empty file: expected a sacct --parsable2 header line"),
        (
            "JobID|Account|AllocTRES|Elapsed|Start|End|State\n",
            "line 1: header lacks ElapsedRaw: expected a sacct --parsable2 export with "
            "JobID, Account, AllocTRES, ElapsedRaw, Start, End, State",
        ),
        (
            "JobID,Account,AllocTRES,ElapsedRaw,Start,End,State\n",
            "line 1: header lacks JobID, Account, AllocTRES, "
            "ElapsedRaw, Start, End, State: expected a sacct --parsable2 export with JobID, Account, AllocTRES, "
            "ElapsedRaw, Start, End, State",
        ),
        (HEADER.replace("User", "Account"), "line 1: header names a column twice"),
        (HEADER + job_line("1") + "\n" + "4102|x|aiss-0012\n", "line 3: expected 10 fields, found 3"),
        (HEADER + job_line("1", elapsed="36O0") + "\n", "line 2: ElapsedRaw '36O0' is not a whole number of seconds"),
        (HEADER + job_line("1", elapsed="-5") + "\n", "line 2: ElapsedRaw '-5' is not a whole number of seconds"),
        (HEADER + job_line("1", tres="gres/gpu=x8") + "\n", "line 2: malformed GPU count 'gres/gpu=x8' in AllocTRES"),
        (
            HEADER + job_line("1", tres="gres/gpu:h800") + "\n",
            "line 2: malformed GPU count 'gres/gpu:h800' in AllocTRES",
        ),
        (
            HEADER + job_line("1", start="2026-13-05T08:00:00") + "\n",
            "line 2: Start '2026-13-05T08:00:00' is not a date and time like 2026-01-05T08:00:00",
        ),
        (
            HEADER + job_line("1", end="05/01/2026 09:00") + "\n",
            "line 2: End '05/01/2026 09:00' is not a date and time like 2026-01-05T08:00:00",
        ),
        (
            HEADER + job_line("1", end="2026-01-05T07:00:00") + "\n",
            "line 2: End '2026-01-05T07:00:00' is before Start '2026-01-05T08:00:00'",
        ),
        (HEADER + job_line("1", state="") + "\n", "line 2: State is empty"),
        (HEADER + job_line("x1") + "\n", "line 2: malformed JobID 'x1'"),
        (
            HEADER + job_line("1") + "\n" + job_line("2")[:40],
            "line 3: truncated line (no newline at the end of the file; 6 of 10 fields)",
        ),
        (
            HEADER + job_line("1") + "\n" + job_line("2"),
            "line 3: truncated line (no newline at the end of the file; 10 of 10 fields)",
        ),
        (HEADER.rstrip("\n"), "line 1: truncated header line (no newline at the end of the file)"),
    ],
)
def test_sacct_bad_input_names_line_and_reason(text, message):
    with pytest.raises(SacctError) as caught:
        list(sacct_jobs(io.StringIO(text)))

    assert str(caught.value) == message


@pytest.mark.unit
def test_sacct_bad_step_line_field_count_refused():
    stream = sacct(job_line("1"), "1.batch|batch|aiss-0007")

    with pytest.raises(SacctError) as caught:
        list(sacct_jobs(stream))

    assert (caught.value.line_number, caught.value.reason) == (3, "expected 10 fields, found 3")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            job_line("31", tres="gres/gpu=" + "9" * 23),
            "line 2: GPU count '99999999999999999999' in AllocTRES is above 100,000",
        ),
        (
            job_line("32", tres="gres/gpu:h800=60000,gres/gpu:a100=60000"),
            "line 2: GPU count 120000 in AllocTRES is above 100,000",
        ),
        (job_line("33", elapsed="9" * 30), "line 2: ElapsedRaw '99999999999999999999' is more than ten years"),
        (job_line("34", account="a" * 65), "line 2: Account is longer than 64 characters"),
        (
            job_line("35", start="9999-12-31T23:00:00"),
            "line 2: Start '9999-12-31T23:00:00' is not between 2000 and 2200",
        ),
        (
            job_line("36", start="0001-01-01T00:00:00"),
            "line 2: Start '0001-01-01T00:00:00' is not between 2000 and 2200",
        ),
    ],
)
def test_sacct_numbers_and_texts_beyond_what_is_stored_are_refused(line, reason):
    """A 23-digit GPU count gave a server error when the jobs were stored."""
    with pytest.raises(SacctError) as refused:
        list(sacct_jobs(sacct(line)))
    assert str(refused.value) == reason
