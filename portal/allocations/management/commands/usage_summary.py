from django.core.management.base import BaseCommand

from portal.allocations.usage import usage_by_account_quarter, usage_hours_display
from portal.core.exports import csv_write


class Command(BaseCommand):
    help = (
        "Print GPU-hours used per Slurm account and quarter (Hong Kong time) as CSV: account,quarter,gpu_hours. "
        "Hours have one decimal place, rounded half up from the exact GPU-seconds; rows sorted by account, quarter."
    )

    def handle(self, *args, **options):
        rows = (
            [row["account"], row["quarter"], usage_hours_display(row["gpu_seconds"])]
            for row in usage_by_account_quarter().iterator(chunk_size=2000)
        )
        csv_write(self.stdout, ["account", "quarter", "gpu_hours"], rows, line_end="\n")
