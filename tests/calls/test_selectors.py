"""Reads on calls."""

from decimal import Decimal

import pytest

from portal.calls.selectors import call_pools, call_quarters
from tests.factories.calls import QuarterFactory, ResourcePoolFactory, open_call

pytestmark = pytest.mark.django_db


def _fields(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


def test_call_pools_and_quarters_are_the_calls_own_in_order_with_every_field_as_the_orm_reads_it(
    django_assert_num_queries,
):
    """The written reads of the applicant's form give what the ORM's do: the call's own pools by code and quarters
    by date, never another call's, every field typed as the model types it (prices as Decimal on every database)."""
    call = open_call()
    a100 = ResourcePoolFactory(code="a100", name="AISC A100", list_price=Decimal("12.35"))
    call.pools.add(ResourcePoolFactory(code="z900", name="AISC Z900", list_price=Decimal("40.10")), a100)
    other = open_call(reference="AISS-OTHER")
    other.pools.add(ResourcePoolFactory(code="b200", name="Someone else's"))
    other.quarters.add(QuarterFactory(code="2027Q1", starts_on="2027-01-01", ends_on="2027-03-31"))
    with django_assert_num_queries(2):
        pools, quarters = call_pools(call.pk), call_quarters(call.pk)
    assert [p.code for p in pools] == ["a100", "h800", "z900"]
    assert [_fields(p) for p in pools] == [_fields(p) for p in call.pools.order_by("code")]
    assert [_fields(q) for q in quarters] == [_fields(q) for q in call.quarters.order_by("starts_on")]
    assert [q.code for q in quarters] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert pools[0].list_price == Decimal("12.35")
    assert isinstance(pools[0].list_price, Decimal)
    assert not pools[0]._state.adding
    assert call_pools(0) == []
