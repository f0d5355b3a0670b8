"""``manage.py allocate --input problem.json --policy {rank,tiers,optimal} [--output result.json]``.

Runs the optimiser on a problem file (``docs/allocation.md``) and writes the result JSON to ``--output``
or stdout. A malformed input, an unreadable file or invalid JSON is refused with a one-line message naming the
field, and exit status 2.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.allocations.optimiser import DEFAULT_TIME_LIMIT, POLICIES, ProblemError, allocate

MALFORMED = 2


class Command(BaseCommand):
    help = "Allocate GPU-hours for a problem file under a policy and print (or write) the result as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, help="the problem, as JSON")
        parser.add_argument("--policy", required=True, choices=POLICIES)
        parser.add_argument("--output", help="write the result here instead of to stdout")
        parser.add_argument(
            "--time-limit",
            type=float,
            default=DEFAULT_TIME_LIMIT,
            help=f"seconds the optimal policy's solver may take (default {DEFAULT_TIME_LIMIT:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["input"])
        if options["time_limit"] <= 0:
            raise CommandError("--time-limit: must be a positive number of seconds", returncode=MALFORMED)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CommandError(f"--input {path}: cannot read: {reason}", returncode=MALFORMED) from exc
        try:
            problem = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"--input {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", returncode=MALFORMED
            ) from exc
        try:
            result = allocate(problem, options["policy"], time_limit=options["time_limit"])
        except ProblemError as exc:
            raise CommandError(str(exc), returncode=MALFORMED) from exc
        output = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            try:
                Path(options["output"]).write_text(output, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"--output {options['output']}: cannot write: {exc.strerror}") from exc
        else:
            self.stdout.write(output, ending="")
