"""Writes on calls: the secretariat sets a call up (and changes it) in the portal, every change audited with the
values before and after (``portal.audit.services.config_change``).

``call_configure`` takes the whole set-up of a call as plain values (what the call page's forms give) and saves it
in one transaction: the call, its quarters and pools (with each pool's list price, held-back share and capacity per
quarter), the rubric, the screening checklist, the review settings, the allocation settings (tiers, tranche split,
progress-report schedule) and the claw-back checkpoints. Once a call has submissions, a change that would alter
what applicants submitted against (the rubric, the pools and quarters, the rates and caps, a date already passed)
is refused with the reason, and nothing is saved."""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import config_change, config_change_record, config_snapshot

from .models import Call, PoolCapacity, Quarter, ResourcePool, RubricCriterion

CALL_FIELDS = (
    "scheme",
    "reference",
    "title",
    "title_zh",
    "description",
    "description_zh",
    "guidance",
    "guidance_zh",
    "contact_email",
    "contact_phone",
    "opens_at",
    "closes_at",
    "budget",
    "subsidy_rate",
    "max_subsidy_rate",
    "max_subsidy_per_proposal",
    "org_cap",
    "eligible_org_types",
    "reviewers_per_proposal",
    "min_reviewers",
    "pass_mean",
)
CRITERION_FIELDS = ("number", "name", "name_zh", "description", "description_zh", "weight", "min_to_pass")
SCREENING_FIELDS = ("number", "kind", "text", "text_zh", "required_documents")
CHECKPOINT_FIELDS = ("number", "due_on", "threshold", "reclaim_share", "status")
REVIEW_FIELDS = ("review_deadline", "reminder_days_before", "reminder_days_after", "response_days")
ALLOCATION_FIELDS = (
    "tiers",
    "first_tranche_share",
    "first_report_after_months",
    "report_every_months",
    "final_report_within_days",
)
POOL_FIELDS = ("code", "name", "name_zh", "gpu_type", "list_price", "held_back_share")
CAPACITY_FIELDS = ("quarter", "gpu_hours")
CALL_RELATED = {
    "criteria": CRITERION_FIELDS,
    "screening_items": SCREENING_FIELDS,
    "clawback_checkpoints": CHECKPOINT_FIELDS,
}
QUARTER_CODE = re.compile(r"^(\d{4})Q([1-4])$")

# What applicants submitted against: once a call has submissions, these may not change.
LOCKED_CALL_FIELDS = {
    "pools": "pools",
    "quarters": "pools",
    "subsidy_rate": "rates",
    "max_subsidy_rate": "rates",
    "max_subsidy_per_proposal": "rates",
    "eligible_org_types": "eligibility",
    "pass_mean": "rubric",
    "criteria": "rubric",
}


@dataclass
class CallSetup:
    """The whole set-up of a call, as the call page's forms give it."""

    values: dict[str, Any]
    quarters: list[str]
    pools: list[dict[str, Any]]
    capacities: list[dict[str, Any]]
    criteria: list[dict[str, Any]]
    screening: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    review: dict[str, Any] = field(default_factory=dict)
    allocation: dict[str, Any] = field(default_factory=dict)


def call_has_submissions(call: Call) -> bool:
    return call.pk is not None and call.proposals.filter(submitted_at__isnull=False).exists()


def quarter_for_code(code: str) -> Quarter:
    """The quarter ``YYYYQn`` (created with its dates in Hong Kong when it does not exist yet)."""
    match = QUARTER_CODE.match(code.strip().upper())
    if not match:
        raise ValidationError({"quarters": _("“%(code)s” is not a quarter; write it as 2027Q1.") % {"code": code}})
    year, q = int(match.group(1)), int(match.group(2))
    starts = date(year, 3 * q - 2, 1)
    ends = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    ends = date.fromordinal(ends.toordinal() - 1)
    quarter = Quarter.objects.filter(code=f"{year}Q{q}").first()
    if quarter is None:
        quarter = Quarter(code=f"{year}Q{q}", starts_on=starts, ends_on=ends)
        quarter.full_clean()
        quarter.save()
    return quarter


def _sync_rows(manager, rows: list[dict[str, Any]], *, model, call: Call, frozen=None) -> None:
    """Make the call's rows (by ``number``) exactly ``rows``: update those kept, add new ones, delete the rest.
    ``frozen(row)`` True: that stored row may be neither changed nor deleted."""
    existing = {row.number: row for row in manager.all()}
    wanted = {row["number"]: row for row in rows}
    if len(wanted) != len(rows):
        raise ValidationError(_("Two rows of the same list have the same number."))
    for number, stored in existing.items():
        if frozen is not None and frozen(stored):
            if number not in wanted or any(getattr(stored, k) != v for k, v in wanted[number].items()):
                raise ValidationError(
                    _("Claw-back checkpoint %(number)s has been applied or warned of; it can no longer change.")
                    % {"number": number}
                )
            continue
        if number not in wanted:
            stored.delete()
    for number, values in wanted.items():
        row = existing.get(number) or model(call=call, number=number)
        if frozen is not None and row.pk and frozen(row):
            continue
        for key, value in values.items():
            setattr(row, key, value)
        row.full_clean()
        row.save()


def _check_rubric(criteria: list[dict[str, Any]]) -> None:
    if not criteria:
        raise ValidationError({"criteria": _("The rubric needs at least one criterion.")})
    total = sum((Decimal(row["weight"]) for row in criteria), Decimal(0))
    if total != Decimal(100):
        raise ValidationError(
            {
                "criteria": _("The rubric's weights add up to %(total)s%%; they must add up to 100%%.")
                % {"total": f"{total.normalize():f}"}
            }
        )


def _locked_changes(call: Call, before: dict, after: dict, *, now) -> list[str]:
    """Why the change may not be made on a call with submissions: one sentence per thing it would alter."""
    reasons: list[str] = []
    topics = {
        topic for name, topic in LOCKED_CALL_FIELDS.items() if before["call"].get(name) != after["call"].get(name)
    }
    if before["prices"] != after["prices"]:
        topics.add("pools")
    messages = {
        "rubric": _("the rubric and its pass mark cannot change: submitted proposals are scored against them"),
        "pools": _("the pools, their list prices and the quarters cannot change: proposals requested hours in them"),
        "rates": _("the subsidy rates and the cap per proposal cannot change: proposals worked out their subsidy"),
        "eligibility": _("who may apply cannot change: proposals were submitted under these terms"),
    }
    reasons.extend(str(messages[topic]) for topic in ("rubric", "pools", "rates", "eligibility") if topic in topics)
    dates = {
        "opens_at": _("the opening time has passed"),
        "closes_at": _("the closing time has passed"),
    }
    for name, message in dates.items():
        old = before["call"].get(name)
        if old is not None and old != after["call"].get(name) and getattr(call, f"_stored_{name}") <= now:
            reasons.append(str(message))
    stored_deadline = before.get("stored_review_deadline")
    if (
        stored_deadline is not None
        and stored_deadline <= now
        and before["review"].get("review_deadline") != after["review"].get("review_deadline")
    ):
        reasons.append(str(_("the review deadline has passed")))
    return reasons


def _snapshot(call: Call, pools: list[ResourcePool], review, allocation) -> dict[str, Any]:
    return {
        "call": config_snapshot(call, fields=(*CALL_FIELDS, "pools", "quarters"), related=CALL_RELATED),
        "prices": {pool.pk: str(pool.list_price) for pool in ResourcePool.objects.filter(pk__in=[p.pk for p in pools])},
        "review": config_snapshot(review, fields=REVIEW_FIELDS),
        "allocation": config_snapshot(allocation, fields=ALLOCATION_FIELDS),
    }


@transaction.atomic
def call_configure(*, actor, call: Call | None, setup: CallSetup, reason: str = "") -> Call:
    """Create (``call`` None) or change a call with its whole set-up; see the module's note."""
    from portal.allocations.models import CallAllocationSettings, CheckpointStatus, ClawbackCheckpoint
    from portal.decisions.models import ScreeningItem
    from portal.reviews.models import CallReviewSettings

    now = timezone.now()
    call = Call() if call is None else Call.objects.select_for_update().get(pk=call.pk)
    call._stored_opens_at = call.opens_at
    call._stored_closes_at = call.closes_at
    submitted = call_has_submissions(call)

    values = dict(setup.values)
    if int(values.get("min_reviewers") or 0) > int(values.get("reviewers_per_proposal") or 0):
        raise ValidationError(
            {"min_reviewers": _("The minimum of reviews cannot be more than the reviewers per proposal.")}
        )
    _check_rubric(setup.criteria)

    review = (CallReviewSettings.objects.filter(call=call).first() if call.pk else None) or CallReviewSettings()
    allocation = (CallAllocationSettings.objects.filter(call=call).first() if call.pk else None) or (
        CallAllocationSettings()
    )
    stored_pools = list(call.pools.all()) if call.pk else []
    before = _snapshot(call, stored_pools, review, allocation)
    before["stored_review_deadline"] = review.review_deadline if review.pk else None

    quarters = [quarter_for_code(code) for code in setup.quarters]
    if not quarters:
        raise ValidationError({"quarters": _("Name at least one quarter in which the hours are used.")})
    quarter_by_code = {q.code: q for q in quarters}

    # Pools: the chosen ones, and new ones typed in a row; each pool's own values (shared by every call using it).
    pools: list[ResourcePool] = []
    pool_snapshots: list[tuple[ResourcePool, dict]] = []
    for row in setup.pools:
        pool = row.get("pool") or ResourcePool.objects.filter(code=row.get("code") or "").first() or ResourcePool()
        pool_snapshots.append(
            (pool, config_snapshot(pool, fields=POOL_FIELDS, related={"capacities": CAPACITY_FIELDS}))
        )
        for key in POOL_FIELDS:
            if key in ("code", "name", "name_zh", "gpu_type") and pool.pk and not row.get(key):
                continue
            if key in row and row[key] is not None:
                setattr(pool, key, row[key])
        pool.full_clean()
        pool.save()
        pools.append(pool)
    if not pools:
        raise ValidationError({"pools": _("The call needs at least one pool.")})
    if len({p.pk for p in pools}) != len(pools):
        raise ValidationError({"pools": _("A pool is listed twice.")})
    pool_by_code = {p.code: p for p in pools}

    with config_change(
        actor=actor, obj=call, reason=reason, fields=(*CALL_FIELDS, "pools", "quarters"), related=CALL_RELATED
    ):
        for key, value in values.items():
            setattr(call, key, value)
        call.full_clean(exclude=["pools", "quarters"])
        call.save()
        call.pools.set(pools)
        call.quarters.set(quarters)
        _sync_rows(call.criteria, setup.criteria, model=RubricCriterion, call=call)
        _sync_rows(call.screening_items, setup.screening, model=ScreeningItem, call=call)
        _sync_rows(
            call.clawback_checkpoints,
            setup.checkpoints,
            model=ClawbackCheckpoint,
            call=call,
            frozen=lambda row: row.status != CheckpointStatus.SCHEDULED,
        )

    for row in setup.capacities:
        pool = pool_by_code.get(row["pool"])
        quarter = quarter_by_code.get(row["quarter"])
        if pool is None or quarter is None:
            raise ValidationError(
                {
                    "capacities": _("Capacity is given for %(pool)s in %(quarter)s, which the call does not use.")
                    % {"pool": row["pool"], "quarter": row["quarter"]}
                }
            )
        capacity = PoolCapacity.objects.filter(pool=pool, quarter=quarter).first() or PoolCapacity(
            pool=pool, quarter=quarter
        )
        capacity.gpu_hours = row["gpu_hours"]
        capacity.full_clean()
        capacity.save()
    for pool, pool_before in pool_snapshots:
        pool_after = config_snapshot(pool, fields=POOL_FIELDS, related={"capacities": CAPACITY_FIELDS})
        config_change_record(actor=actor, obj=pool, before=pool_before, after=pool_after, reason=reason)

    with config_change(actor=actor, obj=review, reason=reason, fields=REVIEW_FIELDS):
        review.call = call
        for key, value in setup.review.items():
            setattr(review, key, value)
        review.full_clean()
        review.save()
    with config_change(actor=actor, obj=allocation, reason=reason, fields=ALLOCATION_FIELDS):
        allocation.call = call
        for key, value in setup.allocation.items():
            setattr(allocation, key, value)
        allocation.full_clean()
        allocation.save()

    if submitted:
        after = _snapshot(call, pools, review, allocation)
        after["call"]["pools"] = sorted(p.pk for p in pools)
        reasons = _locked_changes(call, before, after, now=now)
        if reasons:
            raise ValidationError(
                _("This call has submissions, so the change was not saved: %(reasons)s.")
                % {"reasons": "; ".join(reasons)}
            )
    return call
