from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.allocations.sacct import SacctError
from portal.allocations.usage import usage_import


class Command(BaseCommand):
    help = (
        "Import a Slurm `sacct --parsable2` export (all or nothing). Jobs already imported are updated, not "
        "added again. A bad file is refused whole, naming the line and the reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the sacct export")
        parser.add_argument("--actor", metavar="EMAIL", help="the official the import is recorded against")

    def handle(self, *args, **options):
        path: Path = options["file"]
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(email__iexact=options["actor"]).first()
            if actor is None:
                raise CommandError(f"No user with the email address {options['actor']}.")
        try:
            with path.open("rb") as stream:
                record = usage_import(stream=stream, filename=path.name, actor=actor)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from error
        except SacctError as error:
            raise CommandError(f"{path.name} refused, nothing imported: {error}.") from error
        unknown = ", ".join(entry["account"] for entry in record.unknown_accounts) or "none"
        self.stdout.write(
            f"{path.name}: {record.jobs_created} jobs created, {record.jobs_updated} updated, "
            f"{record.jobs_pending} pending skipped; unknown accounts: {unknown}."
        )
