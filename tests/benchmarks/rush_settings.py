"""Settings of the gunicorn server the rush benchmark starts (tests/benchmarks/bench_rush.py): the base settings as
production runs them (DEBUG off, Argon2id first, every middleware), served over plain HTTP on the loopback against
the benchmark's temporary database (``RUSH_DATABASE_URL``). Never used outside the benchmark."""

from portal.settings.base import *  # noqa: F403
from portal.settings.base import database_from_env

SECRET_KEY = "bench-rush-only-key"
AUDIT_HMAC_KEY = "bench-rush-only-audit-key-of-32-characters"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
DATABASES = {"default": database_from_env("RUSH_DATABASE_URL")}  # as production: kept connections, checked
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes write to one file (in WAL mode, set by the benchmark): wait for the write lock (never
    # "database is locked") and take it when a transaction begins, so that two transactions never both read and
    # then both try to write; synchronous=NORMAL is WAL's usual setting (a commit survives a crash of the process).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 60,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA synchronous=NORMAL;",
    }
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks (the emails) are queued, as production queues them for its Celery worker; no worker runs here, so the
# figures are the web server's alone.
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
