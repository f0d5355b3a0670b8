"""Form pieces every app shares: how a service's ``ValidationError`` reaches the form the user filled in."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def form_add_service_errors(form, error: ValidationError) -> None:
    """Attach a service's ``ValidationError`` to a bound, validated ``form``, so that the page says what is wrong
    beside the field concerned and keeps what was typed.

    Each message goes on the form's field of the same name; a form whose fields are named otherwise than the
    service's may say where with a method ``field_for_error(name) -> str`` (``name`` is ``"__all__"`` for an error
    that names no field). A message whose field the form does not have is an error of the form as a whole."""
    field_for = getattr(form, "field_for_error", None)
    grouped = error.error_dict.items() if hasattr(error, "error_dict") else [(NON_FIELD_ERRORS, error.error_list)]
    for name, errors in grouped:
        field = field_for(name) if field_for is not None else name
        form.add_error(field if field in form.fields else None, errors)


def error_text(error: ValidationError) -> str:
    """A service's ``ValidationError`` as one line, for a message shown above the page."""
    return " ".join(error.messages)
