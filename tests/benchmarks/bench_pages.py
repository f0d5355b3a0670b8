"""Benchmark: the officials' whole-call pages and exports at 100 and at 10,000 proposals (issue 14, goal 1).

Run with ``make bench`` (or ``python -m tests.benchmarks bench_pages``). Each size gets its own temporary SQLite
database, filled in bulk by ``tests/factories/reports.report_call`` (submitted proposals with reviews,
recommendations, decisions and a locked allocation run). Each page is fetched by the secretariat through Django's
test client (the whole request: middleware, view, template) three times after a warm-up; the figure is the median
CPU time of the process (SQLite runs in it, so the database's work counts too), and the verdict compares the ratio
of the two sizes with the goal: a page at 10,000 proposals within 1.5x its time at 100.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

SIZES = (100, 10_000)
REPEATS = 3
GOAL = 1.5


def _pages(rc) -> dict[str, str]:
    from django.urls import reverse

    call = rc.call.pk
    return {
        "reviewer assignments (a page)": reverse("reviews:call_assignments", args=[call]),
        "ranking (a page)": reverse("reviews:ranking", args=[call]),
        "allocation run (a page)": reverse("allocations:run", args=[rc.run.pk]),
        "allocation call page": reverse("allocations:call", args=[call]),
        "secretariat queue": reverse("decisions:queue"),
        "work waiting": reverse("decisions:work"),
        "proposal list": reverse("proposals:dashboard"),
    }


def _auditor_pages() -> dict[str, str]:
    from django.urls import reverse

    return {"audit log (a page)": reverse("audit:log")}


def _measure(client, url: str) -> tuple[float, int]:
    response = client.get(url)  # warm-up (templates, translations, caches)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    times = []
    for _ in range(REPEATS):
        started = time.process_time()
        response = client.get(url)
        times.append(time.process_time() - started)
    return statistics.median(times), len(response.content)


def _size(n: int, folder: Path) -> dict[str, tuple[float, int]]:
    from django.test import Client
    from django.test.utils import setup_test_environment, teardown_test_environment

    from portal.accounts.enums import Role
    from tests.benchmarks.bench_sacct import _use_temporary_sqlite
    from tests.factories import UserFactory
    from tests.factories.accounts import second_factor_pass
    from tests.factories.reports import report_call

    connection = _use_temporary_sqlite(folder)
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    try:
        started = time.perf_counter()
        rc = report_call(n, seed=7, hours_per_quarter=20_000)
        print(f"data: {n:,} proposals made in {time.perf_counter() - started:.1f} s", flush=True)
        figures = {}
        for role, pages in ((Role.SECRETARIAT, _pages(rc)), (Role.AUDITOR, _auditor_pages())):
            official = UserFactory(role=role)
            client = Client()
            client.force_login(official)
            second_factor_pass(client, official)
            for name, url in pages.items():
                figures[name] = _measure(client, url)
                print(f"  {name}: {figures[name][0] * 1000:.0f} ms CPU, {figures[name][1] / 1024:.0f} KiB", flush=True)
        return figures
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        teardown_test_environment()


def main() -> None:
    from tests.benchmarks.results import record

    small, large = SIZES
    results = {}
    for n in SIZES:
        with tempfile.TemporaryDirectory(prefix=f"bench-pages-{n}-") as tmp:
            results[n] = _size(n, Path(tmp))
    for name, (seconds, size) in results[large].items():
        ratio = seconds / results[small][name][0]
        record(
            f"{name}: {large:,} / {small:,} proposals (CPU; {size / 1024:,.0f} KiB)",
            f"{ratio:.2f}x",
            goal=f"<= {GOAL}x",
            met=ratio <= GOAL,
        )


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    main()
