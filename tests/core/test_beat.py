"""Celery beat: every scheduled entry names a task the worker has, and the periodic jobs the README promises are
scheduled."""

from django.conf import settings

from portal.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()

    assert {name: entry["task"] in app.tasks for name, entry in settings.CELERY_BEAT_SCHEDULE.items()} == {
        "reviews-send-reminders": True,
        "allocations-clawback-checkpoints": True,
        "allocations-requeue-stuck-usage-imports": True,
        "notifications-resend-stuck-emails": True,
        "projects-progress-report-reminders": True,
        "reports-tidy-export-snapshots": True,
    }


def test_beat_runs_checkpoints_daily_and_stuck_work_every_few_minutes():
    schedule = {name: entry["schedule"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}

    assert (schedule["allocations-clawback-checkpoints"].hour, schedule["allocations-clawback-checkpoints"].minute) == (
        {8},
        {0},
    )
    assert schedule["allocations-requeue-stuck-usage-imports"].minute == set(range(0, 60, 15))
    assert schedule["notifications-resend-stuck-emails"].minute == set(range(0, 60, 10))
    assert schedule["reports-tidy-export-snapshots"].minute == set(range(0, 60, 15))
    reminders = schedule["projects-progress-report-reminders"]
    assert (reminders.hour, reminders.minute) == ({9}, {5})
    assert settings.CELERY_TIMEZONE == "Asia/Hong_Kong"
