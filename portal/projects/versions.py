"""Award versions (domain brief §10): every change to a locked award makes a new version.

``award_version_record`` is the one writer. The lock (``allocation_lock``) records version 1 of each funded award,
claw-back (``clawback_apply``) the next, and so do an approved change request and completion. The caller changes
the award first (its ``AwardHours``, share and subsidy) inside the same transaction, then records the version; the
version is a snapshot of the award as it then stands.

Each version is audited. A change other than the lock or a claw-back (which write their own) also writes the
award's values to the audit log as ``allocation.award_changed``, so ``verify_audit`` compares the stored award with
its latest version. The Slurm limits given to the centre come from the current award hours
(``portal.projects.centre``), so ``slurm_limits --changes`` carries the change at its next export; the secretariat,
who runs that export, is told of every version after the lock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal.allocations.models import Award, AwardHours
from portal.audit.services import audit_record

from .enums import AwardVersionKind
from .models import AwardVersion

ZERO = Decimal(0)
SHARE_QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")
# Kinds whose service writes the award's values to the audit log itself (``allocation.award_locked`` /
# ``allocation.award_reclaimed``).
VALUES_AUDITED_BY_CALLER = (AwardVersionKind.LOCK, AwardVersionKind.CLAWBACK)


def award_cells(cells) -> list[dict]:
    """An award's hours per pool and quarter in the snapshot's notation, by pool then quarter."""
    return [
        {"pool": c.pool.code, "quarter": c.quarter.code, "gpu_hours": str(Decimal(c.gpu_hours).quantize(Decimal(1)))}
        for c in sorted(cells, key=lambda c: (c.pool.code, c.quarter.starts_on, c.quarter.code))
    ]


@transaction.atomic
def award_version_record(*, award: Award, kind: str, reason: str, actor, now: datetime | None = None) -> AwardVersion:
    """Record the next version of the locked ``award`` as it now stands: ``kind`` (an ``AwardVersionKind``) made it,
    for ``reason``, by ``actor`` (None: the system). Audited; the secretariat is told after commit (except of the
    lock, which tells the project itself)."""
    if kind not in AwardVersionKind.values:
        raise ValueError(f"unknown award version kind {kind!r}")
    award = Award.objects.select_for_update().select_related("proposal", "run").get(pk=award.pk)
    if award.run.locked_at is None and kind != AwardVersionKind.LOCK:
        raise ValueError("only a locked award has versions")
    cells = list(AwardHours.objects.filter(award=award).select_related("pool", "quarter"))
    last = AwardVersion.objects.filter(award=award).order_by("-number").values_list("number", flat=True).first()
    version = AwardVersion(
        award=award,
        number=(last or 0) + 1,
        kind=kind,
        reason=reason.strip(),
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now or timezone.now(),
        cells=award_cells(cells),
        gpu_hours=sum((c.gpu_hours for c in cells), ZERO).quantize(CENT),
        share=Decimal(award.share).quantize(SHARE_QUANTUM),
        subsidy=award.subsidy,
    )
    version.full_clean()
    version.save()
    audit_record(
        actor=actor,
        action="award.version",
        obj=version,
        after={
            "award": award.pk,
            "proposal": award.proposal.reference,
            "version": version.number,
            "kind": kind,
            "cells": version.cells,
            "gpu_hours": str(version.gpu_hours),
            "share": str(version.share),
            "subsidy": str(version.subsidy),
        },
        reason=version.reason,
    )
    if kind not in VALUES_AUDITED_BY_CALLER:
        from portal.allocations.services import AWARD_CHANGED, award_audit_values  # services sit beside us

        audit_record(
            actor=actor, action=AWARD_CHANGED, obj=award, after=award_audit_values(award, cells), reason=version.reason
        )
    if kind != AwardVersionKind.LOCK:
        transaction.on_commit(lambda: _notify_secretariat(version.pk))
    return version


def _notify_secretariat(version_id: int) -> None:
    """Tell the secretariat (those free of conflict on the project) that the award changed, so that the centre's
    Slurm limits are exported again."""
    from portal.accounts.enums import Role
    from portal.accounts.models import User
    from portal.notifications.messages import Message
    from portal.notifications.services import notify
    from portal.reviews.conflicts import free_of_conflict

    version = AwardVersion.objects.select_related("award__proposal").get(pk=version_id)
    proposal = version.award.proposal
    officers = User.objects.filter(role=Role.SECRETARIAT, is_active=True).order_by("pk")
    message = Message(
        gettext_noop(
            "%(reference)s: the award is now version %(number)s (%(kind)s), %(hours)s GPU-hours. Export the centre's Slurm limits with slurm_limits --changes."
        ),
        {
            "reference": proposal.reference,
            "number": version.number,
            "kind": AwardVersionKind(version.kind),
            "hours": f"{version.gpu_hours:,.0f}",
        },
    )
    url = reverse("projects:project", args=[proposal.pk])
    for user in free_of_conflict(users=officers, proposal=proposal):
        notify(user=user, message=message, url=url, key=f"award-version:{version.pk}")


def award_versions(*, proposal) -> QuerySet[AwardVersion]:
    """Every version of every locked award of ``proposal``, oldest award and version first. One query."""
    return (
        AwardVersion.objects.filter(award__proposal=proposal)
        .select_related("actor", "award__run")
        .order_by("award__run__locked_at", "award_id", "number")
    )
