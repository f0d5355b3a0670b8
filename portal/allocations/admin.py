"""Per-call allocation settings and claw-back checkpoints, managed by the secretariat in the admin (like calls),
audited with the values before and after.
Runs, awards and usage change only through the portal's services, so that each change is recorded."""

from django.contrib import admin

from portal.audit.admin import AuditedModelAdmin, ReadOnlyModelAdmin

from .models import CallAllocationSettings, ClawbackCheckpoint, UsageImport


@admin.register(CallAllocationSettings)
class CallAllocationSettingsAdmin(AuditedModelAdmin):
    list_display = ["call", "tiers", "first_tranche_share", "solver_time_limit"]
    list_select_related = ["call"]


@admin.register(ClawbackCheckpoint)
class ClawbackCheckpointAdmin(AuditedModelAdmin):
    list_display = ["call", "number", "due_on", "threshold", "reclaim_share", "status"]
    list_filter = ["status", "call"]
    list_select_related = ["call"]
    readonly_fields = ["status", "warned_at", "applied_at", "applied_by"]


@admin.register(UsageImport)
class UsageImportAdmin(ReadOnlyModelAdmin):
    """Read-only record of each Slurm import."""

    list_display = ["filename", "created_at", "status", "jobs_created", "jobs_updated"]
    list_filter = ["status"]
