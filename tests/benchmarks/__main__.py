"""Run every benchmark module in this package that defines ``main()`` (or those named on the command line), each to
the end even when one fails, and print one table of measure, goal, figure and verdict (tests/benchmarks/results.py).
Exits 1 when a benchmark did not run to the end.

Each benchmark runs in a process of its own: one's memory (10,000 proposals, a PDF) must not count in the next's
peak (a process started by fork or exec keeps its parent's peak resident size), nor its leftovers change its timing.
"""

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path


def _names(wanted: set[str]) -> list[str]:
    package = importlib.import_module("tests.benchmarks")
    return [
        info.name
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        if info.name.startswith("bench_") and (not wanted or info.name in wanted)
    ]


def _one(name: str, out: Path) -> int:
    """In the child: run one benchmark, write its rows to ``out`` (JSON)."""
    import django

    django.setup()
    from tests.benchmarks import results

    results.start(name)
    code = 0
    try:
        importlib.import_module(f"tests.benchmarks.{name}").main()
    except Exception as error:  # one benchmark's failure must not hide the others' figures
        traceback.print_exc()
        results.failed(name, error)
        code = 1
    out.write_text(json.dumps([row.__dict__ for row in results.RESULTS]))
    return code


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    if sys.argv[1:2] == ["--one"]:
        return _one(sys.argv[2], Path(sys.argv[3]))
    from tests.benchmarks import results

    crashed = 0
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for name in _names(set(sys.argv[1:])):
            print(f"== {name} ==", flush=True)
            out = Path(tmp) / f"{name}.json"
            done = subprocess.run([sys.executable, "-m", "tests.benchmarks", "--one", name, str(out)], check=False)
            rows = json.loads(out.read_text()) if out.exists() else []
            results.RESULTS.extend(results.Result(**row) for row in rows)
            if done.returncode or not out.exists():
                if not any(row["verdict"] == "NOT MET" and row["measure"] == "ran to the end" for row in rows):
                    results.failed(name, RuntimeError(f"exit status {done.returncode}"))
                crashed += 1
    print("\n== results ==")
    print(results.table(), flush=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(run())
