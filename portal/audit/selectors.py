from django.db import connection
from django.db.models import QuerySet

from .models import AuditEvent


def audit_log() -> QuerySet[AuditEvent]:
    """The audit log, newest first, with the acting user joined."""
    return AuditEvent.objects.select_related("actor").order_by("-seq")


def _pairs_sql() -> str:
    qn = connection.ops.quote_name
    table = qn(AuditEvent._meta.db_table)
    action, kind = qn(AuditEvent._meta.get_field("action").column), qn(AuditEvent._meta.get_field("object_type").column)
    # Names from the model only (S608 is a false alarm). Each step seeks the next pair in the (action, object type)
    # index: the next object type of the same action, else the first of the next action. A handful of index seeks
    # per pair, whatever the number of records.
    same = (
        f"(SELECT e.{kind} FROM {table} e WHERE e.{action} = p.{action} AND e.{kind} > p.{kind} "  # noqa: S608
        f"ORDER BY e.{kind} LIMIT 1)"
    )
    following = f"(SELECT e.{action} FROM {table} e WHERE e.{action} > p.{action} ORDER BY e.{action} LIMIT 1)"  # noqa: S608
    first_kind = f"(SELECT e.{kind} FROM {table} e WHERE e.{action} = {following} ORDER BY e.{kind} LIMIT 1)"  # noqa: S608
    return (
        f"WITH RECURSIVE p({action}, {kind}) AS ("  # noqa: S608
        f"SELECT * FROM (SELECT {action}, {kind} FROM {table} ORDER BY {action}, {kind} LIMIT 1) AS first "
        f"UNION ALL SELECT CASE WHEN {same} IS NULL THEN {following} ELSE p.{action} END, "
        f"COALESCE({same}, {first_kind}) FROM p WHERE {same} IS NOT NULL OR {following} IS NOT NULL) "
        f"SELECT {action}, {kind} FROM p"
    )


def action_pairs() -> list[tuple[str, str]]:
    """Every distinct (action, object type) the log holds, in order, read by skipping through their index (one
    query, its cost in the number of pairs, not of records)."""
    with connection.cursor() as cursor:
        cursor.execute(_pairs_sql())
        return list(cursor.fetchall())
