"""The download of a proposal's attachment: the one response both the applicant's and the reviewer's pages give
(the caller has already checked that the user may see it)."""

from django.http import FileResponse

from portal.core.downloads import stored_file_response

from .models import Attachment
from .validators import pdf_download_name

ATTACHMENT_CONTENT_TYPE = "application/pdf"  # uploads are checked to be PDFs by their content


def attachment_response(attachment: Attachment) -> FileResponse:
    """The attachment under the name it was uploaded with (always ending in ``.pdf``); a 404 when storage no
    longer has the file."""
    return stored_file_response(
        attachment.file, filename=pdf_download_name(attachment.original_name), content_type=ATTACHMENT_CONTENT_TYPE
    )
