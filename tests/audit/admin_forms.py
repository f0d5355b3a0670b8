"""Post a Django admin change form as the browser would: every field and inline as the page shows it, with the
given changes."""

from typing import Any


def _value(bound) -> Any:
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return "on" if value else ""
    return value


def _form_fields(form) -> dict[str, Any]:
    data = {}
    for name, field in form.fields.items():
        bound = form[name]
        widget = field.widget
        if hasattr(widget, "widgets"):  # split date/time
            values = widget.decompress(bound.value()) if not isinstance(bound.value(), list) else bound.value()
            for i, value in enumerate(values):
                data[f"{bound.html_name}_{i}"] = "" if value is None else value
            continue
        value = _value(bound)
        if value == "" and field.__class__.__name__ == "BooleanField":
            continue
        data[bound.html_name] = value
    return data


def admin_form_data(response, **changes) -> dict[str, Any]:
    """The POST data of the admin change (or add) page in ``response``, with ``changes`` applied (field names as
    posted, e.g. ``criteria-0-weight``)."""
    context = response.context
    data = _form_fields(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management[name].html_name] = management[name].value()
        for form in formset.forms:
            data.update(_form_fields(form))
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}
