from django.core.management.base import BaseCommand, CommandError

from portal.audit.models import AuditEvent
from portal.audit.services import audit_verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain; exit non-zero naming the first broken record."

    def handle(self, *args, **options):
        broken = audit_verify()
        if broken is not None:
            raise CommandError(f"Audit chain broken at record #{broken.seq}: {broken.problem}.")
        self.stdout.write(f"Audit chain intact: {AuditEvent.objects.count()} records.")
