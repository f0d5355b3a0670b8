"""The query pieces that long exports read with (portal/core/queries.py), on the database the tests run on."""

import pytest
from django.db.models import DecimalField, Value

from portal.accounts.models import Organisation
from portal.core.exports import FORMULA_STARTS
from portal.core.queries import FixedText, FormulaSafe, rows_as_read
from tests.factories import OrganisationFactory


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Lantau AI Research Centre")


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_formula_safe_gives_text_starting_like_a_formula_an_apostrophe(organisation, start):
    Organisation.objects.filter(pk=organisation.pk).update(name=f"{start}SUM(1+1)")
    rows = Organisation.objects.filter(pk=organisation.pk).values_list(FormulaSafe("name"), flat=True)
    assert list(rows) == [f"'{start}SUM(1+1)"]


@pytest.mark.parametrize("text", ["Lantau AI", "", "a=b", " =1", "'=1"])
def test_formula_safe_leaves_other_text_alone(organisation, text):
    rows = Organisation.objects.filter(pk=organisation.pk).values_list(FormulaSafe(Value(text)), flat=True)
    assert list(rows) == [text]


def test_rows_as_read_hands_over_text_and_integers_as_tuples(organisation):
    rows = Organisation.objects.filter(pk=organisation.pk).values_list(
        "pk", FormulaSafe("name"), FixedText(Value(2.5, output_field=DecimalField()), 2)
    )
    assert list(rows_as_read(rows)) == [(organisation.pk, "Lantau AI Research Centre", "2.50")]


def test_rows_as_read_refuses_a_column_the_driver_would_give_unconverted(organisation):
    """A decimal is a float on SQLite and a date is text: either would reach the file as the driver gave it."""
    with pytest.raises(ValueError, match="text and integers only"):
        rows_as_read(Organisation.objects.values_list("pk", Value(2.5, output_field=DecimalField())))
    with pytest.raises(ValueError, match="text and integers only"):
        rows_as_read(Organisation.objects.values_list("created_at"))
