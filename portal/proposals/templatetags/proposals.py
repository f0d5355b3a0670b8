"""Showing what a proposal contains: stored codes as words in the reader's language."""

from django import template

from ..enums import AttachmentKind, Precision, Workload

register = template.Library()

CHOICES = {"workload": Workload, "precision": Precision, "attachment_kind": AttachmentKind}


@register.filter
def label(value, choices: str) -> str:
    """``{{ f.workload|label:"workload" }}`` → "Training" (訓練 in Chinese); an unknown code is shown as it is."""
    enum = CHOICES[choices]
    return enum(value).label if value in enum.values else (value or "")


@register.filter
def pool_of(pools: dict, code: str):
    return pools.get(code)
