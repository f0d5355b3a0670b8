"""Post the secretariat's call page as the browser would: every field of every form and formset with the value the
page shows, then the test's changes."""

from django import forms as django_forms

from portal.calls.forms import CallSetupForms


def _form_data(form) -> dict:
    data = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.field.prepare_value(bound.value())
        widget = bound.field.widget
        if isinstance(widget, django_forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
            continue
        formatted = widget.format_value(value)
        if isinstance(formatted, list):
            if not formatted:
                continue
            formatted = formatted[0]
        data[bound.html_name] = "" if formatted is None else str(formatted)
    return data


def call_page_data(call=None, **changes) -> dict:
    forms = CallSetupForms(call=call)
    data = {}
    for form in forms.forms:
        data.update(_form_data(form))
    for formset in forms.formsets:
        data.update(_form_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_data(form))
    data.update(changes)
    return data
