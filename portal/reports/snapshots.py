"""Official exports kept as they were sent, and sent again until anything they show changes (issue 14 goal 1).

An export of a call's 10,000 proposals costs its database reading (joins, the ranking's order) more than writing
it; downloaded again with nothing changed, it is the same bytes. So each export (the call's tables as CSV or XLSX,
the committee's ranking as CSV) is kept (:class:`~portal.reports.models.ExportSnapshot`) with the **exports'
generation** it was read at, and served again while the generation is the same. Kept exports that can no longer be
sent are dropped every quarter of an hour (:func:`tidy`, Celery beat).

**The generation is kept by the database itself.** A trigger on every table an export reads
(:data:`WATCHED`) inserts a row into :class:`~portal.reports.models.ExportChange` whenever a row of it changes
in a way an export shows; the generation is the sum of those rows' weights. A trigger sees every change, whatever
made it: a service, a queryset ``update()``, a bulk insert, the admin, a shell or a SQL statement. Nobody has to
remember to tell.

Why this is never wrongly fresh:

- The change's row is part of the transaction that makes the change, so it becomes visible exactly when the
  change does (inserted rows, not a counter: writers never wait on each other, and on PostgreSQL no lock is
  taken that could deadlock with another).
- A reader reads the generation **before** it reads the export's rows. A change committed in between is in the
  rows but raises the generation, so the snapshot is stale at once (re-read next time, never wrong); a change
  committed later raises it too.
- The sum never goes down and never comes back to a value it had: :func:`compact` replaces the rows it deletes by
  one row of the same total, in one transaction.
- **Fail closed.** If any trigger is missing, no snapshot is read or kept: the export is read afresh, as without
  this module. ``migrate`` takes them all away before it changes anything (``pre_migrate``: no migration has to
  know of them), then drops every snapshot and puts them back (``post_migrate``; portal/reports/apps.py).

The same generation keeps smaller figures that sum a whole call (:func:`kept_values`): the allocation run page's
totals, which add up every award cell of the run.

What is not watched because it is kept elsewhere: the ranking's figures are made current (``figures_fresh``, which
writes :class:`~portal.reviews.models.ProposalFigures`, a watched table) before the generation is read; the
viewer's conflicts are part of a snapshot's key (the committee's ranking), as are the language and the table.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import translation

from .models import ExportChange, ExportSnapshot

logger = logging.getLogger(__name__)

# Raise when the bytes an export writes for the same data change (a column, a format): the old snapshots are then
# never served. Every ``migrate`` also removes them all (portal/reports/apps.py).
FORMAT = 1
CHUNK = 64 * 1024
# The log is folded into one row when a snapshot is kept and it has more rows than this.
COMPACT_ABOVE = 1000
TRIGGER_PREFIX = "export_change"


@dataclass(frozen=True)
class Watch:
    """A table an export reads. ``columns``: the fields whose change an export shows (``None``: any change);
    ``submitted_only``: only rows of a submitted proposal (``current_version``) are shown."""

    model: str
    columns: tuple[str, ...] | None = None
    submitted_only: bool = False


WATCHED = (
    Watch(
        "proposals.Proposal",
        ("reference", "title", "state", "organisation", "call", "current_version"),
        submitted_only=True,
    ),
    Watch("accounts.Organisation"),
    Watch("accounts.User", ("full_name",)),
    Watch("reviews.ProposalFigures"),
    Watch("reviews.Consensus"),
    Watch("reviews.ApplicantResponse"),
    Watch("decisions.Recommendation"),
    Watch("decisions.Decision"),
    Watch("allocations.AllocationRun", ("call", "locked_at")),
    Watch("allocations.Award"),
    Watch("allocations.AwardHours"),
    Watch("calls.ResourcePool", ("code",)),
    Watch("calls.Quarter", ("code", "starts_on")),
    Watch("calls.Call_pools"),
    Watch("calls.Call_quarters"),
)
EVENTS = ("insert", "update", "delete")


def _table(watch: Watch) -> str:
    return apps.get_model(watch.model)._meta.db_table


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _update_condition(watch: Watch, vendor: str) -> str:
    """The SQL condition on OLD and NEW under which an update is a change an export shows ('' for any)."""
    model = apps.get_model(watch.model)
    parts = []
    if watch.columns is not None:
        distinct = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
        columns = [_quote(model._meta.get_field(name).column) for name in watch.columns]
        parts.append("(" + " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns) + ")")
    if watch.submitted_only:
        version = _quote(model._meta.get_field("current_version").column)
        parts.append(f"(OLD.{version} IS NOT NULL OR NEW.{version} IS NOT NULL)")
    return " AND ".join(parts)


def _insert_change() -> str:
    return f"INSERT INTO {_quote(ExportChange._meta.db_table)} ({_quote('weight')}) VALUES (1)"  # noqa: S608 - names


def trigger_statements(vendor: str) -> list[str]:
    """The statements that put every trigger in place (again): idempotent, for ``post_migrate``."""
    if vendor == "postgresql":
        function = f"{TRIGGER_PREFIX}_note"
        statements = [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_insert_change()}; RETURN NULL; END $$"
        ]
        for watch in WATCHED:
            table = _quote(_table(watch))
            condition = _update_condition(watch, vendor)
            # Inserts and deletes once per statement (a bulk insert of 10,000 rows is one change); an update
            # that an export may not show is checked row by row, so that a draft's save is no change.
            statements.append(
                f"CREATE OR REPLACE TRIGGER {TRIGGER_PREFIX}_insert_delete AFTER INSERT OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
            if condition:
                statements.append(
                    f"CREATE OR REPLACE TRIGGER {TRIGGER_PREFIX}_update AFTER UPDATE ON {table} FOR EACH ROW "
                    f"WHEN ({condition}) EXECUTE FUNCTION {function}()"
                )
            else:
                statements.append(
                    f"CREATE OR REPLACE TRIGGER {TRIGGER_PREFIX}_update AFTER UPDATE ON {table} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION {function}()"
                )
        return statements
    if vendor == "sqlite":
        statements = []
        for watch in WATCHED:
            table = _table(watch)
            for event in EVENTS:
                condition = _update_condition(watch, vendor) if event == "update" else ""
                when = f" WHEN {condition}" if condition else ""
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {_quote(f'{TRIGGER_PREFIX}_{table}_{event}')} AFTER "
                    f"{event.upper()} ON {_quote(table)} FOR EACH ROW{when} BEGIN {_insert_change()}; END"
                )
        return statements
    return []


def expected_triggers(vendor: str) -> int:
    """How many triggers :func:`trigger_statements` puts in place."""
    if vendor == "postgresql":
        return 2 * len(WATCHED)
    if vendor == "sqlite":
        return len(EVENTS) * len(WATCHED)
    return -1  # another database: never in place, so never a snapshot


def install_triggers(*, using: str = "default") -> None:
    from django.db import connections

    db = connections[using]
    with db.cursor() as cursor:
        for statement in trigger_statements(db.vendor):
            cursor.execute(statement)


def _state_sql(vendor: str) -> str:
    # Names from the models and constants only (S608 is a false alarm here and below).
    changes = f"(SELECT COALESCE(SUM({_quote('weight')}), 0) FROM {_quote(ExportChange._meta.db_table)})"  # noqa: S608
    if vendor == "postgresql":
        triggers = (
            f"(SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '{TRIGGER_PREFIX}\\_%%' "  # noqa: S608
            "AND tgenabled <> 'D')"
        )
    else:
        triggers = f"(SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '{TRIGGER_PREFIX}%%')"  # noqa: S608
    return f"SELECT {triggers}, {changes}"


def generation() -> int | None:
    """The exports' generation now, or ``None`` when a trigger is missing (then no snapshot may be used)."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(vendor))
        triggers, total = cursor.fetchone()
    if triggers != expected_triggers(vendor):
        logger.warning("export snapshots are off: %s of %s triggers in place", triggers, expected_triggers(vendor))
        return None
    return int(total)


def snapshot_key(*parts) -> str:
    """The key of one export: what it is (its kind, call, table, the viewer's conflicts, its filters), the language
    its header is written in and the format's version."""
    text = repr((FORMAT, translation.get_language(), *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact() -> None:
    """Fold the change rows into one of the same total weight (the generation is unchanged)."""
    table = _quote(ExportChange._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608 - the model's table
        (last,) = cursor.fetchone()
        if last is None:
            return
        # Exactly the rows deleted are summed (RETURNING): a row committed meanwhile is either both or neither.
        cursor.execute(f"DELETE FROM {table} WHERE id <= %s RETURNING {_quote('weight')}", [last])  # noqa: S608
        total = sum(weight for (weight,) in cursor.fetchall())
        if total:
            ExportChange.objects.create(weight=total)


def _keep(at: int, bodies: dict[str, bytes]) -> None:
    """Keep the snapshots (key → body) read at generation ``at``; drop those of older generations."""
    try:
        with transaction.atomic():
            ExportSnapshot.objects.filter(Q(generation__lt=at) | Q(key__in=bodies)).delete()
            ExportSnapshot.objects.bulk_create(
                ExportSnapshot(key=key, generation=at, body=body) for key, body in bodies.items()
            )
    except IntegrityError:
        return  # another request kept the same snapshot at the same moment
    if ExportChange.objects.count() > COMPACT_ABOVE:
        compact()


def tidy() -> int:
    """Drop every snapshot older than the generation (all of them while a trigger is missing) and compact the
    change log. Returns how many snapshots were dropped."""
    at = generation()
    stale = ExportSnapshot.objects.all() if at is None else ExportSnapshot.objects.filter(generation__lt=at)
    dropped, _by_model = stale.delete()
    if at is not None:
        compact()
    return dropped


def _pieces(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def _kept_while_sent(key: str, at: int, pieces: Iterable[bytes]) -> Iterator[bytes]:
    sent = []
    for piece in pieces:
        sent.append(piece)
        yield piece
    # Only an export sent to the end is kept (a download broken off stops the generator before this).
    _keep(at, {key: b"".join(sent)})


def cached(key: str, build: Callable[[], Iterable[bytes]]) -> Iterable[bytes]:
    """The export's pieces: the snapshot kept for this generation, else ``build()``'s pieces, kept as they are sent.
    Whatever ``build`` reads must be read when its pieces are asked for (after the generation is read here)."""
    at = generation()
    if at is None:
        return build()
    body = ExportSnapshot.objects.filter(key=key, generation=at).values_list("body", flat=True).first()
    if body is not None:
        return _pieces(bytes(body))
    return _kept_while_sent(key, at, build())


def kept_values(keys: dict[Any, str], build: Callable[[list], dict[Any, Any]]) -> dict[Any, Any]:
    """Figures worked out from watched tables (JSON values), kept like an export: ``keys`` maps each item to its
    :func:`snapshot_key`; the items with a kept value at this generation are read from it (one query for all), and
    ``build(missing)`` works out the others (it must read them after this reads the generation), which are kept.
    A page's summary of a whole call (the allocation run's totals: 20,000 award cells summed at 10,000 proposals)
    then costs two small queries while nothing it sums changes."""
    at = generation()
    if at is None:
        return build(list(keys))
    found = {}
    bodies = dict(ExportSnapshot.objects.filter(key__in=set(keys.values()), generation=at).values_list("key", "body"))
    for item, key in keys.items():
        if key in bodies:
            found[item] = json.loads(bytes(bodies[key]))
    missing = [item for item in keys if item not in found]
    if missing:
        built = build(missing)
        _keep(at, {keys[item]: json.dumps(built[item], separators=(",", ":")).encode("utf-8") for item in missing})
        found.update(built)
    return found


def _tables_in_place(db) -> bool:
    tables = set(db.introspection.table_names())
    return {ExportChange._meta.db_table, ExportSnapshot._meta.db_table, *(_table(w) for w in WATCHED)} <= tables


def drop_triggers(*, using: str = "default") -> None:
    """Take every trigger away (before ``migrate``, so that no migration meets one: PostgreSQL refuses to change
    the type of a column a trigger's condition reads, and SQLite to drop it). Snapshots are off until they are back."""
    from django.db import connections

    db = connections[using]
    if not _tables_in_place(db):
        return
    with db.cursor() as cursor:
        for watch in WATCHED:
            table = _table(watch)
            if db.vendor == "postgresql":
                for name in (f"{TRIGGER_PREFIX}_insert_delete", f"{TRIGGER_PREFIX}_update"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {_quote(table)}")
            elif db.vendor == "sqlite":
                for event in EVENTS:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {_quote(f'{TRIGGER_PREFIX}_{table}_{event}')}")


def after_migrate(*, using: str) -> None:
    """After ``migrate``: every snapshot dropped (a change made while the triggers were away went unrecorded, and
    the exports' code may have changed), then the triggers put back, if every watched table is there (a
    ``migrate`` to an earlier state may have left one out: then no snapshot is ever used)."""
    from django.db import connections

    db = connections[using]
    if not _tables_in_place(db):
        return
    ExportSnapshot.objects.using(using).all().delete()
    install_triggers(using=using)
