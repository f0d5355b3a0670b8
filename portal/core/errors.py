"""The error pages (400, 403, 404, 500): the portal's own, in the reader's language, drawn without the request's
context (no session, no user, no database), since any of those may be what failed."""

import logging

from django.http import HttpResponse
from django.template import loader

logger = logging.getLogger(__name__)

PLAIN_TEXT = {
    400: "Bad request (400)",
    403: "Not allowed (403)",
    404: "Page not found (404)",
    500: "Server error (500)",
}


def error_page(template_name: str, status: int) -> HttpResponse:
    """The page ``template_name`` with ``status``; a line of plain text should the template itself fail."""
    try:
        content = loader.render_to_string(template_name)
        content_type = "text/html; charset=utf-8"
    except Exception:  # the error page must never be an error itself
        logger.exception("the %s page could not be drawn", status)
        content, content_type = PLAIN_TEXT[status], "text/plain; charset=utf-8"
    return HttpResponse(content, status=status, content_type=content_type)


def bad_request(request, exception=None):
    return error_page("400.html", 400)


def permission_denied(request, exception=None):
    return error_page("403.html", 403)


def page_not_found(request, exception=None):
    return error_page("404.html", 404)


def server_error(request):
    return error_page("500.html", 500)
