from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from portal.calls.models import Call, CallQuestion, PoolCapacity, Quarter, ResourcePool, RubricCriterion, Scheme

DEFAULT_RUBRIC = [
    (1, "Alignment with Hong Kong's innovation-and-technology and AI development needs", Decimal("25"), None),
    (2, "Reasonableness of the compute request", Decimal("20"), 3),
    (3, "Technical and financial capability of the team", Decimal("20"), None),
    (4, "Implementation plan and schedule for using the compute", Decimal("20"), None),
    (5, "Deliverables, KPIs and wider impact", Decimal("15"), None),
]


class SchemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scheme
        django_get_or_create = ("code",)

    code = "aiss"
    name = "AI Subsidy Scheme"
    total_budget = Decimal("3000000000.00")


class QuarterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quarter
        django_get_or_create = ("code",)

    code = "2026Q1"
    starts_on = date(2026, 1, 1)
    ends_on = date(2026, 3, 31)


class ResourcePoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResourcePool
        django_get_or_create = ("code",)

    code = "h800"
    name = "AISC H800"
    gpu_type = "NVIDIA H800"
    list_price = Decimal("25.00")
    held_back_share = Decimal("0.100")


class PoolCapacityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolCapacity

    pool = factory.SubFactory(ResourcePoolFactory)
    quarter = factory.SubFactory(QuarterFactory)
    gpu_hours = 1_300_000


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    scheme = factory.SubFactory(SchemeFactory)
    reference = factory.Sequence(lambda n: f"aiss-2026-c{n}")
    title = factory.Sequence(lambda n: f"AISS call {n}")
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    subsidy_rate = Decimal("0.700")
    budget = Decimal("300000000.00")


class RubricCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RubricCriterion

    call = factory.SubFactory(CallFactory)
    number = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Criterion {n}")
    weight = Decimal("20")


QUARTERS_2026 = [
    ("2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("2026Q2", date(2026, 4, 1), date(2026, 6, 30)),
    ("2026Q3", date(2026, 7, 1), date(2026, 9, 30)),
    ("2026Q4", date(2026, 10, 1), date(2026, 12, 31)),
]


def open_call(**kwargs) -> Call:
    """An open call with the default rubric, the H800 pool and the four quarters of 2026."""
    call = CallFactory(**kwargs)
    pool = ResourcePoolFactory()
    call.pools.add(pool)
    for code, start, end in QUARTERS_2026:
        quarter = QuarterFactory(code=code, starts_on=start, ends_on=end)
        PoolCapacity.objects.get_or_create(pool=pool, quarter=quarter, defaults={"gpu_hours": 1_300_000})
        call.quarters.add(quarter)
    for number, name, weight, minimum in DEFAULT_RUBRIC:
        RubricCriterionFactory(call=call, number=number, name=name, weight=weight, min_to_pass=minimum)
    return call


__all__ = ["QUARTERS_2026", "timedelta"]


class CallQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallQuestion

    call = factory.SubFactory(CallFactory)
    number = factory.Sequence(lambda n: n + 1)
    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "An answer."
