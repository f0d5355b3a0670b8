"""A streaming parser for Slurm ``sacct --parsable2`` exports (domain brief §8).

Pure Python: no Django, no database. :func:`sacct_jobs` reads a text stream one line at a time and yields one
:class:`SacctJob` per job, from the job's allocation line; the whole file is never held in memory.

Counting rules:

- The first line is the header. ``JobID``, ``Account``, ``AllocTRES``, ``ElapsedRaw``, ``Start``, ``End`` and
  ``State`` are required, in any order; other columns (``User``, ``Partition``, ``JobName``...) are optional.
- A job is counted once, on its allocation line. Step lines (``4101.batch``, ``4101.extern``, ``4101.0``, any
  ``JOBID.something``) are checked for their field count and JobID only, then skipped. Array tasks (``4200_7``)
  and heterogeneous-job components (``4300+1``) are distinct jobs.
- GPUs come from ``gres/gpu=N`` in ``AllocTRES``; when only typed entries appear (``gres/gpu:h800=N``) their
  counts are added up; when both appear, the untyped total wins (Slurm writes both for the same GPUs).
  ``gres/gpumem`` and ``gres/gpuutil`` are not GPU counts and are ignored.
- GPU-seconds = GPUs x ``ElapsedRaw`` (an exact integer); GPU-hours = GPU-seconds / 3600.
- ``Start`` and ``End`` carry no zone: they are Hong Kong time. A job with no ``Start`` (``Unknown``, ``None`` or
  empty) is pending and counts nothing. A running job has ``End`` ``Unknown``: its end is Start + ElapsedRaw.
- A job's elapsed seconds are split between calendar quarters (Hong Kong time) by how many of its wall-clock
  seconds fall in each. When End - Start equals ElapsedRaw (always, except for a job that was suspended) each
  quarter gets exactly its overlap; otherwise ElapsedRaw is shared in proportion to the overlaps, in whole
  seconds, the rounding remainder going to the last quarter, so the parts always add up to ElapsedRaw.
- Every line, including the last, must end with a newline, as sacct writes it: a last line without one was cut
  short in transfer and is refused, since what was lost cannot be known.

Any bad line raises :class:`SacctError` naming the line number and the reason.
"""

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal.core.formatting import HONG_KONG

REQUIRED_COLUMNS = ("JobID", "Account", "AllocTRES", "ElapsedRaw", "Start", "End", "State")
OPTIONAL_COLUMNS = ("User", "Partition")
NO_TIME = frozenset({"", "Unknown", "None"})
SECONDS_PER_HOUR = 3600
# Bounds no real job comes near; a line beyond them is refused, never passed on to the database.
MAX_GPUS = 100_000
MAX_ELAPSED_SECONDS = 10 * 366 * 24 * SECONDS_PER_HOUR
MAX_TEXT = 64  # JobID, account, user, partition and state, as stored
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200
HOURS_EXPONENT = Decimal("0.000001")

# 4101, 4200_7, 4200_[1-10%2] (a pending array), 4300+1 (a heterogeneous component); then ".step" for step lines.
JOB_ID = re.compile(r"\d+(?:_(?:\d+|\[[^\]|]*\]))?(?:\+\d+)?(?:\.[^|]+)?", re.ASCII)


class SacctError(ValueError):
    """A line of the export that cannot be read. ``line_number`` counts from 1 (the header)."""

    def __init__(self, line_number: int, reason: str) -> None:
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"line {line_number}: {reason}")


@dataclass(frozen=True, slots=True)
class SacctJob:
    """One job, read from its allocation line. Times are aware datetimes in UTC."""

    line_number: int
    job_id: str
    account: str
    user: str
    partition: str
    gpus: int
    elapsed_seconds: int
    start: datetime | None
    end: datetime | None
    state: str
    # (quarter code, elapsed seconds in that quarter); empty for a pending job or a job with no elapsed time.
    quarters: tuple[tuple[str, int], ...]

    @property
    def is_pending(self) -> bool:
        return self.start is None

    @property
    def gpu_seconds(self) -> int:
        return 0 if self.start is None else self.gpus * self.elapsed_seconds

    @property
    def gpu_hours(self) -> Decimal:
        return gpu_hours(self.gpu_seconds)


def gpu_hours(gpu_seconds: int) -> Decimal:
    """GPU-seconds as GPU-hours, to six decimal places (rounded half up); exact for any whole number of seconds
    that is a multiple of 3.6, and never off by more than half a millionth of an hour otherwise."""
    return (Decimal(gpu_seconds) / SECONDS_PER_HOUR).quantize(HOURS_EXPONENT, rounding=ROUND_HALF_UP)


def quarter_code(moment: datetime) -> str:
    """The calendar quarter of a Hong Kong local time, e.g. ``2026Q1``."""
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


def _next_quarter_start(moment: datetime) -> datetime:
    first_month = (moment.month - 1) // 3 * 3 + 1
    if first_month == 10:
        return datetime(moment.year + 1, 1, 1)  # noqa: DTZ001 - naive Hong Kong local time, by design
    return datetime(moment.year, first_month + 3, 1)  # noqa: DTZ001


def split_by_quarter(start: datetime, end: datetime, elapsed_seconds: int) -> tuple[tuple[str, int], ...]:
    """Share ``elapsed_seconds`` between the quarters that ``[start, end)`` (naive Hong Kong times) touches."""
    if elapsed_seconds == 0 or end <= start:
        return ()
    pieces: list[tuple[str, int]] = []
    cursor = start
    while cursor < end:
        stop = min(_next_quarter_start(cursor), end)
        pieces.append((quarter_code(cursor), int((stop - cursor).total_seconds())))
        cursor = stop
    span = sum(seconds for _, seconds in pieces)
    if span == elapsed_seconds:
        return tuple(pieces)
    shared = [(code, elapsed_seconds * seconds // span) for code, seconds in pieces]
    code, seconds = shared[-1]
    shared[-1] = (code, seconds + elapsed_seconds - sum(part for _, part in shared))
    return tuple(shared)


def _local_time(raw: str, column: str, line_number: int) -> datetime | None:
    if raw in NO_TIME:
        return None
    try:
        if len(raw) != 19 or raw[10] != "T":
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise SacctError(
            line_number, f"{column} {raw[:40]!r} is not a date and time like 2026-01-05T08:00:00"
        ) from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise SacctError(line_number, f"{column} {raw!r} is not between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _gpus(tres: str, line_number: int) -> int:
    if "gres/gpu" not in tres:
        return 0
    untyped: int | None = None
    typed = 0
    for item in tres.split(","):
        name, sep, count = item.partition("=")
        if name != "gres/gpu" and not (name.startswith("gres/gpu:") and len(name) > 9):
            continue  # another resource, or gres/gpumem, gres/gpuutil
        if not sep or not count.isascii() or not count.isdigit():
            raise SacctError(line_number, f"malformed GPU count {item!r} in AllocTRES")
        if len(count) > len(str(MAX_GPUS)) or int(count) > MAX_GPUS:
            raise SacctError(line_number, f"GPU count {count[:20]!r} in AllocTRES is above {MAX_GPUS:,}")
        if name == "gres/gpu":
            untyped = int(count)
        else:
            typed += int(count)
    gpus = typed if untyped is None else untyped
    if gpus > MAX_GPUS:
        raise SacctError(line_number, f"GPU count {gpus} in AllocTRES is above {MAX_GPUS:,}")
    return gpus


def _read_header(line: str | None) -> dict[str, int]:
    if line is None:
        raise SacctError(1, "empty file: expected a sacct --parsable2 header line")
    if not line.endswith("\n"):
        raise SacctError(1, "truncated header line (no newline at the end of the file)")
    names = line.rstrip("\r\n").split("|")
    columns = {name: index for index, name in enumerate(names)}
    if len(columns) != len(names):
        raise SacctError(1, "header names a column twice")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise SacctError(
            1,
            f"header lacks {', '.join(missing)}: expected a sacct --parsable2 export with {', '.join(REQUIRED_COLUMNS)}",
        )
    return columns


def sacct_jobs(lines: Iterable[str]) -> Iterator[SacctJob]:
    """Yield the jobs of a ``sacct --parsable2`` export, one per allocation line, in file order.

    ``lines`` is a text stream (an open file, ``io.StringIO``) or any iterable of lines that keep their line
    endings. Raises :class:`SacctError` at the first bad line.
    """
    iterator = iter(lines)
    columns = _read_header(next(iterator, None))
    width = len(columns)
    i_job, i_account, i_tres, i_elapsed, i_start, i_end, i_state = (columns[name] for name in REQUIRED_COLUMNS)
    i_user = columns.get("User")
    i_partition = columns.get("Partition")
    intern = sys.intern

    for line_number, line in enumerate(iterator, start=2):
        terminated = line.endswith("\n")
        text = line.rstrip("\r\n")
        if not text and terminated:
            continue  # a blank line
        fields = text.split("|")
        if not terminated:
            raise SacctError(
                line_number,
                f"truncated line (no newline at the end of the file; {len(fields)} of {width} fields)",
            )
        if len(fields) != width:
            raise SacctError(line_number, f"expected {width} fields, found {len(fields)}")
        job_id = fields[i_job]
        if not JOB_ID.fullmatch(job_id):
            raise SacctError(line_number, f"malformed JobID {job_id!r}")
        if "." in job_id:
            continue  # a step (.batch, .extern, .0, ...): the job is counted on its allocation line

        raw_elapsed = fields[i_elapsed]
        if not raw_elapsed.isascii() or not raw_elapsed.isdigit():
            raise SacctError(line_number, f"ElapsedRaw {raw_elapsed!r} is not a whole number of seconds")
        if len(raw_elapsed) > len(str(MAX_ELAPSED_SECONDS)) or int(raw_elapsed) > MAX_ELAPSED_SECONDS:
            raise SacctError(line_number, f"ElapsedRaw {raw_elapsed[:20]!r} is more than ten years")
        elapsed = int(raw_elapsed)
        for column, index in (("JobID", i_job), ("Account", i_account), ("State", i_state)):
            if len(fields[index]) > MAX_TEXT:
                raise SacctError(line_number, f"{column} is longer than {MAX_TEXT} characters")
        for column, index in (("User", i_user), ("Partition", i_partition)):
            if index is not None and len(fields[index]) > MAX_TEXT:
                raise SacctError(line_number, f"{column} is longer than {MAX_TEXT} characters")
        gpus = _gpus(fields[i_tres], line_number)
        start = _local_time(fields[i_start], "Start", line_number)
        end = _local_time(fields[i_end], "End", line_number)
        state = fields[i_state]
        if not state:
            raise SacctError(line_number, "State is empty")

        if start is None:  # pending: nothing used yet
            quarters: tuple[tuple[str, int], ...] = ()
            start_utc = end_utc = None
        else:
            if end is not None and end < start:
                raise SacctError(line_number, f"End {fields[i_end]!r} is before Start {fields[i_start]!r}")
            if end is None or end == start:
                end = start + timedelta(seconds=elapsed)  # running: it has run for ElapsedRaw so far
            quarters = split_by_quarter(start, end, elapsed)
            start_utc = start.replace(tzinfo=HONG_KONG).astimezone(UTC)
            end_utc = end.replace(tzinfo=HONG_KONG).astimezone(UTC)

        yield SacctJob(
            line_number=line_number,
            job_id=job_id,
            account=intern(fields[i_account]),
            user=intern(fields[i_user]) if i_user is not None else "",
            partition=intern(fields[i_partition]) if i_partition is not None else "",
            gpus=gpus,
            elapsed_seconds=elapsed,
            start=start_utc,
            end=end_utc,
            state=intern(state),
            quarters=quarters,
        )
