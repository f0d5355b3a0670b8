"""Reads on calls: what the public pages show, with their joins already made."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Prefetch, QuerySet
from django.utils import timezone

from portal.core.queries import count_of
from portal.proposals.models import Proposal

from .models import Call, CallQuestion, Quarter, ResourcePool, RubricCriterion


def calls_public() -> QuerySet[Call]:
    """Every call, with what its public page shows."""
    return Call.objects.select_related("scheme").prefetch_related(
        Prefetch("pools", queryset=ResourcePool.objects.order_by("code")),
        Prefetch("quarters", queryset=Quarter.objects.order_by("starts_on")),
        Prefetch("criteria", queryset=RubricCriterion.objects.order_by("number")),
        Prefetch("questions", queryset=CallQuestion.objects.order_by("number")),
    )


@dataclass(frozen=True)
class CallsByStatus:
    open: list[Call]
    upcoming: list[Call]
    closed: list[Call]


def calls_by_status(*, now: datetime | None = None, closed_limit: int = 10) -> CallsByStatus:
    """Open calls (closing soonest first), upcoming calls (opening soonest first) and the latest closed ones."""
    now = now or timezone.now()
    calls = calls_public()
    return CallsByStatus(
        open=list(calls.filter(opens_at__lte=now, closes_at__gte=now).order_by("closes_at", "pk")),
        upcoming=list(calls.filter(opens_at__gt=now).order_by("opens_at", "pk")),
        closed=list(calls.filter(closes_at__lt=now).order_by("-closes_at", "-pk")[:closed_limit]),
    )


def calls_for_secretariat() -> QuerySet[Call]:
    """Every call for the secretariat's list, newest first, with how many proposals were submitted to each."""
    return Call.objects.annotate(
        submitted=count_of(Proposal.objects.filter(call=OuterRef("pk"), submitted_at__isnull=False))
    ).order_by("-opens_at", "-pk")
