"""Benchmark: the officials' whole-call pages and exports at 100 and at 10,000 proposals (issue 14, goal 1).

Run with ``make bench`` (or ``python -m tests.benchmarks bench_pages``). Each size gets its own temporary SQLite
database, filled in bulk by ``tests/factories/reports.report_call`` (submitted proposals with reviews,
recommendations, decisions and a locked allocation run), and an audit log of eight records a proposal written
through the audit service (the issue measured 83,956 records for 10,009 proposals); the Python objects made with
the data are let go before anything is measured (a server's process never holds them). Each page is fetched by the
secretariat through Django's test client (the whole request: middleware, view, template) seven times after a
warm-up, each time after a garbage collection; the figure is the median CPU time of the process (SQLite runs in it, so the database's work counts too),
and the verdict compares the ratio of the two sizes with the goal: a page at 10,000 proposals within 1.5x its time
at 100.

Exports (the call's ranking, decisions and awards as CSV and XLSX, and the committee's ranking CSV) are downloaded
whole, streamed content read to the end, at 10,000 proposals (and on PostgreSQL too when DATABASE_URL names it: the
production database, which works in its own process). An export is kept as it was sent and sent again while nothing
it shows changes (portal/reports/snapshots.py), so each is measured twice: sent again (the goal's figure, after one
download that keeps it), and the first download after a change (a change row written before each sample, so that
the rows are read again: the figure to watch). The CSV's floor is the csv module alone writing the same rows (read
back from the download) to memory, plus a request for the lightest official page (the reports index: session,
second factor, middleware), so that both sides pay for being a request: goal at most 2x. A second floor adds the
database's own work of reading the rows (the SELECTs of a download after a change, run again on a bare cursor and
fetched whole; SQLite works in this process, so its reading counts on both sides): what the export adds to reading
and writing. On PostgreSQL the CPU figures are the web process's alone, so the same ratios are given in wall-clock
time too (the database's own work included). The XLSX (openpyxl, write-only) is given against the CSV of the same
table.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

SIZES = (100, 10_000)
# Each page, export and floor is sampled seven times, each sample after a garbage collection, so that a collection
# left over from the last sample, or the machine's other work, moves the median less (the figures are tens of ms).
REPEATS = 7
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
        "calls (secretariat's list)": reverse("calls:manage_list"),
        "allocation index": reverse("allocations:index"),
        "call reports page": reverse("reports:call", args=[call]),
        "finance": reverse("projects:finance"),
        "change requests": reverse("projects:change_requests"),
        "projects": reverse("projects:list"),
    }


EXPORT_TABLES = ("ranking", "decisions", "awards")
COMMITTEE_RANKING = "committee ranking"  # the committee's own CSV of its ranking page (no XLSX)


def _exports(client, call: int) -> dict[str, tuple[float, int]]:
    """CPU seconds of each export download read to the end, sent again and the first time after a change, and of two
    floors: the csv module alone writing the same rows (+ a light request), and that plus the database's own work of
    reading them (the SELECTs of a download after a change run again on a bare cursor, fetched whole: on SQLite the
    database works in this process)."""
    import csv
    import gc
    import io

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from portal.reports.models import ExportChange

    figures = {}
    request_floor, _size = _measure(client, reverse("reports:index"))
    walls = []  # wall clock too: on PostgreSQL the database's own work is in it, and not in this process's CPU
    for _ in range(REPEATS):
        gc.collect()
        started = time.perf_counter()
        client.get(reverse("reports:index"))
        walls.append(time.perf_counter() - started)
    request_wall = statistics.median(walls)
    with CaptureQueriesContext(connection) as light:
        client.get(reverse("reports:index"))
    # the request's own reads (session, user, second factor), already in the light request
    light_reads = {q["sql"][:60] for q in light.captured_queries}
    downloads = [
        (table, fmt, reverse("reports:call_export", args=[call, table, fmt]))
        for table in EXPORT_TABLES
        for fmt in ("csv", "xlsx")
    ]
    downloads.append((COMMITTEE_RANKING, "csv", reverse("reviews:ranking_csv", args=[call])))
    for table, fmt, url in downloads:
        response = client.get(url)  # read and kept (portal/reports/snapshots.py): the downloads below are sent again
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        body = b"".join(response.streaming_content)
        for when, changed in (("", False), (" after a change", True)):
            times, walls = [], []
            for _ in range(REPEATS):
                if changed:  # a change to data an export shows: the next download reads the rows again
                    ExportChange.objects.create()
                gc.collect()
                started, started_wall = time.process_time(), time.perf_counter()
                response = client.get(url)
                body = b"".join(response.streaming_content)
                times.append(time.process_time() - started)
                walls.append(time.perf_counter() - started_wall)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
            figures[f"{table}.{fmt}{when}"] = (statistics.median(times), len(body))
            figures[f"{table}.{fmt}{when} wall"] = (statistics.median(walls), len(body))
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            floor, floor_walls = [], []
            for _ in range(REPEATS):
                gc.collect()
                started, started_wall = time.process_time(), time.perf_counter()
                out = io.StringIO()
                csv.writer(out).writerows(rows)
                floor.append(time.process_time() - started)
                floor_walls.append(time.perf_counter() - started_wall)
            figures[f"{table}.csv floor"] = (request_floor + statistics.median(floor), len(rows) - 1)
            figures[f"{table}.csv floor wall"] = (request_wall + statistics.median(floor_walls), len(rows) - 1)
            ExportChange.objects.create()  # the SELECTs of a download that reads the rows
            with CaptureQueriesContext(connection) as queries:
                b"".join(client.get(url).streaming_content)
            selects = [
                q["sql"]
                for q in queries.captured_queries
                if q["sql"].startswith("SELECT") and q["sql"][:60] not in light_reads
            ]
            reads = []
            for _ in range(REPEATS):
                gc.collect()
                started = time.process_time()
                with connection.cursor() as cursor:
                    for sql in selects:
                        cursor.execute(sql)
                        cursor.fetchall()
                reads.append(time.process_time() - started)
            figures[f"{table}.csv read floor"] = (
                figures[f"{table}.csv floor"][0] + statistics.median(reads),
                len(selects),
            )
    return figures


def _list_queries(client) -> dict[str, float]:
    """Goal 3: the proposal list's own queries at 10,000 proposals, run again on a bare cursor (median CPU of 20
    runs), against a plain SELECT of the same 25 rows (``SELECT * … WHERE id IN (…)``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("proposals:dashboard")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    ids = [p.pk for p in response.context["proposals"]]
    rows_sql = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "proposals_proposal"."id",')]
    count_sql = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT COUNT(*)") and "proposals_proposal" in q["sql"]
    ]
    plain_sql = f"SELECT * FROM proposals_proposal WHERE id IN ({', '.join(str(pk) for pk in ids)})"

    def cpu(sql: str) -> float:
        times = []
        for _ in range(20):
            started = time.process_time()
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
            times.append(time.process_time() - started)
        return statistics.median(times)

    assert len(ids) == 25, "the list's page is not 25 rows"
    assert len(rows_sql) == 1, "the list's rows are not read by one query"
    assert len(count_sql) == 1, "the list's rows are not counted by one query"
    return {"rows": cpu(rows_sql[0]), "count": cpu(count_sql[0]), "plain": cpu(plain_sql)}


def _auditor_pages() -> dict[str, str]:
    from django.urls import reverse

    return {"audit log (a page)": reverse("audit:log")}


def _measure(client, url: str) -> tuple[float, int]:
    import gc

    response = client.get(url)  # warm-up (templates, translations, caches)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    times = []
    for _ in range(REPEATS):
        gc.collect()
        started = time.process_time()
        response = client.get(url)
        times.append(time.process_time() - started)
    return statistics.median(times), len(response.content)


def _call_data(n: int, where: str = ""):
    """A call of ``n`` proposals made in bulk in the current test database."""
    from tests.factories.reports import report_call

    started = time.perf_counter()
    rc = report_call(n, seed=7, hours_per_quarter=20_000)
    records = _audit_trail(rc)
    print(
        f"data{where}: {n:,} proposals and {records:,} audit records made in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return rc


# What a call's life writes to the audit log, per proposal: about eight records (the issue measured 83,956 records
# for 10,009 proposals).
AUDIT_TRAIL = (
    "proposal.created",
    "proposal.submitted",
    "proposal.screening_passed",
    "review.assigned",
    "review.submitted",
    "review.submitted",
    "recommendation.made",
    "decision.make",
)


def _audit_trail(rc, batch: int = 1000) -> int:
    """The call's audit log, written through the audit service (hash-chained, as any), a batch of proposals per
    transaction; returns how many records were written."""
    from django.db import transaction

    from portal.audit.services import audit_batch, audit_record

    written = 0
    for start in range(0, len(rc.proposals), batch):
        with transaction.atomic(), audit_batch():
            for proposal in rc.proposals[start : start + batch]:
                for action in AUDIT_TRAIL:
                    audit_record(actor=rc.chair, action=action, obj=proposal, after={"state": proposal.state})
                    written += 1
    return written


def _official_client(role):
    """A test client signed in, second factor passed, as a new official of ``role``."""
    from django.test import Client

    from tests.factories import UserFactory
    from tests.factories.accounts import second_factor_pass

    official = UserFactory(role=role)
    client = Client()
    client.force_login(official)
    second_factor_pass(client, official)
    return client


def _made(n: int, where: str = "") -> tuple[int, list]:
    """A call of ``n`` proposals made in bulk (``_call_data``); its id and each role's pages are kept, and nothing
    else of the data: the 100,000 Python objects made for 10,000 proposals are let go before anything is measured,
    as a server's process never holds them (held, they added 1 to 1.5 ms to every page at 10,000 and nothing at
    100)."""
    import gc

    from portal.accounts.enums import Role

    rc = _call_data(n, where)
    made = rc.call.pk, [(Role.SECRETARIAT, _pages(rc)), (Role.AUDITOR, _auditor_pages())]
    del rc
    gc.collect()
    return made


def _size(n: int, folder: Path) -> dict[str, tuple[float, int]]:
    from django.test.utils import setup_test_environment, teardown_test_environment

    from portal.accounts.enums import Role
    from tests.benchmarks.bench_sacct import _use_temporary_sqlite

    connection = _use_temporary_sqlite(folder)
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    try:
        call, pages_by_role = _made(n)
        figures = {}
        for role, pages in pages_by_role:
            client = _official_client(role)
            for name, url in pages.items():
                figures[name] = _measure(client, url)
                print(f"  {name}: {figures[name][0] * 1000:.0f} ms CPU, {figures[name][1] / 1024:.0f} KiB", flush=True)
            if role == Role.SECRETARIAT and n == max(SIZES):
                figures["list queries"] = _list_queries(client)
                exports = _exports(client, call)
                for name, (seconds, size) in exports.items():
                    clock = "wall" if name.endswith(" wall") else "CPU"
                    print(f"  export {name}: {seconds * 1000:.0f} ms {clock} ({size:,})", flush=True)
                figures["exports"] = exports
        return figures
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        teardown_test_environment()


def _postgres_exports(n: int) -> dict:
    """The exports again at ``n`` proposals in a test database on PostgreSQL (``DATABASE_URL``), the portal's
    production database: the database works in its own process there, so the CPU figures are the web process's."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from portal.accounts.enums import Role

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    try:
        call, _pages_by_role = _made(n, " on PostgreSQL")
        client = _official_client(Role.SECRETARIAT)
        exports = _exports(client, call)
        for name, (seconds, size) in exports.items():
            clock = "wall" if name.endswith(" wall") else "CPU"
            print(f"  export on PostgreSQL {name}: {seconds * 1000:.0f} ms {clock} ({size:,})", flush=True)
        return exports
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        teardown_test_environment()


def main() -> None:
    from django.db import connections

    from tests.benchmarks.results import record

    original = connections["default"]  # the SQLite sizes replace it; PostgreSQL's exports use it again
    small, large = SIZES
    results = {}
    for n in SIZES:
        with tempfile.TemporaryDirectory(prefix=f"bench-pages-{n}-") as tmp:
            results[n] = _size(n, Path(tmp))
    exports = results[large].pop("exports")
    listed = results[large].pop("list queries")
    for name, (seconds, size) in results[large].items():
        ratio = seconds / results[small][name][0]
        record(
            f"{name}: {large:,} / {small:,} proposals (CPU; {size / 1024:,.0f} KiB)",
            f"{ratio:.2f}x",
            goal=f"<= {GOAL}x",
            met=ratio <= GOAL,
        )
    ratio = listed["rows"] / listed["plain"]
    record(
        f"proposal list at {large:,}: its page of 25 rows / a plain SELECT of the same 25 rows (bare cursor, CPU; "
        f"{listed['rows'] * 1e6:.0f} / {listed['plain'] * 1e6:.0f} µs)",
        f"{ratio:.2f}x",
        goal="<= 2x",
        met=ratio <= 2,
    )
    record(
        f"proposal list at {large:,}: its count for the pages (CPU; {listed['count'] * 1e6:.0f} µs) / the plain SELECT",
        f"{listed['count'] / listed['plain']:.1f}x",
    )
    _record_exports(exports, record)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        connections["default"] = original
        _record_exports(_postgres_exports(large), record, where=" on PostgreSQL")


def _record_exports(exports: dict, record, *, where: str = "") -> None:
    for table in (*EXPORT_TABLES, COMMITTEE_RANKING):
        seconds, _size_bytes = exports[f"{table}.csv"]
        read, _size_bytes = exports[f"{table}.csv after a change"]
        floor, rows = exports[f"{table}.csv floor"]
        read_floor, selects = exports[f"{table}.csv read floor"]
        ratio = seconds / floor
        record(
            f"export {table}.csv{where}, {rows:,} rows, sent again while nothing it shows changed / csv module alone "
            f"+ a light request (CPU; {seconds * 1000:.1f} ms)",
            f"{ratio:.2f}x",
            goal="<= 2x",
            met=ratio <= 2,
        )
        record(
            f"export {table}.csv{where}, the first download after a change (the rows read again) / the same "
            f"(CPU; {read * 1000:.0f} ms)",
            f"{read / floor:.1f}x",
        )
        record(
            f"export {table}.csv{where}, the first download after a change / the same + the database reading the "
            f"rows ({selects} SELECTs on a bare cursor; CPU {read_floor * 1000:.0f} ms)",
            f"{read / read_floor:.2f}x",
        )
        if where:  # PostgreSQL works in its own process: its part shows only in the wall clock
            floor_wall = exports[f"{table}.csv floor wall"][0]
            for when, label in (("", "sent again"), (" after a change", "the first download after a change")):
                wall = exports[f"{table}.csv{when} wall"][0]
                record(
                    f"export {table}.csv{where}, {label}, wall clock (the database's work included; "
                    f"{wall * 1000:.0f} ms) / the csv module alone + a light request, wall clock "
                    f"({floor_wall * 1000:.0f} ms)",
                    f"{wall / floor_wall:.2f}x",
                )
        if f"{table}.xlsx" in exports:
            sent, first = exports[f"{table}.xlsx"][0], exports[f"{table}.xlsx after a change"][0]
            record(
                f"export {table}.xlsx{where}, the first download after a change / {table}.csv's (CPU; "
                f"{first * 1000:.0f} ms; sent again {sent * 1000:.1f} ms)",
                f"{first / read:.1f}x",
            )


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    main()
