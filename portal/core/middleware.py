"""Hostile input at the door (issue 10 §6): a NUL character has no meaning in any text the portal keeps, and
PostgreSQL refuses it in text and JSON (a server error). A query string with one is refused (400 page); from
submitted forms it is removed, so that everything else typed is kept and shown again."""

from django.core.exceptions import SuspiciousOperation
from django.http import QueryDict

NUL = "\x00"


class NulCharacterInQuery(SuspiciousOperation):
    """A query string with a NUL character: answered with the 400 page."""


def _without_nul(data: QueryDict) -> QueryDict | None:
    """A copy of ``data`` with every NUL removed from names and values; None when there is none."""
    if not any(NUL in key or any(NUL in v for v in values) for key, values in data.lists()):
        return None
    clean = QueryDict(mutable=True, encoding=data.encoding)
    for key, values in data.lists():
        clean.setlist(key.replace(NUL, ""), [v.replace(NUL, "") for v in values])
    clean._mutable = False
    return clean


class HostileInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _without_nul(request.GET) is not None:
            raise NulCharacterInQuery("NUL character in the query string")
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            clean = _without_nul(request.POST)
            if clean is not None:
                request._post = clean
        return self.get_response(request)
