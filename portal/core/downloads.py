"""The one way a page hands the user a file: a download (``Content-Disposition: attachment``, the name encoded for
any language), never kept by a shared cache, since everything the portal serves as a file is someone's data."""

from django.core.files import File
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header

NO_STORE = "private, no-store"


def download_response(content: bytes | str, *, filename: str, content_type: str) -> HttpResponse:
    """``content`` made on request (a PDF, a JSON document) as a download named ``filename``."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = NO_STORE
    return response


def stored_file_response(file: File, *, filename: str, content_type: str) -> FileResponse:
    """A file kept in storage (an uploaded attachment, a generated report) as a download named ``filename``,
    streamed from storage; a 404 when storage no longer has it."""
    try:
        handle = file.storage.open(file.name, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = NO_STORE
    return response
