"""The centre's side (domain brief §10; issue 11 point 6): Slurm account limits and what the read-only API gives.

The limit of an account is the GPU-hours awarded to its project in the quarter (locked awards, after claw-back and
changes), summed over its pools, in GPU-minutes: ``sacctmgr -i modify account name=ACCOUNT set
GrpTRESMins=gres/gpu=MINUTES``. Every active project has a line, with 0 in a quarter without hours; an account
exported before that is no longer active is given 0 by the next export of changes."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.allocations.models import AwardHours
from portal.audit.services import audit_record
from portal.core.formatting import hk_localtime
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal

from .models import CentreApiClient, SlurmLimitExport

TOKEN_PREFIX = "aiss_"  # noqa: S105 - the visible start of every token, not a secret


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def current_quarter(now: datetime | None = None) -> str:
    """The quarter (Hong Kong time) of ``now`` (default: now)."""
    return quarter_of(hk_localtime(now).date())


@dataclass
class SlurmLimit:
    account: str
    proposal: str
    quarter: str
    pools: dict[str, int] = field(default_factory=dict)

    @property
    def gpu_hours(self) -> int:
        return sum(self.pools.values())

    @property
    def minutes(self) -> int:
        return self.gpu_hours * 60

    def sacctmgr(self) -> str:
        return f"sacctmgr -i modify account name={self.account} set GrpTRESMins=gres/gpu={self.minutes}"

    def as_json(self) -> dict:
        return {
            "account": self.account,
            "proposal": self.proposal,
            "quarter": self.quarter,
            "gpu_hours": self.gpu_hours,
            "minutes": self.minutes,
            "pools": dict(sorted(self.pools.items())),
        }


def active_projects() -> QuerySet[Proposal]:
    """Active projects with a Slurm account and a locked, funded award, by account."""
    return (
        Proposal.objects.filter(state=ProposalState.ACTIVE, awards__run__locked_at__isnull=False, awards__share__gt=0)
        .exclude(account_code="")
        .exclude(account_code__isnull=True)
        .distinct()
        .order_by("account_code")
    )


def slurm_limits(*, quarter: str) -> list[SlurmLimit]:
    """Every active project's limit in ``quarter``, by account. Two queries."""
    limits = {
        row["account_code"]: SlurmLimit(account=row["account_code"], proposal=row["reference"], quarter=quarter)
        for row in active_projects().values("account_code", "reference")
    }
    cells = (
        AwardHours.objects.filter(
            award__run__locked_at__isnull=False,
            award__share__gt=0,
            award__proposal__account_code__in=list(limits),
            quarter__code=quarter,
        )
        .values("award__proposal__account_code", "pool__code")
        .annotate(hours=Sum("gpu_hours"))
        .order_by()
    )
    by_account: dict[str, dict[str, int]] = defaultdict(dict)
    for row in cells:
        by_account[row["award__proposal__account_code"]][row["pool__code"]] = int(row["hours"])
    for account, pools in by_account.items():
        limits[account].pools = pools
    return [limits[account] for account in sorted(limits)]


def _stored(limits: list[SlurmLimit]) -> dict:
    return {
        limit.account: {"minutes": limit.minutes, "proposal": limit.proposal, "pools": limit.pools} for limit in limits
    }


@transaction.atomic
def slurm_limits_export(
    *, quarter: str, changes_only: bool = False, actor=None, now: datetime | None = None
) -> list[SlurmLimit]:
    """The limits of ``quarter`` (with ``changes_only``: those that differ from the last export, and 0 for an account
    that export had and no active project has now), recorded as an export and audited."""
    previous = SlurmLimitExport.objects.select_for_update().order_by("-created_at", "-pk").first()
    limits = slurm_limits(quarter=quarter)
    before = previous.limits if previous else {}
    changed = [limit for limit in limits if before.get(limit.account, {}).get("minutes") != limit.minutes]
    current = {limit.account for limit in limits}
    ended = [
        SlurmLimit(account=account, proposal=entry.get("proposal", ""), quarter=quarter)
        for account, entry in sorted(before.items())
        if account not in current and entry.get("minutes") != 0
    ]
    export = SlurmLimitExport.objects.create(
        created_at=now or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        quarter=quarter,
        limits=_stored(limits),
        changes_only=changes_only,
        changed=len(changed) + len(ended),
    )
    audit_record(
        actor=actor,
        action="centre.slurm_limits_export",
        obj=export,
        after={
            "quarter": quarter,
            "changes_only": changes_only,
            "changed": {limit.account: limit.minutes for limit in [*changed, *ended]},
        },
    )
    if changes_only:
        return sorted([*changed, *ended], key=lambda limit: limit.account)
    return limits


# ---- API clients -------------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def centre_client_create(*, name: str, actor) -> tuple[CentreApiClient, str]:
    """A new API client and its token (returned once, never stored)."""
    if not actor.has_perm("portal.projects.manage_centre_api"):
        raise ValidationError(_("Only the secretariat manages the centre's API clients."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = CentreApiClient(
        name=name.strip(), token_hash=token_hash(token), token_hint=token[: len(TOKEN_PREFIX) + 4], created_by=actor
    )
    client.full_clean()
    client.save()
    audit_record(actor=actor, action="centre.api_client_create", obj=client, after={"name": client.name})
    return client, token


@transaction.atomic
def centre_client_revoke(*, client: CentreApiClient, actor, now: datetime | None = None) -> CentreApiClient:
    if not actor.has_perm("portal.projects.manage_centre_api"):
        raise ValidationError(_("Only the secretariat manages the centre's API clients."))
    client = CentreApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is not None:
        raise ValidationError(_("This client's token has already been revoked."))
    client.revoked_at = now or timezone.now()
    client.revoked_by = actor
    client.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(actor=actor, action="centre.api_client_revoke", obj=client, before={"active": True})
    return client


def centre_client_authenticate(*, token: str, path: str, now: datetime | None = None) -> CentreApiClient | None:
    """The active client holding ``token``, its use recorded (last used, and an audit record naming the request);
    None for an unknown or revoked token."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    client = CentreApiClient.objects.filter(token_hash=token_hash(token), revoked_at__isnull=True).first()
    if client is None:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        CentreApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        audit_record(
            actor=f"API client: {client.name}", action="centre.api_use", obj=client, after={"request": path[:500]}
        )
    return client


def centre_clients() -> QuerySet[CentreApiClient]:
    return CentreApiClient.objects.select_related("created_by", "revoked_by").order_by("-created_at", "-pk")
