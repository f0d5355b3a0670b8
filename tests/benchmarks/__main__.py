"""Run every benchmark module in this package that defines ``main()`` (or those named on the command line), each to
the end even when one fails, and print one table of measure, goal, figure and verdict (tests/benchmarks/results.py).
Exits 1 when a benchmark did not run to the end."""

import importlib
import os
import pkgutil
import sys
import traceback

import django


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    from tests.benchmarks import results

    wanted = set(sys.argv[1:])
    package = importlib.import_module("tests.benchmarks")
    crashed = 0
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (wanted and info.name not in wanted):
            continue
        print(f"== {info.name} ==", flush=True)
        results.start(info.name)
        try:
            importlib.import_module(f"tests.benchmarks.{info.name}").main()
        except Exception as error:  # one benchmark's failure must not hide the others' figures
            traceback.print_exc()
            results.failed(info.name, error)
            crashed += 1
    print("\n== results ==")
    print(results.table(), flush=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(run())
