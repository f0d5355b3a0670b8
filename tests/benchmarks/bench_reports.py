"""Benchmark: the approval report of a call with 1,000 proposals, in English and in Chinese.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_reports``). The data is made in a temporary SQLite
database. Each measure runs in a fresh child process (``multiprocessing`` fork), which asks the PDF module for the
document; WeasyPrint itself runs in the PDF module's render processes (one per section of the report), which
report their CPU time and peak memory (``renderer.py``). Reports pages, CPU time (user + system of the measuring
child and of every render process: the figure to compare on a shared machine), wall time, peak memory (of the
largest render process, and what the measuring child adds to the memory it had once the data was gathered: the
templates, the sections waiting to be joined, the joining, the PDF), the time to gather the data, and the ratio to the floor: WeasyPrint rendering a bare HTML
table of the same rows (same font, no styling) through the same PDF module; and, for information, to bare tables of
the rows and cells of the report's two long tables (the ranked list and the awards), to show how much is content.
Then the report of a call of ``LARGE``
proposals (``BENCH_REPORTS_LARGE``, default 5,000), in English, for its memory.
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
# A larger call, to show that the report's memory does not grow with the call (rendered in sections); 0 skips it.
LARGE = int(os.environ.get("BENCH_REPORTS_LARGE", "5000"))


def _child(conn, kind: str, call_id: int, language: str) -> None:
    import io

    from django.db import connections
    from pypdf import PdfReader

    from portal.calls.models import Call
    from portal.reports.documents import approval_report_pdf
    from portal.reports.pdf import html_to_pdf
    from portal.reports.selectors import approval_report_data

    connections.close_all()  # never share the parent's connection
    rss_started = _rss_kib()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("portal.reports").setLevel(logging.WARNING)
    renders = _RenderUsage()
    pdf_logger = logging.getLogger("portal.reports.pdf")
    pdf_logger.setLevel(logging.DEBUG)
    pdf_logger.propagate = False
    pdf_logger.addHandler(renders)
    call = Call.objects.get(pk=call_id)
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    data = approval_report_data(call=call)
    gathered = time.perf_counter() - started
    rss_gathered = _rss_kib()
    if kind == "report":
        pdf = approval_report_pdf(call=call, language=language, data=data, version="1", time_limit=600)
    elif kind == "content":
        pdf = html_to_pdf(_content_html(data, language), time_limit=600)
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
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before reading the PDF back here
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    conn.send(
        {
            "seconds": elapsed,
            "cpu": cpu + sum(renders.cpu),
            "gather": gathered,
            "pages": pages,
            "peak_mib": max(renders.peak_kib, default=0) / 1024,
            "caller_mib": peak_kib / 1024,
            "caller_added_mib": (peak_kib - rss_gathered) / 1024,
            "data_mib": (rss_gathered - rss_started) / 1024,
            "renders": len(renders.cpu),
            "bytes": len(pdf),
        }
    )
    conn.close()


def _content_html(data, language: str) -> str:
    """Bare tables (same font, no styling) of the rows and cells of the report's two long tables: the ranked list
    and the awards of section 4, as text, without the report's words (escaped: the titles are user text)."""
    from html import escape

    def table(rows) -> str:
        return "<table>" + "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)

    ranking = (
        (
            r.rank or "",
            f"{r.proposal.reference} {r.proposal.title} · {r.proposal.organisation.name}",
            r.figures.review_count,
            r.figures.raw_mean or "",
            r.figures.calibrated_mean or "",
            r.figures.consensus or "",
            "D" if r.figures.disagreement else "",
            r.recommended,
            r.approved,
            r.requested_hours,
        )
        for r in data.rows
    )
    awards = (
        (
            f"{r.proposal.reference} {r.proposal.title}",
            r.decision.decided_by.full_name if r.decision else "",
            *(r.award.cells.get(tuple(key), 0) if r.award else "" for key in data.cell_keys),
            r.award.hours if r.award else "",
            r.award.subsidy_rate if r.award else "",
            r.award.subsidy if r.award else "",
        )
        for r in data.rows
        if r.approved or r.award
    )
    return (
        f'<html lang="{language}"><body style="font-family: \'Noto Sans CJK TC\'; font-size: 8pt">'
        f"{table(ranking)}</table>{table(awards)}</table></body></html>"
    )


class _RenderUsage(logging.Handler):
    """Collects the CPU time and peak memory that each render process reports (``renderer.py``)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.cpu: list[float] = []
        self.peak_kib: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "pdf_cpu"):
            self.cpu.append(record.pdf_cpu)
            self.peak_kib.append(record.pdf_peak_kib)


def _rss_kib() -> int:
    """This process's resident memory now (a forked child starts with its parent's)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


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
        # For information, no verdict: how much of the report is its content, the same rows and cells as bare tables.
        content = _measure("content", rc.call.pk, language)
        record(
            f"approval report, {PROPOSALS:,} proposals [{language}] / bare tables of its two long tables (CPU)",
            f"{report['cpu'] / content['cpu']:.2f}x",
        )
        _record_memory(report, PROPOSALS, language)
        record(f"approval report data, {PROPOSALS:,} proposals [{language}]", f"{report['gather'] * 1000:.0f} ms")
        print(
            f"approval report [{language}]: {_summary(report)}; bare table: {floor['pages']} pages, "
            f"{floor['cpu']:.1f} s CPU, {floor['seconds']:.1f} s wall, peak {floor['peak_mib']:.0f} MiB; "
            f"ratio {report['cpu'] / floor['cpu']:.2f}x CPU, {report['seconds'] / floor['seconds']:.2f}x wall, "
            f"{report['peak_mib'] / floor['peak_mib']:.2f}x memory; bare tables of its two long tables: "
            f"{content['pages']} pages, {content['cpu']:.1f} s CPU (ratio {report['cpu'] / content['cpu']:.2f}x)",
            flush=True,
        )
    chinese = cpu["zh-hant"] / cpu["en"]
    record("approval report: Chinese / English (CPU)", f"{chinese:.2f}x", goal="<= 1.1x", met=chinese <= 1.1)
    if LARGE:
        started = time.perf_counter()
        large = report_call(LARGE, seed=13, hours_per_quarter=100_000)
        print(f"data: {LARGE:,} proposals made in {time.perf_counter() - started:.1f} s", flush=True)
        connections.close_all()
        report = _measure("report", large.call.pk, "en")
        _record_memory(report, LARGE, "en")
        print(f"approval report of {LARGE:,} proposals [en]: {_summary(report)}", flush=True)


def _record_memory(report: dict, proposals: int, language: str) -> None:
    from tests.benchmarks.results import record

    record(
        f"approval report, {proposals:,} proposals [{language}]: peak memory of a render process",
        f"{report['peak_mib']:.0f} MiB",
        goal="<= 400 MB",
        met=report["peak_mib"] * 2**20 <= 400e6,
    )
    record(
        f"approval report, {proposals:,} proposals [{language}]: memory the calling process adds to its data",
        f"{report['caller_added_mib']:.0f} MiB",
        goal="<= 400 MB",
        met=report["caller_added_mib"] * 2**20 <= 400e6,
    )


def _summary(report: dict) -> str:
    return (
        f"{report['pages']} pages, {report['cpu']:.1f} s CPU, {report['seconds']:.1f} s wall "
        f"(data {report['gather'] * 1000:.0f} ms), {report['renders']} renders peaking at {report['peak_mib']:.0f} MiB, "
        f"calling process {report['caller_mib']:.0f} MiB (data +{report['data_mib']:.0f}, "
        f"then the report +{report['caller_added_mib']:.0f}), "
        f"{report['bytes'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    main()
