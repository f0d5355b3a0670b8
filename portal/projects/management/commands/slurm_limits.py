"""``manage.py slurm_limits [--format sacctmgr|json] [--changes] [--quarter YYYYQn]``.

Prints each active project's GPU-hours of the quarter (default: the current quarter in Hong Kong) as a Slurm account
limit, ``sacctmgr -i modify account name=ACCOUNT set GrpTRESMins=gres/gpu=MINUTES``, or as JSON; with ``--changes``
only what changed since the last export. Every run is recorded as an export (and audited)."""

import json

from django.core.management.base import BaseCommand, CommandError

from portal.projects.billing import parse_quarter
from portal.projects.centre import current_quarter, slurm_limits_export


class Command(BaseCommand):
    help = "Print the Slurm account limits (GPU-minutes) of the active projects for the centre."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["sacctmgr", "json"], default="sacctmgr")
        parser.add_argument("--changes", action="store_true", help="only the limits changed since the last export")
        parser.add_argument("--quarter", help="YYYYQn (default: the current quarter, Hong Kong time)")

    def handle(self, *args, format, changes, quarter, **options):
        if quarter is None:
            quarter = current_quarter()
        else:
            try:
                parse_quarter(quarter)
            except ValueError:
                raise CommandError(f"--quarter must look like 2026Q1, not {quarter!r}") from None
        limits = slurm_limits_export(quarter=quarter, changes_only=changes)
        if format == "json":
            document = {"quarter": quarter, "changes_only": changes, "limits": [limit.as_json() for limit in limits]}
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            for limit in limits:
                self.stdout.write(limit.sacctmgr())
