"""The query pieces that long exports read with (portal/core/queries.py), on the database the tests run on."""

import pytest
from django.db.models import Count, DecimalField, OuterRef, Subquery, Value

from portal.accounts.models import Membership, Organisation
from portal.core.exports import FORMULA_STARTS
from portal.core.queries import FixedText, FormulaSafe, OncePerGroup, rows_as_read
from tests.factories import MembershipFactory, OrganisationFactory


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


def test_a_subquery_once_per_group_gives_its_value_and_is_not_grouped_by(organisation):
    """Grouped per organisation over its joined memberships: the subquery on the group's key gives the same as a
    plain Subquery, and stays out of the GROUP BY (where the database would work it out for every joined row)."""
    other = OrganisationFactory(name="Kowloon Robotics")
    members = [MembershipFactory(organisation=organisation) for _ in range(3)]
    first = members[0].user.email
    MembershipFactory(organisation=other)
    email = Membership.objects.filter(organisation=OuterRef("pk")).order_by("pk").values("user__email")[:1]

    def grouped(subquery):
        return (
            Organisation.objects.filter(pk__in=[organisation.pk, other.pk])
            .values("pk")
            .order_by("pk")
            .values_list("pk", Count("memberships"), subquery)
        )

    once, plain = grouped(OncePerGroup(email)), grouped(Subquery(email))
    other_email = other.memberships.get().user.email
    assert list(once) == list(plain) == [(organisation.pk, 3, first), (other.pk, 1, other_email)]
    # Grouped by the first column only; a plain Subquery is grouped by too (by its position, the third).
    assert str(once.query).split("GROUP BY")[-1].startswith(" 1 ORDER BY")
    assert str(plain.query).split("GROUP BY")[-1].startswith(" 1, 3 ORDER BY")
