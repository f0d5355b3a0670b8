from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from portal.decisions.models import (
    CheckKind,
    ClarificationRequest,
    Decision,
    Recommendation,
    RecommendedHours,
    ScreeningItem,
)

from .accounts import UserFactory


class ScreeningItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScreeningItem

    number = factory.Sequence(lambda n: n + 1)
    kind = CheckKind.MANUAL
    text = factory.Sequence(lambda n: f"Eligibility question {n}")


class RecommendationFactory(factory.django.DjangoModelFactory):
    """A current recommendation of a submitted proposal (pass ``proposal``)."""

    class Meta:
        model = Recommendation

    version = factory.LazyAttribute(lambda o: o.proposal.current_version)
    recommended = True
    subsidy_rate = Decimal("0.700")
    recommended_by = factory.SubFactory(UserFactory, role="committee_member")
    created_at = factory.LazyFunction(timezone.now)


class RecommendedHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecommendedHours

    gpu_hours = 100_000


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    proposal = factory.LazyAttribute(lambda o: o.recommendation.proposal)
    approved = True
    decided_by = factory.SubFactory(UserFactory, role="committee_chair")


class ClarificationRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClarificationRequest

    version = factory.LazyAttribute(lambda o: o.proposal.current_version)
    questions = "Please justify the GPU-hours in 2026Q2."
    requested_by = factory.SubFactory(UserFactory, role="secretariat")
    requested_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: o.requested_at + timedelta(days=14))
