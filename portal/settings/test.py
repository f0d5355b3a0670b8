"""Tests: SQLite unless DATABASE_URL is set; fast hashing; emails kept in memory."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, env

SECRET_KEY = "test-only-key"  # noqa: S105
AUDIT_HMAC_KEY = "test-only-audit-key"
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media")))
PORTAL_BASE_URL = "http://testserver"
# Tasks run in-process unless a test starts a real worker (tests/conftest.py: ``celery_worker``).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
