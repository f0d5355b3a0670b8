"""On PostgreSQL a kept export's body is stored out of line but not compressed: a CSV of 10,000 rows is kept in
the request that reads it, and pglz would spend longer compressing it than writing it (portal/reports/snapshots.py)."""

from django.db import migrations


def body_external(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE reports_exportsnapshot ALTER COLUMN body SET STORAGE EXTERNAL")


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_export_snapshots")]

    operations = [migrations.RunPython(body_external, migrations.RunPython.noop)]
