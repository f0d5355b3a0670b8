"""``manage.py usage_statement PROPOSAL_REFERENCE --lang {en,zh-hant} --output FILE.pdf``."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from portal.reports.documents import usage_statement_pdf

from ._common import add_document_arguments, write_proposal_document


class Command(BaseCommand):
    help = "Write the usage statement of a project as PDF."

    def add_arguments(self, parser):
        add_document_arguments(parser, "proposal_reference")

    def handle(self, *args, proposal_reference, lang, output, **options):
        write_proposal_document(
            self,
            reference=proposal_reference,
            lang=lang,
            output=output,
            action="reports.usage_statement_cli",
            what="usage statement",
            make=lambda proposal: usage_statement_pdf(proposal=proposal, language=lang, today=timezone.localdate()),
        )
