from django.contrib import admin

from .models import Call, CallQuestion, PoolCapacity, Quarter, ResourcePool, RubricCriterion, Scheme


@admin.register(Scheme)
class SchemeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "total_budget"]


@admin.register(Quarter)
class QuarterAdmin(admin.ModelAdmin):
    list_display = ["code", "starts_on", "ends_on"]


class PoolCapacityInline(admin.TabularInline):
    model = PoolCapacity
    extra = 0


@admin.register(ResourcePool)
class ResourcePoolAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "gpu_type", "list_price", "held_back_share", "target_utilisation"]
    inlines = [PoolCapacityInline]


class RubricCriterionInline(admin.TabularInline):
    model = RubricCriterion
    extra = 0


class CallQuestionInline(admin.StackedInline):
    model = CallQuestion
    extra = 0


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["reference", "title", "opens_at", "closes_at", "subsidy_rate", "budget"]
    search_fields = ["reference", "title", "title_zh"]
    filter_horizontal = ["pools", "quarters"]
    inlines = [RubricCriterionInline, CallQuestionInline]
