"""Shared fixtures: media in a temporary folder, a real Celery worker, a Playwright browser, and the rule that
nothing may skip in CI."""

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI") == "true"
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-results"

# ---- Property tests (hypothesis) -----------------------------------------------------------------------------
# "ci": the same examples on every run (derandomized, no example database), so a failure in CI is reproducible and
# a pass means the same thing every time; a failure prints the blob that replays it (@reproduce_failure).
# "dev" (local default): new random examples on every run, more of them, remembered in .hypothesis/ so that a
# failure found once is tried first next time. "deep": many more, for a search before landing a solver change:
#     HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest tests/reviews/test_assignment.py -k random
# A counterexample found by dev or deep is kept in the test module as an explicit @example.
_COMMON = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=50, **_COMMON)
settings.register_profile("dev", max_examples=150, **_COMMON)
settings.register_profile("deep", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english(settings):
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _force_login_passes_second_factor(monkeypatch):
    """``client.force_login(user)`` gives a session that has passed the second factor too (officials need one on
    every page): the user gets a confirmed authenticator if they have none. ``second_factor=False`` gives a session
    that has only passed the password, as after the first step of logging in."""
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None, *, second_factor=True):
        original(self, user, backend)
        if second_factor:
            from tests.factories.accounts import second_factor_pass

            second_factor_pass(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(scope="session", autouse=True)
def _no_session_left_on_the_test_database(django_db_setup, django_db_blocker):
    """On PostgreSQL, a connection still open when the session ends (another thread's) stops the test database from
    being dropped, and the run fails at teardown with "being accessed by other users". Before the drop: end such
    sessions and name them on standard error, so that a leak is seen without failing a run that passed."""
    yield
    if not ON_POSTGRES:
        return
    import sys

    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, left(query, 200), pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        left = cursor.fetchall()
    if left:
        print(f"\nsessions left on the test database, ended before it is dropped: {left}", file=sys.stderr)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, concurrency): set DATABASE_URL")
    for item in items:
        if not ON_POSTGRES and "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: nothing may skip there."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped in CI; nothing may skip there.", red=True)


@pytest.fixture
def celery_worker(transactional_db, settings, worker_id, monkeypatch):
    """A real Celery worker consuming from the broker in CELERY_BROKER_URL (Redis in CI).

    Each pytest-xdist worker has its own test database, so each gets its own Redis database too: a Celery worker
    of one must never pick up a task queued by the other."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        pytest.skip("needs a Redis broker for a real Celery worker: set CELERY_BROKER_URL=redis://...")
    from celery import signals
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    offset = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    broker = re.sub(r"/(\d+)$", lambda m: f"/{(int(m.group(1)) - offset) % 16}", broker)
    monkeypatch.setenv("CELERY_BROKER_URL", broker)  # Celery reads this variable before its own settings
    app.conf.update(task_always_eager=False, broker_url=broker, result_backend=None)
    # Connections made earlier (for another broker URL) are pooled: start afresh on this one.
    app._pool = None
    app.amqp._producer_pool = None
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.control.purge()  # tasks left over from an earlier test point at rows that no longer exist

    def close_connections(**kwargs):
        # The worker runs its tasks in a thread of this process, with connections of that thread's own: closed after
        # each task, as a worker process does, or the last one outlives the worker and the test database cannot be
        # dropped at the end of the run.
        from django.db import connections

        connections.close_all()

    signals.task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        signals.task_postrun.disconnect(close_connections)
        app.conf.update(task_always_eager=True)


# ---- Browser tests -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.skip(f"needs Chromium at {executable} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id="Asia/Hong_Kong")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.screenshots = []

    def shot(name: str) -> None:
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        path = SCREENSHOT_DIR / f"{request.node.name}-{len(page.screenshots):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.screenshots.append(path)

    page.shot = shot
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        shot("failure")
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
