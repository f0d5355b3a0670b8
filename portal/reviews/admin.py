"""The secretariat keeps the expertise list, reviewer profiles, collaborations, per-call review settings, the
proposals' expertise tags and the applicants' suggested reviewers here, each change audited with the values before
and after. Reviews and scores are read-only."""

from django.contrib import admin

from portal.audit.admin import AuditedModelAdmin, ReadOnlyModelAdmin

from .models import (
    Assignment,
    CallReviewSettings,
    Collaboration,
    Declaration,
    ExpertiseTag,
    ProposalExpertise,
    ReviewerProfile,
    SuggestedReviewer,
)


@admin.register(ExpertiseTag)
class ExpertiseTagAdmin(AuditedModelAdmin):
    list_display = ["name", "name_zh"]
    search_fields = ["name", "name_zh"]


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(AuditedModelAdmin):
    list_display = ["user", "organisation", "max_per_call", "available"]
    list_filter = ["available"]
    filter_horizontal = ["expertise"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "organisation"]
    # The affiliation counts in conflicts of interest: it is confirmed on the portal's page (reviews:affiliations),
    # which audits it and runs the conflict checks again.
    readonly_fields = [
        "organisation",
        "organisation_requested",
        "organisation_change_pending",
        "organisation_confirmed_by",
        "organisation_confirmed_at",
    ]


@admin.register(Collaboration)
class CollaborationAdmin(AuditedModelAdmin):
    list_display = ["user", "organisation", "last_year"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "organisation"]


@admin.register(CallReviewSettings)
class CallReviewSettingsAdmin(AuditedModelAdmin):
    list_display = ["call", "review_deadline", "disagreement_threshold", "consensus_margin", "response_days"]
    list_select_related = ["call"]


@admin.register(ProposalExpertise)
class ProposalExpertiseAdmin(AuditedModelAdmin):
    list_display = ["proposal", "tag"]
    list_select_related = ["proposal", "tag"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(proposal__current_version__isnull=False)


@admin.register(SuggestedReviewer)
class SuggestedReviewerAdmin(AuditedModelAdmin):
    list_display = ["proposal", "reviewer"]
    list_select_related = ["proposal", "reviewer"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(proposal__current_version__isnull=False)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyModelAdmin):
    list_display = ["proposal", "reviewer", "status", "source", "assigned_at"]
    list_filter = ["status", "source"]
    list_select_related = ["proposal", "reviewer"]


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyModelAdmin):
    list_display = ["proposal", "user", "conflicted", "source", "created_at"]
    list_select_related = ["proposal", "user"]
