"""The stored figures keep their weighted scores as the committee's ranking export writes them (issue 14: read as a
column, not worked out from ``exact`` on every export). Figures stored before have none: their calls' state rows
are removed, so that each call's figures are computed again (with the text) the first time they are read."""

from django.db import migrations, models


def figures_stale(apps, schema_editor):
    apps.get_model("reviews", "CallFigures").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_ranking_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="proposalfigures",
            name="weighted_scores",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(figures_stale, migrations.RunPython.noop),
    ]
