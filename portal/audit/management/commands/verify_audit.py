import re

from django.core.management.base import BaseCommand, CommandError

from portal.audit.models import AuditEvent, AuditHead
from portal.audit.services import audit_verify
from portal.audit.verification import records_verify

HEAD = re.compile(r"^#?(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Check the audit log's keyed hash chain, then that the records match it: every submitted version still "
        "hashes to the SHA-256 on its receipt, every proposal's state, decision and locked award equal the last "
        "audited values. Exits non-zero with one line per problem, naming the record."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            action="store_true",
            help="Also print the chain's head (number and digest) to keep outside the portal.",
        )
        parser.add_argument(
            "--expect-head",
            metavar="SEQ:DIGEST",
            help="A head printed by --head earlier: check that the chain still holds that record with that digest "
            "(a truncated or rewritten log fails).",
        )

    def handle(self, *args, head=False, expect_head=None, **options):
        expected = None
        if expect_head:
            match = HEAD.match(expect_head.strip().lower())
            if match is None:
                raise CommandError("--expect-head takes SEQ:DIGEST as printed by --head (64 hexadecimal digits).")
            expected = (int(match[1]), match[2])
        problems: list[str] = []
        broken = audit_verify()
        if broken is not None:
            problems.append(f"Audit chain broken at record #{broken.seq}: {broken.problem}.")
        if expected is not None:
            kept = AuditEvent.objects.filter(seq=expected[0]).values_list("hash", flat=True).first()
            if kept is None:
                problems.append(f"Audit chain head #{expected[0]} kept outside the portal is missing: truncated.")
            elif kept != expected[1]:
                problems.append(f"Audit record #{expected[0]} differs from the head kept outside the portal.")
        record_problems, counts = records_verify()
        problems.extend(f"{p}." for p in record_problems)
        if head:
            current = AuditHead.objects.filter(pk=1).first()
            self.stdout.write(
                f"Audit chain head: #{current.seq}:{current.hash}" if current else "Audit chain head: none"
            )
        if len(problems) == 1:
            raise CommandError(problems[0])
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} problems found (listed above).")
        self.stdout.write(f"Audit chain intact: {AuditEvent.objects.count()} records.")
        self.stdout.write(
            f"Records match the audit log: {counts.versions} submitted versions, {counts.proposals} proposals, "
            f"{counts.decisions} decisions, {counts.awards} locked awards."
        )
