"""Award versions (domain brief §10): the lock is version 1, a claw-back the next, and any other change recorded
through ``award_version_record``; each audited, the secretariat told, the centre's limits following the award."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.allocations import services
from portal.allocations.models import AwardHours
from portal.audit.models import AuditEvent
from portal.audit.verification import records_verify
from portal.notifications.models import Notification
from portal.projects.centre import slurm_limits_export
from portal.projects.enums import AwardVersionKind
from portal.projects.models import AwardVersion
from portal.projects.versions import award_version_record, award_versions
from tests.factories import UserFactory
from tests.factories.allocations import usage

D = Decimal
pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_lock_records_version_one_of_each_funded_award(locked, chair):
    idle, run = locked["idle"], locked["run"]
    versions = list(award_versions(proposal=idle))
    assert [(v.number, v.kind, v.actor, v.gpu_hours, v.share) for v in versions] == [
        (1, AwardVersionKind.LOCK, chair, D(400_000), D(1))
    ]
    award = run.awards.get(proposal=idle)
    assert versions[0].subsidy == award.subsidy == D("7000000.00")  # 400,000 x HK$25.00 x 70%
    assert versions[0].cells == [{"pool": "h800", "quarter": f"2026Q{q}", "gpu_hours": "100000"} for q in range(1, 5)]
    assert versions[0].reason == f"Run #{run.pk} locked (proposed by user #{run.lock_proposed_by_id})"
    audited = AuditEvent.objects.filter(action="award.version", object_type="projects.awardversion")
    assert sorted(int(e.after["award"]) for e in audited) == sorted(run.awards.values_list("pk", flat=True))
    # The lock tells the projects itself; the secretariat hears of versions after it.
    assert not Notification.objects.filter(key__startswith="award-version:").exists()


def test_clawback_records_the_next_version(call, officer, locked, django_capture_on_commit_callbacks):
    idle = locked["idle"]
    usage(idle, quarter="2026Q1", hours=5_000)
    usage(locked["busy"], quarter="2026Q1", hours=90_000)  # 22.5% used: kept
    first, _second = services.clawback_schedule(call=call)
    with django_capture_on_commit_callbacks(execute=True):
        services.clawback_apply(checkpoint=first, actor=officer, now=timezone.make_aware(datetime(2026, 7, 2, 9)))
    versions = list(award_versions(proposal=idle))
    assert [(v.number, v.kind, v.gpu_hours) for v in versions] == [
        (1, AwardVersionKind.LOCK, D(400_000)),
        (2, AwardVersionKind.CLAWBACK, D(301_250)),  # 98,750 reclaimed from Q3 and Q4
    ]
    assert versions[1].cells[2:] == [
        {"pool": "h800", "quarter": "2026Q3", "gpu_hours": "50625"},
        {"pool": "h800", "quarter": "2026Q4", "gpu_hours": "50625"},
    ]
    assert versions[1].reason == (
        "Checkpoint 1 of 2026-06-30: 5000.0 of 400,000 GPU-hours used, 98,750 unused GPU-hours reclaimed"
    )
    # The busy project lost nothing: no new version.
    assert [v.number for v in award_versions(proposal=locked["busy"])] == [1]
    assert Notification.objects.filter(user=officer, key=f"award-version:{versions[1].pk}").exists()


def test_version_of_a_change_is_audited_and_verified_and_tells_the_secretariat(
    locked, officer, chair, django_capture_on_commit_callbacks
):
    idle = locked["idle"]
    idle.account_code = "aiss-idle"
    idle.save(update_fields=["account_code"])
    conflicted = UserFactory(role="secretariat")
    from portal.reviews.models import Declaration

    Declaration.objects.create(
        proposal=idle, user=conflicted, conflicted=True, reason="Former student", recorded_by=conflicted
    )
    before = slurm_limits_export(quarter="2026Q3")
    assert {limit.account: limit.minutes for limit in before}["aiss-idle"] == 100_000 * 60
    award = locked["run"].awards.get(proposal=idle)
    cell = award.hours.get(quarter__code="2026Q3")
    AwardHours.objects.filter(pk=cell.pk).update(gpu_hours=D(60_000))
    award.share = D("0.9")
    award.subsidy = D("6300000.00")
    award.save(update_fields=["share", "subsidy"])

    with django_capture_on_commit_callbacks(execute=True):
        version = award_version_record(award=award, kind=AwardVersionKind.REDUCTION, reason="Less data", actor=chair)

    assert (version.number, version.gpu_hours, version.subsidy, version.share) == (
        2,
        D(360_000),
        D("6300000.00"),
        D("0.900000"),
    )
    changed = AuditEvent.objects.get(action=services.AWARD_CHANGED, object_id=str(award.pk))
    assert (changed.actor, changed.reason, changed.after["subsidy"]) == (chair, "Less data", "6300000.00")
    problems, _counts = records_verify()
    assert [str(p) for p in problems if p.record.startswith("award")] == []
    note = Notification.objects.get(user=officer, key=f"award-version:{version.pk}")
    assert note.message == (
        f"{idle.reference}: the award is now version 2 (Reduction), 360,000 GPU-hours. "
        "Export the centre's Slurm limits with slurm_limits --changes."
    )
    assert not Notification.objects.filter(user=conflicted).exists()
    changes = slurm_limits_export(quarter="2026Q3", changes_only=True)
    assert [(limit.account, limit.minutes) for limit in changes] == [("aiss-idle", 60_000 * 60)]


def test_version_numbers_follow_each_other(locked, chair):
    award = locked["run"].awards.get(proposal=locked["idle"])
    for _ in range(2):
        award_version_record(award=award, kind=AwardVersionKind.EXTENSION, reason="Moved", actor=chair)
    assert list(AwardVersion.objects.filter(award=award).values_list("number", flat=True)) == [1, 2, 3]
    with pytest.raises(ValueError, match="unknown award version kind"):
        award_version_record(award=award, kind="rename", reason="", actor=chair)


def test_migration_records_the_versions_of_awards_locked_before_it(call):
    """Migration projects.0003 gives every award locked before versions existed its version 1 (the lock, its hours
    before any claw-back) and version 2 when a claw-back has since taken hours."""
    import importlib

    from django.apps import apps

    from tests.projects.conftest import locked_project

    migration = importlib.import_module("portal.projects.migrations.0003_awardversion")
    kept = locked_project(call, account="aiss-kept", hours={("h800", "2026Q1"): 1_000, ("h800", "2026Q2"): 1_000})
    reclaimed = locked_project(call, account="aiss-lost", hours={("h800", "2026Q1"): 800, ("h800", "2026Q2"): 800})
    AwardHours.objects.filter(award__proposal=reclaimed, quarter__code="2026Q2").update(
        gpu_hours=D(500), reclaimed=D(300)
    )
    migration.record_existing_versions(apps, None)
    assert [(v.number, v.kind, v.gpu_hours) for v in award_versions(proposal=kept)] == [(1, "lock", D(2_000))]
    assert [(v.number, v.kind, v.gpu_hours, v.cells[1]["gpu_hours"]) for v in award_versions(proposal=reclaimed)] == [
        (1, "lock", D(1_600), "800"),
        (2, "clawback", D(1_300), "500"),
    ]
