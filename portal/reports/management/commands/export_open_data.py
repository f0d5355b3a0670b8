"""``manage.py export_open_data --format {csv,json} --output FILE [--call CALL_REFERENCE]``: approved projects (title,
organisation, GPU-hours, subsidy), no personal data."""

from django.core.management.base import BaseCommand, CommandError

from portal.calls.models import Call
from portal.reports.enums import OpenDataFormat
from portal.reports.exports import open_data
from portal.reports.selectors import open_data_rows
from portal.reports.services import export_record

from ._common import write_output


class Command(BaseCommand):
    help = "Write the open data of approved projects as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=OpenDataFormat.values, required=True)
        parser.add_argument("--output", required=True, help="file to write ('-' for standard output)")
        parser.add_argument("--call", default="", help="only this call (its reference)")

    def handle(self, *args, output, call, **options):
        fmt = options["format"]
        call_obj = None
        if call:
            call_obj = Call.objects.filter(reference=call).first()
            if call_obj is None:
                raise CommandError(f"unknown call reference: {call}")
        rows = open_data_rows(call=call_obj)
        write_output(self, output, open_data(rows, fmt))
        export_record(
            actor=None,
            action="reports.open_data_cli",
            obj=call_obj,
            details={"format": fmt, "call": call or "all", "projects": len(rows), "output": output},
        )
        if output != "-":
            self.stdout.write(f"{output}: {len(rows)} approved projects")
