"""``manage.py decision_letter PROPOSAL_REFERENCE --lang {en,zh-hant} --output FILE.pdf``."""

from django.core.management.base import BaseCommand, CommandError

from portal.reports.documents import NoDecision, decision_letter_pdf

from ._common import add_document_arguments, write_proposal_document


class Command(BaseCommand):
    help = "Write the decision letter of a proposal as PDF."

    def add_arguments(self, parser):
        add_document_arguments(parser, "proposal_reference")

    def handle(self, *args, proposal_reference, lang, output, **options):
        def make(proposal):
            try:
                return decision_letter_pdf(proposal=proposal, language=lang)
            except NoDecision as exc:
                raise CommandError(f"no decision yet on proposal {proposal_reference}") from exc

        write_proposal_document(
            self,
            reference=proposal_reference,
            lang=lang,
            output=output,
            action="reports.decision_letter_cli",
            what="decision letter",
            make=make,
        )
