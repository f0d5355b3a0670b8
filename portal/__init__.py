"""The AISS portal: applications, review and GPU-hour allocation for the AI Subsidy Scheme."""

from .celery import app as celery_app

__all__ = ("celery_app",)
