"""Calls, pools, capacities, rubrics, rates and budgets, kept by the secretariat. Every change is audited with the
values before and after (``AuditedModelAdmin``)."""

from django.contrib import admin

from portal.audit.admin import AuditedModelAdmin

from .models import Call, CallQuestion, PoolCapacity, Quarter, ResourcePool, RubricCriterion, Scheme

CRITERION_FIELDS = ("number", "name", "name_zh", "description", "description_zh", "weight", "min_to_pass")
CAPACITY_FIELDS = ("quarter", "gpu_hours")
QUESTION_FIELDS = ("number", "question", "question_zh", "answer", "answer_zh")


@admin.register(Scheme)
class SchemeAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "total_budget"]


@admin.register(Quarter)
class QuarterAdmin(AuditedModelAdmin):
    list_display = ["code", "starts_on", "ends_on"]


class PoolCapacityInline(admin.TabularInline):
    model = PoolCapacity
    extra = 0


@admin.register(ResourcePool)
class ResourcePoolAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "gpu_type", "list_price", "held_back_share", "target_utilisation"]
    inlines = [PoolCapacityInline]
    audit_related = {"capacities": CAPACITY_FIELDS}


class RubricCriterionInline(admin.TabularInline):
    model = RubricCriterion
    extra = 0


class CallQuestionInline(admin.StackedInline):
    model = CallQuestion
    extra = 0


@admin.register(Call)
class CallAdmin(AuditedModelAdmin):
    list_display = ["reference", "title", "opens_at", "closes_at", "subsidy_rate", "budget"]
    search_fields = ["reference", "title", "title_zh"]
    filter_horizontal = ["pools", "quarters"]
    inlines = [RubricCriterionInline, CallQuestionInline]
    audit_related = {"criteria": CRITERION_FIELDS, "questions": QUESTION_FIELDS}
