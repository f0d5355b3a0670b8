import pytest
from django import forms
from django.core.exceptions import ValidationError

from portal.core.forms import error_text, form_add_service_errors

pytestmark = pytest.mark.unit


class ExampleForm(forms.Form):
    name = forms.CharField()
    email = forms.CharField()


class RenamingForm(ExampleForm):
    def field_for_error(self, name: str) -> str:
        return {"full_name": "name", "__all__": "email"}.get(name, name)


def bound(form_class=ExampleForm):
    form = form_class(data={"name": "Chan", "email": "chan@example.hk"})
    assert form.is_valid()
    return form


def test_service_errors_go_on_the_fields_they_name():
    form = bound()

    form_add_service_errors(form, ValidationError({"name": "Too short.", "budget": "Too high."}))

    assert form.errors == {"name": ["Too short."], "__all__": ["Too high."]}
    assert form.cleaned_data == {"email": "chan@example.hk"}


def test_service_error_without_field_is_an_error_of_the_form():
    form = bound()

    form_add_service_errors(form, ValidationError(["First.", "Second."]))

    assert form.non_field_errors() == ["First.", "Second."]


def test_form_may_say_which_field_a_service_error_belongs_to():
    form = bound(RenamingForm)

    form_add_service_errors(form, ValidationError({"full_name": "Give your full name."}))
    form_add_service_errors(form, ValidationError("Not this address."))

    assert form.errors == {"name": ["Give your full name."], "email": ["Not this address."]}


def test_error_text_joins_the_messages():
    assert error_text(ValidationError({"a": "One.", "b": ["Two.", "Three."]})) == "One. Two. Three."
