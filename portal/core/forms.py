"""Form pieces every app shares: how a service's ``ValidationError`` reaches the form the user filled in, and
choices of rows that never pass a value that cannot be an id to the database."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from .params import MAX_ID


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


def is_id(value) -> bool:
    """``value`` could be a row's id: ASCII digits within the database's bigint (else the database is never asked,
    where it would be a server error)."""
    text = str(value).strip()
    return text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID


class ModelChoiceField(forms.ModelChoiceField):
    """A choice of one row by id; anything that cannot be an id is an invalid choice, as Django says it."""

    def to_python(self, value):
        if self.to_field_name is None and value not in self.empty_values and not is_id(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A choice of rows by id; anything that cannot be an id is refused, as Django refuses a wrong id."""

    def _check_values(self, value):
        if self.to_field_name is None:
            for pk in value:
                if not is_id(pk):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                    )
        return super()._check_values(value)
