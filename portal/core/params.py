"""Reading query parameters that a visitor may have typed anything into: a value that is not what the page
expects is treated as absent, never passed on to the database (where it would be a server error)."""

from django.http import QueryDict

# PostgreSQL's bigint: the largest primary key there is.
MAX_ID = 2**63 - 1


def int_param(data: QueryDict, name: str) -> int | None:
    """A positive whole number (an object's id) from ``data[name]``; None when absent or anything else."""
    text = (data.get(name) or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def choice_param(data: QueryDict, name: str, choices) -> str | None:
    """``data[name]`` when it is one of ``choices`` (values); None otherwise."""
    value = data.get(name) or ""
    return value if value in {str(c) for c in choices} else None
