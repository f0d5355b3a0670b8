"""``manage.py billing_statement ACCOUNT --quarter YYYYQn [--format csv|pdf] [--lang en|zh-hant] [--output FILE]``.

Issues (records) the project's statement for the quarter, a new version only when its figures changed, and writes
it as CSV (the columns of ``portal.projects.billing.CSV_COLUMNS``, one line per pool) or as a PDF."""

from django.core.management.base import BaseCommand, CommandError

from portal.projects.billing import parse_quarter
from portal.projects.documents import billing_statement_pdf
from portal.projects.selectors import NoAward, stored_lines
from portal.projects.services import billing_csv, billing_statement_issue
from portal.proposals.models import Proposal
from portal.reports.management.commands._common import LANGUAGES, write_output


class Command(BaseCommand):
    help = "Issue and write a project's billing statement for a quarter (CSV or PDF)."

    def add_arguments(self, parser):
        parser.add_argument("account", help="the project's Slurm account, e.g. aiss-0007")
        parser.add_argument("--quarter", required=True, help="YYYYQn, e.g. 2026Q1")
        parser.add_argument("--format", choices=["csv", "pdf"], default="csv")
        parser.add_argument("--lang", choices=LANGUAGES, default="en")
        parser.add_argument("--output", default="-", help="file to write ('-', the default: standard output)")

    def handle(self, *args, account, quarter, format, lang, output, **options):
        try:
            parse_quarter(quarter)
        except ValueError:
            raise CommandError(f"--quarter must look like 2026Q1, not {quarter!r}") from None
        proposal = Proposal.objects.select_related("call", "organisation").filter(account_code=account).first()
        if proposal is None:
            raise CommandError(f"unknown account: {account}")
        try:
            statement = billing_statement_issue(proposal=proposal, quarter=quarter)
        except NoAward:
            raise CommandError(f"{account} has no locked award to bill") from None
        if format == "pdf":
            write_output(self, output, billing_statement_pdf(statement=statement, language=lang))
        elif output == "-":
            self.stdout.write(billing_csv(stored_lines(statement)), ending="")
        else:
            write_output(self, output, billing_csv(stored_lines(statement)).encode())
        if output != "-":
            self.stdout.write(
                f"{output}: billing statement {statement.reference} version {statement.version}"
                f"{' (final)' if statement.final else ''}, total payable {statement.total_payable:.2f}"
            )
