"""Settings shared by every environment. Values come from the environment (django-environ)."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# The key of the audit log's HMAC chain (portal.audit.services). Never stored in the database: someone who can write
# to the database but has not got this key cannot rewrite a record and re-chain the rest. Production refuses to start
# without it; development and tests set their own below.
AUDIT_HMAC_KEY = env("AUDIT_HMAC_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "rules.apps.AutodiscoverRulesConfig",
    "portal.core",
    "portal.audit",
    "portal.accounts",
    "portal.calls",
    "portal.notifications",
    "portal.proposals",
    "portal.reviews",
    "portal.decisions",
    "portal.allocations",
    "portal.reports",
    "portal.projects",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "portal.core.middleware.HostileInputMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.notifications.context_processors.notifications",
            ],
            "builtins": ["django.templatetags.i18n"],
        },
    }
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: English and Traditional Chinese; stored in UTC, shown in Hong Kong time.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hant", _("Traditional Chinese"))]
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]
TIME_ZONE = "Asia/Hong_Kong"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
# Uploaded files live outside the static tree and are only ever served through permission-checked views.
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Never served directly: attachments are downloaded through permission-checked views only.
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="AISS Portal <no-reply@aiss.example.hk>")
EMAIL_URL = env.email_url("EMAIL_URL", default="smtp://localhost:25")
EMAIL_HOST = EMAIL_URL["EMAIL_HOST"]
EMAIL_PORT = EMAIL_URL["EMAIL_PORT"]
EMAIL_HOST_USER = EMAIL_URL["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = EMAIL_URL["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = EMAIL_URL.get("EMAIL_USE_TLS", False)
# Absolute links in emails (verification, invitations) start with this.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# Celery: with no broker configured, tasks run in-process (development and the default test run).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int("CELERY_WORKER_MAX_TASKS_PER_CHILD", default=50)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=400_000)
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TIMEZONE = "Asia/Hong_Kong"
CELERY_BEAT_SCHEDULE = {
    # Review reminders before and after the deadline, once a day at 09:00 Hong Kong time (never twice).
    "reviews-send-reminders": {
        "task": "portal.reviews.tasks.send_review_reminders",
        "schedule": crontab(hour=9, minute=0),
    },
    # Claw-back: warn the projects CLAWBACK_WARNING_DAYS before each checkpoint, apply it on its date (08:00 HKT).
    "allocations-clawback-checkpoints": {
        "task": "portal.allocations.tasks.clawback_checkpoints",
        "schedule": crontab(hour=8, minute=0),
    },
    # Uploads whose import task was lost or whose worker died are queued again.
    "allocations-requeue-stuck-usage-imports": {
        "task": "portal.allocations.tasks.usage_imports_requeue_stuck",
        "schedule": crontab(minute="*/15"),
    },
    # Emails still unsent some minutes after they were queued are sent again.
    "notifications-resend-stuck-emails": {
        "task": "portal.notifications.tasks.resend_stuck_emails",
        "schedule": crontab(minute="*/10"),
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# Portal settings.
PORTAL_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
# The most an attachment's compressed streams may expand to, all together (more is a decompression bomb).
PORTAL_MAX_PDF_INFLATED_BYTES = env.int("PORTAL_MAX_PDF_INFLATED_BYTES", default=256 * 1024 * 1024)
PORTAL_REFERENCE_PREFIX = "AISS"
# Seconds a PDF render may take (a letter or receipt; the approval report of a whole call).
PORTAL_PDF_TIME_LIMIT = env.int("PORTAL_PDF_TIME_LIMIT", default=60)
PORTAL_APPROVAL_REPORT_TIME_LIMIT = env.int("PORTAL_APPROVAL_REPORT_TIME_LIMIT", default=600)
# Claw-back: how many days before a checkpoint the scheduler warns the projects that would lose hours.
CLAWBACK_WARNING_DAYS = env.int("CLAWBACK_WARNING_DAYS", default=30)
# Stuck work the scheduler queues again: uploads still queued after this many minutes; emails still unsent after
# this many minutes, until they have been tried this many times.
USAGE_IMPORT_REQUEUE_MINUTES = env.int("USAGE_IMPORT_REQUEUE_MINUTES", default=30)
OUTBOX_RESEND_MINUTES = env.int("OUTBOX_RESEND_MINUTES", default=15)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=20)
# The largest Slurm export the upload page accepts (the proxy's body limit must allow it too).
USAGE_UPLOAD_MAX_BYTES = env.int("USAGE_UPLOAD_MAX_BYTES", default=512 * 1024 * 1024)
