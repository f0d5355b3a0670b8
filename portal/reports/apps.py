from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ReportsConfig(AppConfig):
    name = "portal.reports"
    label = "reports"

    def ready(self) -> None:
        pre_migrate.connect(_before_migrate, sender=self, dispatch_uid="reports.export_triggers_off")
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="reports.export_triggers_on")


def _before_migrate(sender, using, **kwargs) -> None:
    """The export snapshots' triggers taken away while ``migrate`` changes tables (portal/reports/snapshots.py)."""
    from . import snapshots

    snapshots.drop_triggers(using=using)


def _after_migrate(sender, using, **kwargs) -> None:
    """Every export snapshot dropped and the triggers put back."""
    from . import snapshots

    snapshots.after_migrate(using=using)
