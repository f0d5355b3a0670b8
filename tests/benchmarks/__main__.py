"""Run every benchmark module in this package that defines ``main()`` and print its report."""

import importlib
import os
import pkgutil
import sys

import django


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    wanted = set(sys.argv[1:])
    package = importlib.import_module("tests.benchmarks")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (wanted and info.name not in wanted):
            continue
        module = importlib.import_module(f"tests.benchmarks.{info.name}")
        print(f"== {info.name} ==", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(run())
