"""Benchmark: import a 1,000,000-line sacct export (about 250,000 jobs) into a temporary SQLite database.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_sacct``). Reports wall time and memory for a first
import (all jobs created) and a second import of the same file (all jobs updated), and the peak Python heap of
parsing alone (tracemalloc), which is what grows with the file: one small record per job.
"""

import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import django

LINES = 1_000_000
LINES_PER_JOB = 4  # allocation, .batch, .extern, .0
ACCOUNTS = ["aiss-0001", "aiss-0002", "aiss-0003", "aiss-0004", "aiss-0005", "aiss-0006", "physics", "aiss-9999"]
HEADER = "JobID|JobName|Account|User|Partition|AllocTRES|ElapsedRaw|Start|End|State\n"
FIRST_JOB = 1_000_000


def write_export(path: Path, lines: int = LINES, seed: int = 7) -> int:
    """Write a sacct export of ``lines`` lines (header included); return the number of jobs."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1)  # sacct times are naive Hong Kong times
    span = int(timedelta(days=180).total_seconds())
    jobs = (lines - 1) // LINES_PER_JOB
    written = 1
    with path.open("w", buffering=1 << 20) as out:
        out.write(HEADER)
        for n in range(jobs):
            job_id = f"{FIRST_JOB + n}" if n % 10 else f"{FIRST_JOB + n - 1}_{n % 1000}"  # some array tasks
            account = ACCOUNTS[n % len(ACCOUNTS)]
            gpus = rng.choice((1, 2, 4, 8, 8, 16, 64))
            gres = f"gres/gpu={gpus},gres/gpu:h800={gpus}" if n % 3 else f"gres/gpu:h800={gpus}"
            elapsed = rng.randrange(60, 3 * 86400)
            start = base + timedelta(seconds=rng.randrange(span))
            end = start + timedelta(seconds=elapsed)
            state = "COMPLETED"
            start_s, end_s = start.isoformat(), end.isoformat()
            if n % 97 == 0:
                end_s, state = "Unknown", "RUNNING"
            elif n % 101 == 0:
                elapsed, start_s, end_s, state = 0, "Unknown", "Unknown", "PENDING"
            tres = f"billing={gpus * 8},cpu={gpus * 8},{gres},mem={gpus * 60}G,node={max(1, gpus // 8)}"
            out.write(f"{job_id}|train|{account}|user{n % 50}|h800|{tres}|{elapsed}|{start_s}|{end_s}|{state}\n")
            out.write(
                f"{job_id}.batch|batch|{account}|||cpu=8,{gres},mem=60G,node=1|{elapsed}|{start_s}|{end_s}|{state}\n"
            )
            out.write(f"{job_id}.extern|extern|{account}|||{tres}|{elapsed}|{start_s}|{end_s}|{state}\n")
            out.write(f"{job_id}.0|torchrun|{account}|||{tres}|{elapsed}|{start_s}|{end_s}|{state}\n")
            written += LINES_PER_JOB
        for n in range(lines - written):  # pad to the exact line count with step lines
            out.write(
                f"{FIRST_JOB}.{n + 1}|step|{ACCOUNTS[0]}|||cpu=1|1|{base.isoformat()}|{base.isoformat()}|COMPLETED\n"
            )
    return jobs


def _use_temporary_sqlite(folder: Path):
    """Point the default connection at a fresh SQLite file in ``folder``, whatever DATABASE_URL says."""
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper

    name = str(folder / "bench.sqlite3")
    settings_dict = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {},
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {"NAME": name, "CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None},
    }
    connections["default"] = DatabaseWrapper(settings_dict, "default")
    return connections["default"]


def _rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    from django.test.utils import setup_test_environment, teardown_test_environment

    from portal.allocations.models import UsageJob, UsageQuarter
    from portal.allocations.sacct import sacct_jobs
    from portal.allocations.usage import usage_import
    from tests.benchmarks import results

    with tempfile.TemporaryDirectory(prefix="bench-sacct-") as tmp:
        folder = Path(tmp)
        export = folder / "sacct-1m.txt"
        started = time.perf_counter()
        jobs = write_export(export)
        print(
            f"generated {LINES:,} lines, {jobs:,} jobs, {export.stat().st_size / 2**20:.1f} MiB "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )

        connection = _use_temporary_sqlite(folder)
        setup_test_environment()
        connection.creation.create_test_db(verbosity=0)
        try:
            baseline = _rss_mib()
            for label in ("first import (creates)", "second import (updates)"):
                started, cpu_started = time.perf_counter(), time.process_time()
                with export.open("rb") as stream:
                    record = usage_import(stream=stream, filename=export.name, actor=None)
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
                print(
                    f"{label}: {elapsed:.1f}s wall, {cpu:.1f}s CPU ({LINES / elapsed:,.0f} lines/s); created {record.jobs_created:,}, "
                    f"updated {record.jobs_updated:,}, pending {record.jobs_pending:,}, unknown accounts "
                    f"{[entry['account'] for entry in record.unknown_accounts]}; "
                    f"process peak RSS {_rss_mib():.0f} MiB (baseline {baseline:.0f} MiB)",
                    flush=True,
                )
                results.record(
                    f"sacct import, {LINES:,} lines, {label} (SQLite)",
                    f"{elapsed:.1f} s",
                    goal="<= 30 s",
                    met=elapsed <= 30,
                )
            peak = _rss_mib()
            results.record(
                f"sacct import, {LINES:,} lines: process peak RSS",
                f"{peak:.0f} MiB",
                goal="<= 200 MB",
                met=peak * 2**20 <= 200e6,
            )
            print(f"rows: {UsageJob.objects.count():,} jobs, {UsageQuarter.objects.count():,} job-quarters", flush=True)
        finally:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
            teardown_test_environment()

        tracemalloc.start()
        started = time.process_time()
        with export.open() as stream:
            kept = {job.job_id: job for job in sacct_jobs(stream)}
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"parse only, under tracemalloc (slows it): {elapsed:.1f}s CPU, {len(kept):,} jobs kept, "
            f"peak Python heap {peak / 2**20:.0f} MiB ({peak / len(kept):.0f} bytes per job)",
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    main()
