"""``manage.py decision_letter PROPOSAL_REFERENCE --lang {en,zh-hant} --output FILE.pdf``."""

from django.core.management.base import BaseCommand, CommandError

from portal.reports.documents import NoDecision, decision_letter_pdf
from portal.reports.selectors import letter_proposals
from portal.reports.services import export_record

from ._common import LANGUAGES, write_output


class Command(BaseCommand):
    help = "Write the decision letter of a proposal as PDF."

    def add_arguments(self, parser):
        parser.add_argument("proposal_reference")
        parser.add_argument("--lang", choices=LANGUAGES, default="en")
        parser.add_argument("--output", required=True, help="PDF file to write ('-' for standard output)")

    def handle(self, *args, proposal_reference, lang, output, **options):
        proposal = letter_proposals().filter(reference=proposal_reference).first()
        if proposal is None:
            raise CommandError(f"unknown proposal reference: {proposal_reference}")
        try:
            pdf = decision_letter_pdf(proposal=proposal, language=lang)
        except NoDecision as exc:
            raise CommandError(f"no decision yet on proposal {proposal_reference}") from exc
        write_output(self, output, pdf)
        export_record(
            actor=None, action="reports.decision_letter_cli", obj=proposal, details={"language": lang, "output": output}
        )
        if output != "-":
            self.stdout.write(f"{output}: decision letter of {proposal.reference}, {len(pdf)} bytes")
