"""``manage.py approval_report CALL_REFERENCE --lang {en,zh-hant} --output FILE.pdf``: the approval report of a call,
for scheduled runs and archiving. The export is audited (actor: the command line)."""

from django.core.management.base import BaseCommand, CommandError

from portal.calls.models import Call
from portal.reports.documents import approval_report_pdf
from portal.reports.selectors import approval_report_data
from portal.reports.services import export_record, report_version

from ._common import add_document_arguments, write_output


class Command(BaseCommand):
    help = "Write the approval report of a call as PDF."

    def add_arguments(self, parser):
        add_document_arguments(parser, "call_reference")

    def handle(self, *args, call_reference, lang, output, **options):
        call = Call.objects.filter(reference=call_reference).first()
        if call is None:
            raise CommandError(f"unknown call reference: {call_reference}")
        data = approval_report_data(call=call)
        fingerprint = data.fingerprint()
        version = report_version(call=call, fingerprint=fingerprint)
        pdf = approval_report_pdf(call=call, language=lang, data=data, version=str(version))
        write_output(self, output, pdf)
        export_record(
            actor=None,
            action="reports.approval_report_cli",
            obj=call,
            details={"language": lang, "version": version, "fingerprint": fingerprint, "output": output},
        )
        if output != "-":
            self.stdout.write(f"{output}: approval report of {call.reference}, version {version}, {len(pdf)} bytes")
