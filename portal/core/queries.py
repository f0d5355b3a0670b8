"""Query pieces shared by the apps' selectors."""

from collections.abc import Iterator
from itertools import chain

from django.db.models import Case, CharField, F, Func, Model, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.sql import InsertQuery, UpdateQuery
from django.db.models.sql.constants import MULTI

from .exports import FORMULA_STARTS


def update_sql(rows: QuerySet, values: dict, connection) -> tuple[str, list]:
    """The SQL and parameters of ``rows.update(**values)``, not run: for a statement that sends it with others (in
    a WITH, or in the same round trip), where a row every writer waits for is held until the commit."""
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def insert_sql(objs: list[Model], connection) -> list[tuple[str, list]]:
    """The SQL and parameters of inserting the new ``objs`` (one model) with every field as ``bulk_create`` writes
    it, returning their ids in order, not run (see ``update_sql``)."""
    meta = objs[0]._meta
    query = InsertQuery(type(objs[0]))
    query.insert_values([f for f in meta.concrete_fields if not f.primary_key], objs)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    return [(sql, list(params)) for sql, params in compiler.as_sql()]


def count_of(rows: QuerySet) -> Coalesce:
    """How many ``rows`` there are (a queryset filtered on ``OuterRef``), as an annotation: a subquery per listed
    row, a count on an index, rather than a JOIN grouped by every column of the listed model, JSON and long texts
    included, which grows with every row joined (issue 14)."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted), 0)


class FixedText(Func):
    """A number as text with ``places`` decimals, rounded half up (as :func:`portal.reviews.scoring.q2`), formatted by
    the database, for long exports whose cells would otherwise each become a ``Decimal`` and then text again. Exact
    on PostgreSQL (``numeric``); on SQLite Django keeps decimals as floating point, and ``printf`` rounds those."""

    output_field = CharField()

    def __init__(self, expression, places: int, *, nullable: bool = True):
        super().__init__(expression)
        self.places = int(places)
        self.nullable = nullable  # False: never NULL (SQLite then works the expression out once, not twice)

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(ROUND(({sql}), {self.places}) AS TEXT)", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        shown = f"printf('%%.{self.places}f', ({sql}))"
        if not self.nullable:
            return shown, params
        return f"CASE WHEN ({sql}) IS NULL THEN NULL ELSE {shown} END", [*params, *params]


class UtcMinute(Func):
    """A stored (UTC) date and time as text to the minute, ``YYYY-MM-DD HH:MM``, for exports that show many: the
    conversion to Hong Kong time is then worked out once per distinct minute (:func:`portal.core.exports.hk_minute`)
    rather than once per row."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')", params

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps an aware date and time on SQLite as UTC text: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"substr(({sql}), 1, 16)", params


class OncePerGroup(Subquery):
    """A correlated subquery of a grouped query that refers only to the columns it is grouped by (a proposal's
    ``pk`` in a query grouped per proposal): the database works it out once per group, in the SELECT list. It is
    never put in the GROUP BY, where it would be worked out for every joined row before grouping (and, on SQLite,
    once more for the output)."""

    def get_group_by_cols(self):
        return []


def yes_no_text(field: str, *, none: str = "") -> Case:
    """A boolean column as the exports write it: ``yes`` / ``no``, and ``none`` for NULL (no row joined)."""
    return Case(When(**{field: True}, then=Value("yes")), When(**{field: False}, then=Value("no")), default=Value(none))


class FormulaSafe(Func):
    """Text typed by people as a spreadsheet may be given it: with a leading apostrophe when it starts like a formula
    (``FORMULA_STARTS`` of :mod:`portal.core.exports`, the rule of its ``safe_cell``), worked out by the database for
    long exports read as values, so that no row needs Python to look at it."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        starts = ", ".join(["%s"] * len(FORMULA_STARTS))
        return (
            f"CASE WHEN substr(({sql}), 1, 1) IN ({starts}) THEN %s || ({sql}) ELSE ({sql}) END",
            [*params, *FORMULA_STARTS, "'", *params, *params],
        )


# What the drivers (psycopg2, sqlite3) hand over as Python's own text and integers, needing no conversion.
_READY_AS_READ = frozenset(
    {
        "CharField",
        "TextField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
        "AutoField",
        "BigAutoField",
    }
)


def rows_as_read(queryset: QuerySet, *, chunk_size: int = 2000) -> Iterator[tuple]:
    """The rows of a ``values_list`` queryset as the database driver hands them over: tuples, fetched ``chunk_size``
    at a time (a server-side cursor on PostgreSQL), with none of Django's work per row (issue 14: an export of 10,000
    rows). Every column must be text or an integer, which the drivers give as Python's own: any other column (a
    decimal, a boolean or a date, which SQLite gives as numbers and text; JSON) is refused, since it would reach
    the file unconverted."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    compiler.setup_query()
    for column, *_rest in compiler.select[: compiler.col_count]:
        field = column.output_field
        if field.get_internal_type() not in _READY_AS_READ or compiler.connection.ops.get_db_converters(column):
            raise ValueError(f"rows_as_read() reads text and integers only, not {column!r}")
    return chain.from_iterable(compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size))
