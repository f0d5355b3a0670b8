"""Benchmark: the approval report of a call with 1,000 proposals, in English and in Chinese.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_reports``). The data is made in a temporary SQLite
database. Each render runs in a fresh child process (``multiprocessing`` fork), so its peak resident memory
(``ru_maxrss`` of the child) is its own. Reports pages, CPU time (user + system of the child, all its threads: the
figure to compare on a shared machine), wall time, peak memory, the time to gather the data, and the ratio to the
floor: WeasyPrint rendering a bare HTML table of the same rows (same font, no styling) through the same PDF
module.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

PROPOSALS = 1_000


def _child(conn, kind: str, call_id: int, language: str) -> None:
    import io

    from django.db import connections
    from pypdf import PdfReader

    from portal.calls.models import Call
    from portal.reports.documents import approval_report_pdf
    from portal.reports.pdf import html_to_pdf
    from portal.reports.selectors import approval_report_data

    connections.close_all()  # never share the parent's connection
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("portal.reports").setLevel(logging.WARNING)
    call = Call.objects.get(pk=call_id)
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    data = approval_report_data(call=call)
    gathered = time.perf_counter() - started
    if kind == "report":
        pdf = approval_report_pdf(call=call, language=language, data=data, version="1", time_limit=600)
    else:
        rows = "".join(
            f"<tr><td>{r.rank or ''}</td><td>{r.proposal.reference}</td><td>{r.proposal.title}</td>"
            f"<td>{r.proposal.organisation.name}</td><td>{r.figures.raw_mean or ''}</td>"
            f"<td>{r.figures.calibrated_mean or ''}</td><td>{r.award.hours if r.award else ''}</td>"
            f"<td>{r.award.subsidy if r.award else ''}</td></tr>"
            for r in data.rows
        )
        html = (
            f'<html lang="{language}"><body style="font-family: \'Noto Sans CJK TC\'; font-size: 8pt">'
            f"<table>{rows}</table></body></html>"
        )
        pdf = html_to_pdf(html, time_limit=600)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send(
        {
            "seconds": elapsed,
            "cpu": cpu,
            "gather": gathered,
            "pages": pages,
            "peak_mib": peak_kib / 1024,
            "bytes": len(pdf),
        }
    )
    conn.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(kind: str, call_id: int, language: str) -> dict:
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_child, args=(child, kind, call_id, language))
    process.start()
    result = parent.recv()
    process.join()
    return result


def main() -> None:
    from django.test.utils import setup_test_environment, teardown_test_environment

    from tests.benchmarks.bench_sacct import _use_temporary_sqlite

    tmp = tempfile.TemporaryDirectory(prefix="bench-reports-")
    connection = _use_temporary_sqlite(Path(tmp.name))
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    try:
        _run(connection)
    finally:
        # Left set up, the next benchmark's setup_test_environment() fails: make bench stopped here.
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        teardown_test_environment()
        tmp.cleanup()


def _run(connection) -> None:
    from django.db import connections

    from tests.benchmarks.results import record
    from tests.factories.reports import report_call

    started = time.perf_counter()
    rc = report_call(PROPOSALS, seed=11, hours_per_quarter=20_000)
    print(f"data: {PROPOSALS:,} proposals made in {time.perf_counter() - started:.1f} s", flush=True)
    connections.close_all()
    cpu = {}
    for language in ("en", "zh-hant"):
        report = _measure("report", rc.call.pk, language)
        floor = _measure("floor", rc.call.pk, language)
        cpu[language] = report["cpu"]
        ratio = report["cpu"] / floor["cpu"]
        record(
            f"approval report, {PROPOSALS:,} proposals [{language}] / bare table (CPU)",
            f"{ratio:.2f}x",
            goal="<= 1.5x",
            met=ratio <= 1.5,
        )
        record(
            f"approval report, {PROPOSALS:,} proposals [{language}]: peak memory",
            f"{report['peak_mib']:.0f} MiB",
            goal="<= 400 MB",
            met=report["peak_mib"] * 2**20 <= 400e6,
        )
        record(f"approval report data, {PROPOSALS:,} proposals [{language}]", f"{report['gather'] * 1000:.0f} ms")
        print(
            f"approval report [{language}]: {report['pages']} pages, {report['cpu']:.1f} s CPU, "
            f"{report['seconds']:.1f} s wall (data {report['gather'] * 1000:.0f} ms), peak {report['peak_mib']:.0f} MiB, "
            f"{report['bytes'] / 1e6:.1f} MB; bare table: {floor['pages']} pages, {floor['cpu']:.1f} s CPU, "
            f"{floor['seconds']:.1f} s wall, peak {floor['peak_mib']:.0f} MiB; ratio {report['cpu'] / floor['cpu']:.2f}x CPU, "
            f"{report['seconds'] / floor['seconds']:.2f}x wall, {report['peak_mib'] / floor['peak_mib']:.2f}x memory",
            flush=True,
        )
    chinese = cpu["zh-hant"] / cpu["en"]
    record("approval report: Chinese / English (CPU)", f"{chinese:.2f}x", goal="<= 1.1x", met=chinese <= 1.1)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    main()
