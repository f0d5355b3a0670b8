import sys
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from portal.reports.selectors import letter_proposals
from portal.reports.services import export_record

LANGUAGES = [code for code, _name in settings.LANGUAGES]


def add_document_arguments(parser, subject: str) -> None:
    """The arguments of every PDF command: the ``subject``'s reference, ``--lang`` and ``--output``."""
    parser.add_argument(subject)
    parser.add_argument("--lang", choices=LANGUAGES, default="en")
    parser.add_argument("--output", required=True, help="PDF file to write ('-' for standard output)")


def write_output(command, output: str, content: bytes) -> None:
    if output == "-":
        sys.stdout.buffer.write(content)
        return
    try:
        Path(output).write_bytes(content)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}") from exc


def write_proposal_document(
    command, *, reference: str, lang: str, output: str, action: str, what: str, make: Callable
) -> None:
    """The body of a one-proposal PDF command: the proposal with ``reference`` (a one-line error if there is
    none), its PDF made by ``make(proposal)``, written to ``output``, the export audited as ``action`` (actor: the
    command line), and a line saying what was written."""
    proposal = letter_proposals().filter(reference=reference).first()
    if proposal is None:
        raise CommandError(f"unknown proposal reference: {reference}")
    pdf = make(proposal)
    write_output(command, output, pdf)
    export_record(actor=None, action=action, obj=proposal, details={"language": lang, "output": output})
    if output != "-":
        command.stdout.write(f"{output}: {what} of {proposal.reference}, {len(pdf)} bytes")
