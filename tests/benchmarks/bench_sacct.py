"""Benchmark: import sacct exports of 250,000, 500,000 and 1,000,000 lines (about 250,000 jobs for the last) into a
temporary SQLite database and, when DATABASE_URL names PostgreSQL, into a test database there too.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_sacct``). Each size runs in a process of its own, so
that its peak RSS is its own: a first import (all jobs created) and a second import of the same file (all jobs
updated). Reports wall and CPU time at 1,000,000 lines, the peak RSS there, and how much the peak grows from
250,000 to 1,000,000 lines (the import streams, so it should not).
"""

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import django

LINES = 1_000_000
SIZES = (250_000, 500_000, LINES)  # peak memory must not grow from the first to the last
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


def _child(lines: int, database_url: str) -> None:
    """In a process of its own (so that its peak RSS is its own): generate an export of ``lines`` lines, import it
    twice into a fresh database, print one JSON line of figures."""
    from django.test.utils import setup_test_environment, teardown_test_environment

    from portal.allocations.models import UsageJob, UsageQuarter
    from portal.allocations.usage import usage_import

    with tempfile.TemporaryDirectory(prefix="bench-sacct-") as tmp:
        folder = Path(tmp)
        export = folder / "sacct.txt"
        jobs = write_export(export, lines)
        if database_url:
            from django.db import connection
        else:
            connection = _use_temporary_sqlite(folder)
        setup_test_environment()
        connection.creation.create_test_db(verbosity=0)
        figures = {"lines": lines, "jobs": jobs, "baseline_rss_mib": _rss_mib(), "imports": []}
        try:
            for label in ("first import (creates)", "second import (updates)"):
                started, cpu_started = time.perf_counter(), time.process_time()
                with export.open("rb") as stream:
                    record = usage_import(stream=stream, filename=export.name, actor=None)
                figures["imports"].append(
                    {
                        "label": label,
                        "wall": time.perf_counter() - started,
                        "cpu": time.process_time() - cpu_started,
                        "created": record.jobs_created,
                        "updated": record.jobs_updated,
                        "pending": record.jobs_pending,
                        "unknown": [entry["account"] for entry in record.unknown_accounts],
                    }
                )
            figures["rows"] = [UsageJob.objects.count(), UsageQuarter.objects.count()]
            figures["peak_rss_mib"] = _rss_mib()
        finally:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
            teardown_test_environment()
    print(json.dumps(figures), flush=True)


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    _backend("SQLite", "")
    if database_url.startswith("postgres"):
        _backend("PostgreSQL", database_url)


def _backend(backend: str, database_url: str) -> None:
    from tests.benchmarks import results

    peaks = {}
    for lines in SIZES:
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.bench_sacct", str(lines), backend],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"import of {lines:,} lines failed: {done.stderr.strip().splitlines()[-1:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        peaks[lines] = figures["peak_rss_mib"]
        for run in figures["imports"]:
            print(
                f"{lines:,} lines, {figures['jobs']:,} jobs, {run['label']} ({backend}): {run['wall']:.1f}s wall, "
                f"{run['cpu']:.1f}s CPU ({lines / run['wall']:,.0f} lines/s); created {run['created']:,}, "
                f"updated {run['updated']:,}, pending {run['pending']:,}, unknown accounts {run['unknown']}",
                flush=True,
            )
            if lines == LINES:
                results.record(
                    f"sacct import, {lines:,} lines, {run['label']} ({backend})",
                    f"{run['wall']:.1f} s ({run['cpu']:.1f} s CPU)",
                    goal="<= 30 s",
                    met=run["wall"] <= 30,
                )
        print(
            f"{lines:,} lines: rows {figures['rows'][0]:,} jobs, {figures['rows'][1]:,} job-quarters; process peak "
            f"RSS {figures['peak_rss_mib']:.0f} MiB (baseline {figures['baseline_rss_mib']:.0f} MiB)",
            flush=True,
        )
    peak = peaks[LINES]
    results.record(
        f"sacct import, {LINES:,} lines: process peak RSS ({backend})",
        f"{peak:.0f} MiB",
        goal="<= 200 MB",
        met=peak * 2**20 <= 200e6,
    )
    growth = peaks[LINES] - peaks[SIZES[0]]
    results.record(
        f"sacct import: peak RSS growth {SIZES[0]:,} -> {LINES:,} lines ({backend})",
        f"{growth:+.0f} MiB ({', '.join(f'{peaks[size]:.0f}' for size in SIZES)} MiB)",
        goal="<= 20 MB",
        met=growth * 2**20 <= 20e6,
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    if len(sys.argv) > 1:
        _child(int(sys.argv[1]), os.environ.get("DATABASE_URL", "") if sys.argv[2:] == ["PostgreSQL"] else "")
    else:
        main()
