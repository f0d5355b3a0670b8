"""Benchmark: the ranking figures are computed once and read by the report (issue 14, goal 2).

Run with ``make bench`` (or ``python -m tests.benchmarks bench_ranking``). A call of 2,000 proposals is made in a
temporary SQLite database by ``tests/factories/reports.report_call``. Measured: the approval report's data
(``approval_report_data``) read once the figures are stored, the median of three runs (the goal: at most 0.5 s);
and, as a figure to watch, the one-off computation of the call's figures after a change (what the first page after
a review, a score or an assignment changes pays once). Times are the CPU time of this process (SQLite runs in it, so
the database's work counts too), which holds on a shared, busy machine as wall-clock time does not.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

PROPOSALS = 2_000
REPEATS = 3
GOAL = 0.5


def _median(function) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    from django.test.utils import setup_test_environment, teardown_test_environment

    from tests.benchmarks.bench_sacct import _use_temporary_sqlite

    with tempfile.TemporaryDirectory(prefix="bench-ranking-") as tmp:
        connection = _use_temporary_sqlite(Path(tmp))
        setup_test_environment()
        connection.creation.create_test_db(verbosity=0)
        try:
            _run()
        finally:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
            teardown_test_environment()


def _run() -> None:
    from portal.calls.models import Call
    from portal.reports.selectors import approval_report_data
    from portal.reviews import figures
    from tests.benchmarks.results import record
    from tests.factories.reports import report_call

    started = time.perf_counter()
    rc = report_call(PROPOSALS, seed=11, hours_per_quarter=20_000)
    print(f"data: {PROPOSALS:,} proposals made in {time.perf_counter() - started:.1f} s", flush=True)
    call = Call.objects.get(pk=rc.call.pk)

    def compute():
        figures.figures_invalidate(call_ids=[call.pk])
        figures.figures_fresh(call=call)

    compute()  # warm-up
    once = _median(compute)
    read = _median(lambda: approval_report_data(call=call))
    print(
        f"figures computed and stored in {once * 1000:.0f} ms CPU; report data read in {read * 1000:.0f} ms CPU",
        flush=True,
    )
    record(
        f"approval report data, {PROPOSALS:,} proposals (figures stored; CPU)",
        f"{read:.3f} s",
        goal=f"<= {GOAL} s",
        met=read <= GOAL,
    )
    record(f"ranking figures computed once after a change, {PROPOSALS:,} proposals (CPU)", f"{once:.2f} s")


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    main()
