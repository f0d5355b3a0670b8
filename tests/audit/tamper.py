"""Tests that play someone with write access to the database: on PostgreSQL the audit table refuses UPDATE and
DELETE (a trigger), so they first switch triggers off for their session, as a superuser could."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def tampering():
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
