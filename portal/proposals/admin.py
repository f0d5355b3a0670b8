from django.contrib import admin

from portal.audit.admin import ReadOnlyModelAdmin

from .models import Proposal, ProposalEvent, ProposalVersion


class ProposalEventInline(admin.TabularInline):
    model = ProposalEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "actor", "action", "from_state", "to_state", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyModelAdmin):
    """Read-only: proposals change only through the portal's services, so that every step is recorded."""

    list_display = ["reference", "title", "organisation", "call", "state", "submitted_at"]
    list_filter = ["state", "call"]
    search_fields = ["reference", "title", "organisation__name"]
    list_select_related = ["organisation", "call"]
    inlines = [ProposalEventInline]

    def get_queryset(self, request):
        """Only submitted proposals: an unsubmitted draft belongs to its applicants alone, whoever opens the admin
        (issue 9 point 5)."""
        return super().get_queryset(request).filter(current_version__isnull=False)


@admin.register(ProposalVersion)
class ProposalVersionAdmin(ReadOnlyModelAdmin):
    list_display = ["proposal", "number", "submitted_at", "sha256"]
    list_select_related = ["proposal"]
