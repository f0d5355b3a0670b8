"""Settings shared by every environment. Values come from the environment (django-environ)."""

from datetime import timedelta
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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
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
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends sessions past their idle or absolute lifetime; keeps a half-signed-in person to the second factor.
    "portal.accounts.middleware.SessionLifetimeMiddleware",
    "portal.accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Last: turns a refused log-in (too many failures) into the lock-out page.
    "axes.middleware.AxesMiddleware",
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


def database_from_env(variable: str, default: str | None = None) -> dict:
    """The database a URL in the environment names, with the portal's connection defaults.

    Each server thread keeps its connection for DATABASE_CONN_MAX_AGE seconds instead of opening one per request
    (0: one per request, as behind a transaction-pooling PgBouncer), and checks that it is still alive before a
    request reuses it. In the deadline-rush benchmark (PostgreSQL, gunicorn 2 x 4 threads) that served 2.6-2.8x the
    trivial pages and 1.8-2.0x the submissions per second. A ``conn_max_age`` in the URL's query wins."""
    return database_from_url(env.str(variable, default=default) if default is not None else env.str(variable))


def database_from_url(url: str) -> dict:
    """The database ``url`` names, with the portal's connection defaults (see :func:`database_from_env`)."""
    database = env.db_url_config(url)
    database["ATOMIC_REQUESTS"] = False
    database.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    database.setdefault("CONN_HEALTH_CHECKS", True)
    return database


DATABASES = {"default": database_from_env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a log-in while the account or the client address is locked out (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
# Argon2id (Django's hasher, argon2-cffi) for every new or changed password; existing PBKDF2 hashes still check,
# and are rehashed with Argon2 at the person's next log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
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
    # Progress reports: reminders 14 days before, on the due date and weekly after (09:05 HKT; never twice).
    "projects-progress-report-reminders": {
        "task": "portal.projects.tasks.send_progress_report_reminders",
        "schedule": crontab(hour=9, minute=5),
    },
    # Uploads whose import task was lost or whose worker died are queued again.
    "allocations-requeue-stuck-usage-imports": {
        "task": "portal.allocations.tasks.usage_imports_requeue_stuck",
        "schedule": crontab(minute="*/15"),
    },
    # Kept exports whose data has changed are dropped, and the exports' change log folded into one row.
    "reports-tidy-export-snapshots": {
        "task": "portal.reports.tasks.export_snapshots_tidy",
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

# ---- Sign-in security (issue 10) ---------------------------------------------------------------------------------
# Sessions: every session ends a fixed time after log-in; officials' sessions also after a spell without activity.
PORTAL_SESSION_MAX_AGE = env.int("PORTAL_SESSION_MAX_AGE", default=12 * 60 * 60)
PORTAL_STAFF_IDLE_TIMEOUT = env.int("PORTAL_STAFF_IDLE_TIMEOUT", default=30 * 60)
SESSION_COOKIE_AGE = PORTAL_SESSION_MAX_AGE
SESSION_COOKIE_SAMESITE = "Lax"

# Two factors (django-otp): officials and the Django admin always; anyone else once they turn it on.
OTP_TOTP_ISSUER = env("PORTAL_OTP_ISSUER", default="AISS Portal")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
PORTAL_RECOVERY_CODE_COUNT = 10

# Brute force (django-axes): the account and the client address are counted separately; each is locked after
# AXES_FAILURE_LIMIT failures in a row, for AXES_COOLOFF_TIME, or until the secretariat unlocks it.
AXES_FAILURE_LIMIT = env.int("PORTAL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("PORTAL_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "portal.accounts.security.axes_username"
AXES_CLIENT_IP_CALLABLE = "portal.accounts.security.client_ip"
AXES_LOCKOUT_CALLABLE = "portal.accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "code"]
AXES_VERBOSE = False
# How many proxies in front of the portal append to X-Forwarded-For (0: the client is REMOTE_ADDR).
PORTAL_PROXY_COUNT = env.int("PORTAL_PROXY_COUNT", default=0)

# Headers. Scripts and styles only from our own origin: no inline script anywhere (django-csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): the portal uses none of these browser features.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The Django admin's address: set a path of your own in production (``PORTAL_ADMIN_PATH=office-7f3k/``).
PORTAL_ADMIN_PATH = env("PORTAL_ADMIN_PATH", default="admin/").strip("/") + "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # django-axes logs every log-in at INFO; failures and lock-outs are in the audit log.
    "loggers": {"axes": {"level": "WARNING"}},
}

# Portal settings.
PORTAL_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
# The most an attachment's compressed streams may expand to, all together (more is a decompression bomb).
PORTAL_MAX_PDF_INFLATED_BYTES = env.int("PORTAL_MAX_PDF_INFLATED_BYTES", default=256 * 1024 * 1024)
PORTAL_REFERENCE_PREFIX = "AISS"
# Seconds a PDF render may take (a letter or receipt; the approval report of a whole call).
PORTAL_PDF_TIME_LIMIT = env.int("PORTAL_PDF_TIME_LIMIT", default=60)
PORTAL_APPROVAL_REPORT_TIME_LIMIT = env.int("PORTAL_APPROVAL_REPORT_TIME_LIMIT", default=600)
# Rows of the approval report's long tables laid out by one render process (its memory grows with them).
PORTAL_APPROVAL_REPORT_SECTION_ROWS = env.int("PORTAL_APPROVAL_REPORT_SECTION_ROWS", default=400)
# Claw-back: how many days before a checkpoint the scheduler warns the projects that would lose hours.
CLAWBACK_WARNING_DAYS = env.int("CLAWBACK_WARNING_DAYS", default=30)
# Stuck work the scheduler queues again: uploads still queued after this many minutes; emails still unsent after
# this many minutes, until they have been tried this many times.
USAGE_IMPORT_REQUEUE_MINUTES = env.int("USAGE_IMPORT_REQUEUE_MINUTES", default=30)
OUTBOX_RESEND_MINUTES = env.int("OUTBOX_RESEND_MINUTES", default=15)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=20)
# The largest Slurm export the upload page accepts (the proxy's body limit must allow it too).
USAGE_UPLOAD_MAX_BYTES = env.int("USAGE_UPLOAD_MAX_BYTES", default=512 * 1024 * 1024)
