"""Reads on calls: what the public pages show, with their joins already made."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
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


# ---- The call's pools and quarters, as every applicant's form reads them ---------------------------------------


@cache
def _members_sql(vendor: str, name: str, order: str) -> str:
    """A SELECT of every column of the rows the call's many-to-many field ``name`` links to, in ``order``, for one
    call (its id the only parameter); names from the models, quoted for the ``vendor``'s database."""
    qn = connection.ops.quote_name
    field = Call._meta.get_field(name)
    model = field.related_model
    pk = qn(model._meta.pk.column)
    columns = ", ".join(f"member.{qn(f.column)}" for f in model._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM {qn(model._meta.db_table)} member "  # noqa: S608 - names from the models
        f"JOIN {qn(field.remote_field.through._meta.db_table)} link ON link.{qn(field.m2m_reverse_name())} = member.{pk} "
        f"WHERE link.{qn(field.m2m_column_name())} = %s "
        f"ORDER BY member.{qn(model._meta.get_field(order).column)}, member.{pk}"
    )


def call_pools(call_id: int) -> list[ResourcePool]:
    """The call's pools, by code. Every applicant's edit page, save, check and Submit reads them, and the quarters
    below: they are read as written SQL (``raw()``), which costs a third of what compiling the same ORM query each
    time does (issue 14: the deadline rush)."""
    return list(ResourcePool.objects.raw(_members_sql(connection.vendor, "pools", "code"), [call_id]))


def call_quarters(call_id: int) -> list[Quarter]:
    """The call's quarters, in order (see ``call_pools``)."""
    return list(Quarter.objects.raw(_members_sql(connection.vendor, "quarters", "starts_on"), [call_id]))
