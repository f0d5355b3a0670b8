import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

LANGUAGES = [code for code, _name in settings.LANGUAGES]


def write_output(command, output: str, content: bytes) -> None:
    if output == "-":
        sys.stdout.buffer.write(content)
        return
    try:
        Path(output).write_bytes(content)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}") from exc
