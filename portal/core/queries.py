"""Query pieces shared by the apps' selectors."""

from django.db.models import Case, CharField, F, Func, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce


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


def yes_no_text(field: str, *, none: str = "") -> Case:
    """A boolean column as the exports write it: ``yes`` / ``no``, and ``none`` for NULL (no row joined)."""
    return Case(When(**{field: True}, then=Value("yes")), When(**{field: False}, then=Value("no")), default=Value(none))
