"""Change requests (domain brief §10; issue 11 point 3): an applicant asks to change a locked award, the
secretariat recommends, another official approves (four-eyes) or refuses; the applicant may withdraw it before a
decision. The life is one table (``TRANSITIONS``) read by one service (``change_request_transition``).

What a change may do is worked out by ``change_plan`` and checked on submission, on recommendation and, holding the
row locks, on approval: never more hours than a pool has in a quarter (the allocation lock's own check,
``_check_capacity``, with the pool-quarter capacity rows locked) nor more subsidy than the call's budget. An approved
change sets the award's hours (whole GPU-hours; a quarter's request is raised to what it now holds), its share and
its subsidy (worked as the allocation works it), and records the award's next version, which tells the centre."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext_lazy

from portal.allocations.models import Award, AwardHours, UsageQuarter
from portal.allocations.selectors import locked_awards
from portal.allocations.services import (
    SHARE_QUANTUM,
    CapacityExceeded,
    _cells_subsidy,
    _check_capacity,
    _run_prices,
)
from portal.audit.services import audit_record
from portal.calls.models import Quarter, ResourcePool
from portal.core.formatting import format_hkd, hk_localtime, hk_today
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal

from .billing import hours_from_seconds
from .enums import PENDING, AwardVersionKind, ChangeRequestKind, ChangeRequestState
from .models import MAX_CHANGE_HOURS, ChangeRequest
from .versions import award_version_record

ZERO = Decimal(0)
WHOLE = Decimal(1)
K = ChangeRequestKind
S = ChangeRequestState


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    permission: str
    label: object
    note_required: bool = False


# action -> (from which states, to which state, the permission checked on the change request, the button's label)
TRANSITIONS: dict[str, Transition] = {
    "recommend": Transition(
        (S.SUBMITTED,), S.RECOMMENDED, "portal.projects.recommend_change", pgettext_lazy("change request", "Recommend")
    ),
    "approve": Transition(
        (S.RECOMMENDED,), S.APPROVED, "portal.projects.approve_change", pgettext_lazy("change request", "Approve")
    ),
    "refuse": Transition(
        PENDING, S.REFUSED, "portal.projects.refuse_change", pgettext_lazy("change request", "Refuse"), True
    ),
    "withdraw": Transition(
        PENDING, S.WITHDRAWN, "portal.projects.withdraw_change", pgettext_lazy("change request", "Withdraw")
    ),
}


class NoLockedAward(ValidationError):
    pass


def project_award(proposal: Proposal) -> Award:
    """The award a change request changes: the project's first locked, funded award (a top-up from reclaimed
    hours is a separate award and keeps its hours)."""
    award = locked_awards(proposal=proposal).first()
    if award is None or proposal.state != ProposalState.ACTIVE:
        raise NoLockedAward(_("Only an active project with a locked award can ask for a change."))
    return award


def used_hours_by_cell(*, proposal: Proposal) -> dict[tuple[str, str], Decimal]:
    """GPU-hours used per (pool code, quarter code): the project's Slurm jobs in the partition named like the pool,
    as billing counts them. One query."""
    rows = (
        UsageQuarter.objects.filter(job__proposal=proposal, gpu_seconds__gt=0)
        .values("job__partition", "quarter")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by()
    )
    return {(row["job__partition"], row["quarter"]): hours_from_seconds(row["seconds"]) for row in rows}


@dataclass
class Plan:
    """An award as a change would leave it: its cells (new ones unsaved), the hours each cell gains (what capacity
    is checked on), its share and subsidy."""

    award: Award
    cells: list[AwardHours]
    changed: list[AwardHours]
    extra: dict[tuple[int, int], Decimal]
    share: Decimal
    subsidy: Decimal

    @property
    def subsidy_change(self) -> Decimal:
        return self.subsidy - self.award.subsidy


def _whole(value: Decimal) -> Decimal:
    return Decimal(value).quantize(WHOLE, rounding=ROUND_FLOOR)


def _hours(value) -> str:
    return f"{Decimal(value):,.0f}"


def change_plan(
    *,
    award: Award,
    kind: str,
    pool: ResourcePool | None,
    quarter: Quarter,
    to_quarter: Quarter | None,
    gpu_hours: int,
    today: date | None = None,
    cells: list[AwardHours] | None = None,
) -> Plan:
    """The award after the change, or ``ValidationError`` naming the field at fault (``pool``, ``quarter``,
    ``to_quarter``, ``gpu_hours``) with what is possible. Capacity and the budget are checked by
    :func:`change_check`. A cell's request is raised to what it comes to hold (the database keeps hours within the
    request); an extension moves the request with the hours, so a fully funded project stays fully funded."""
    today = today or hk_today()
    call = award.run.call
    proposal = award.proposal
    if cells is None:
        cells = list(award.hours.select_related("pool", "quarter"))
    by_key = {(c.pool_id, c.quarter_id): c for c in cells}
    call_quarters = {q.pk: q for q in call.quarters.all()}
    errors: dict[str, list[str]] = defaultdict(list)
    hours = Decimal(gpu_hours or 0)
    if kind not in K.values:
        raise ValidationError({"kind": _("Choose the change.")})
    if kind != K.EARLY_END:
        if pool is None or not call.pools.filter(pk=pool.pk).exists():
            errors["pool"].append(_("Choose a pool of the call."))
        if not 1 <= hours <= MAX_CHANGE_HOURS:
            errors["gpu_hours"].append(_("Between 1 and %(max)s whole GPU-hours.") % {"max": _hours(MAX_CHANGE_HOURS)})
    if quarter.pk not in call_quarters:
        errors["quarter"].append(_("Choose a quarter of the call."))
    if errors:
        raise ValidationError(dict(errors))
    used = used_hours_by_cell(proposal=proposal)
    awarded_total = defaultdict(Decimal)  # every locked award of the project, per (pool code, quarter code)
    for other in locked_awards(proposal=proposal):
        for c in other.hours.all() if other.pk != award.pk else cells:
            awarded_total[(c.pool.code, c.quarter.code)] += c.gpu_hours
    new: dict[tuple[int, int], Decimal] = {key: c.gpu_hours for key, c in by_key.items()}
    moved_request = None

    def unused(pool_obj, quarter_obj) -> Decimal:
        """Hours of this award's cell that the project has not used (usage counts against every award of it)."""
        cell = by_key.get((pool_obj.pk, quarter_obj.pk))
        if cell is None:
            return ZERO
        key = (pool_obj.code, quarter_obj.code)
        return _whole(max(min(cell.gpu_hours, awarded_total[key] - used.get(key, ZERO)), ZERO))

    def still_open(field: str, q: Quarter) -> bool:
        if q.ends_on < today:
            errors[field].append(_("%(quarter)s has ended.") % {"quarter": q.code})
            return False
        return True

    if kind == K.EXTENSION:
        if to_quarter is None or to_quarter.pk not in call_quarters:
            errors["to_quarter"].append(_("Choose a later quarter of the call."))
        elif to_quarter.starts_on <= quarter.starts_on:
            errors["to_quarter"].append(
                _("Choose a quarter after %(quarter)s: hours move to a later quarter.") % {"quarter": quarter.code}
            )
        else:
            still_open("to_quarter", to_quarter)
        room = unused(pool, quarter)
        if hours > room:
            errors["gpu_hours"].append(
                _("At most %(hours)s unused GPU-hours of %(pool)s in %(quarter)s can move.")
                % {"hours": _hours(room), "pool": pool.name, "quarter": quarter.code}
            )
        if not errors:
            new[(pool.pk, quarter.pk)] -= hours
            new[(pool.pk, to_quarter.pk)] = new.get((pool.pk, to_quarter.pk), ZERO) + hours
            moved_request = (pool.pk, quarter.pk)  # the request moves with the hours
    elif kind == K.SUPPLEMENT:
        if still_open("quarter", quarter):
            new[(pool.pk, quarter.pk)] = new.get((pool.pk, quarter.pk), ZERO) + hours
    elif kind == K.REDUCTION:
        room = unused(pool, quarter)
        if still_open("quarter", quarter) and hours > room:
            errors["gpu_hours"].append(
                _("At most the %(hours)s unused GPU-hours of %(pool)s in %(quarter)s can be given back.")
                % {"hours": _hours(room), "pool": pool.name, "quarter": quarter.code}
            )
        if not errors:
            new[(pool.pk, quarter.pk)] -= hours
    else:  # early end: the project ends with ``quarter``; every later hour goes back
        later = [c for c in cells if c.quarter.starts_on > quarter.starts_on and c.gpu_hours > 0]
        if not later:
            errors["quarter"].append(
                _("The award has no hours after %(quarter)s: there is nothing to end.") % {"quarter": quarter.code}
            )
        for c in later:
            if used.get((c.pool.code, c.quarter.code), ZERO) > 0:
                errors["quarter"].append(
                    _("GPU-hours were already used in %(quarter)s, after the end you ask for.")
                    % {"quarter": c.quarter.code}
                )
            new[(c.pool_id, c.quarter_id)] = ZERO
    if errors:
        raise ValidationError(dict(errors))
    pools = {c.pool_id: c.pool for c in cells} | ({pool.pk: pool} if pool else {})
    quarters = {c.quarter_id: c.quarter for c in cells} | call_quarters
    after, changed, extra = [], [], {}
    for key, value in sorted(new.items()):
        cell = by_key.get(key)
        if cell is None:
            cell = AwardHours(award=award, pool=pools[key[0]], quarter=quarters[key[1]], requested=ZERO, gpu_hours=ZERO)
        if value != cell.gpu_hours:
            if value > cell.gpu_hours:
                extra[key] = value - cell.gpu_hours
            if key == moved_request:
                cell.requested = max(cell.requested - (cell.gpu_hours - value), value)
            cell.gpu_hours = value
            cell.requested = max(cell.requested, value)
            changed.append(cell)
        after.append(cell)
    requested = sum((c.requested for c in after), ZERO)
    total = sum((c.gpu_hours for c in after), ZERO)
    share = (total / requested).quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR) if requested else ZERO
    subsidy = _cells_subsidy(after, award.subsidy_rate, _run_prices(award.run))
    return Plan(award=award, cells=after, changed=changed, extra=extra, share=share, subsidy=subsidy)


def change_check(plan: Plan) -> None:
    """Refuse the plan (``ValidationError`` on ``gpu_hours``) when it would award more hours than a pool has in a
    quarter beside every locked award, or commit more subsidy than the call's budget. Call it inside a transaction:
    it locks the pool-quarter capacity rows it touches (in primary-key order), as the allocation lock does."""
    try:
        _check_capacity(plan.extra)
    except CapacityExceeded as exc:
        raise ValidationError(
            {"gpu_hours": [_("Capacity: %(problem)s") % {"problem": m} for m in exc.messages]}
        ) from exc
    if plan.subsidy_change > 0:
        call = plan.award.run.call
        committed = (
            Award.objects.filter(run__call=call, run__locked_at__isnull=False).aggregate(total=Sum("subsidy"))["total"]
            or ZERO
        )
        if committed + plan.subsidy_change > call.budget:
            raise ValidationError(
                {
                    "gpu_hours": _(
                        "Budget: the change adds %(more)s of subsidy, which would commit %(total)s of the call's budget of %(budget)s (%(room)s left)."
                    )
                    % {
                        "more": format_hkd(plan.subsidy_change),
                        "total": format_hkd(committed + plan.subsidy_change),
                        "budget": format_hkd(call.budget),
                        "room": format_hkd(max(call.budget - committed, ZERO)),
                    }
                }
            )


def _plan_of(request: ChangeRequest, *, today: date | None = None, lock: bool = False) -> Plan:
    """The plan of ``request`` as the award stands; with ``lock``, its hours rows and then its award row are locked
    (the order claw-back takes them in, so the two never wait on each other in a circle)."""
    cells = AwardHours.objects.filter(award_id=request.award_id).select_related("pool", "quarter")
    cells = list((cells.select_for_update(of=("self",)) if lock else cells).order_by("pk"))
    award = Award.objects.select_related("run__call", "proposal")
    award = (award.select_for_update(of=("self",)) if lock else award).get(pk=request.award_id)
    for cell in cells:
        cell.award = award
    return change_plan(
        award=award,
        kind=request.kind,
        pool=request.pool,
        quarter=request.quarter,
        to_quarter=request.to_quarter,
        gpu_hours=request.gpu_hours,
        today=today,
        cells=cells,
    )


def _summary(request: ChangeRequest) -> dict:
    return {
        "proposal": request.proposal.reference,
        "award": request.award_id,
        "kind": request.kind,
        "pool": request.pool.code if request.pool else None,
        "quarter": request.quarter.code,
        "to_quarter": request.to_quarter.code if request.to_quarter else None,
        "gpu_hours": request.gpu_hours,
    }


@transaction.atomic
def change_request_submit(
    *,
    proposal: Proposal,
    kind: str,
    quarter: Quarter,
    reason: str,
    actor,
    pool: ResourcePool | None = None,
    to_quarter: Quarter | None = None,
    gpu_hours: int = 0,
    now: datetime | None = None,
) -> ChangeRequest:
    """File a change request of ``proposal`` (an applicant of its organisation), with the reason. Refused, with
    what is possible, when the change could not be made as things stand (the hours, capacity, the budget)."""
    if not actor.has_perm("portal.projects.request_change", proposal):
        raise PermissionDenied
    reason = (reason or "").strip()
    award = project_award(proposal)
    if kind == K.EARLY_END:
        pool, to_quarter, gpu_hours = None, None, 0
    elif kind != K.EXTENSION:
        to_quarter = None
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    plan = change_plan(
        award=award,
        kind=kind,
        pool=pool,
        quarter=quarter,
        to_quarter=to_quarter,
        gpu_hours=gpu_hours,
        today=hk_localtime(now).date() if now else None,
    )
    change_check(plan)
    request = ChangeRequest(
        proposal=proposal,
        award=award,
        kind=kind,
        pool=pool,
        quarter=quarter,
        to_quarter=to_quarter,
        gpu_hours=gpu_hours or 0,
        reason=reason,
        submitted_by=actor,
        submitted_at=now or timezone.now(),
    )
    request.full_clean()
    request.save()
    audit_record(
        actor=actor,
        action="change_request.submit",
        obj=request,
        after={**_summary(request), "state": request.state, "subsidy_change": str(plan.subsidy_change)},
        reason=reason,
    )
    transaction.on_commit(lambda: _notify_officials(request.pk, "submitted"))
    return request


@transaction.atomic
def change_request_transition(
    *, request: ChangeRequest, action: str, actor, note: str = "", now: datetime | None = None
) -> ChangeRequest:
    """Move ``request`` by ``action`` (a row of ``TRANSITIONS``): the state guard, the four-eyes rule (whoever
    recommended may not approve), the permission, then for an approval the change itself, all audited; the people
    concerned are told after commit."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationError(_("Choose an action."))
    now = now or timezone.now()
    note = (note or "").strip()
    request = (
        ChangeRequest.objects.select_for_update(of=("self",))
        .select_related("proposal", "pool", "quarter", "to_quarter")
        .get(pk=request.pk)
    )
    if request.state not in transition.sources:
        raise ValidationError(
            _("This change request is %(state)s: it cannot be done now.") % {"state": request.get_state_display()}
        )
    if action == "approve" and request.recommended_by_id == actor.pk:
        raise ValidationError(_("You recommended this change: another official must approve it (four-eyes rule)."))
    if not actor.has_perm(transition.permission, request):
        raise PermissionDenied
    if transition.note_required and not note:
        raise ValidationError({"note": _("Give the reason.")})
    if action in ("recommend", "approve") and request.proposal.state != ProposalState.ACTIVE:
        raise ValidationError(_("The project is no longer active: refuse the change request instead."))
    before = {"state": request.state}
    after = {**_summary(request), "state": transition.target}
    if action in ("recommend", "approve"):
        plan = _plan_of(request, lock=action == "approve", today=hk_localtime(now).date())
        change_check(plan)
        after["subsidy_change"] = str(plan.subsidy_change)
    if action == "recommend":
        request.recommended_by, request.recommended_at, request.recommendation_note = actor, now, note
    elif action == "withdraw":
        request.decided_at = now
    else:
        request.decided_by, request.decided_at, request.decision_note = actor, now, note
    if action == "approve":
        request.version = _apply(plan, request=request, actor=actor, now=now)
        after["version"] = request.version.number
    request.state = transition.target
    request.full_clean()
    request.save()
    audit_record(actor=actor, action=f"change_request.{action}", obj=request, before=before, after=after, reason=note)
    if action in ("approve", "refuse"):
        transaction.on_commit(lambda: _notify_applicants(request.pk))
    elif action == "recommend":
        transaction.on_commit(lambda: _notify_officials(request.pk, "recommended"))
    return request


def _apply(plan: Plan, *, request: ChangeRequest, actor, now: datetime):
    """Write the plan to the award and record its next version (which tells the centre and the secretariat)."""
    award = plan.award
    for cell in plan.changed:
        cell.full_clean()
        cell.save()
    award.share = plan.share
    award.subsidy = plan.subsidy
    award.full_clean()
    award.save(update_fields=["share", "subsidy"])
    return award_version_record(
        award=award, kind=AwardVersionKind(request.kind), reason=request.reason, actor=actor, now=now
    )


def _kind_message(request: ChangeRequest) -> dict:
    return {"reference": request.proposal.reference, "kind": ChangeRequestKind(request.kind)}


def _notify_officials(request_id: int, stage: str) -> None:
    """A submitted request is waiting for the secretariat's recommendation; a recommended one for another
    official's approval (the chair, approving officers and the rest of the secretariat). Only those free of
    conflict on the project are told."""
    from portal.accounts.enums import Role
    from portal.accounts.models import User
    from portal.notifications.messages import Message
    from portal.notifications.services import notify
    from portal.reviews.conflicts import free_of_conflict

    request = ChangeRequest.objects.select_related("proposal").get(pk=request_id)
    if stage == "submitted":
        roles = (Role.SECRETARIAT,)
        msgid = gettext_noop("%(reference)s asks for a change (%(kind)s): it waits for your recommendation.")
    else:
        roles = (Role.SECRETARIAT, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER)
        msgid = gettext_noop("A change to %(reference)s (%(kind)s) is recommended: it waits for your approval.")
    officials = User.objects.filter(role__in=roles, is_active=True).exclude(pk=request.recommended_by_id or 0)
    url = reverse("projects:change_request", args=[request.pk])
    for user in free_of_conflict(users=officials.order_by("pk"), proposal=request.proposal):
        notify(user=user, message=Message(msgid, _kind_message(request)), url=url, key=f"change-{stage}:{request.pk}")


def _notify_applicants(request_id: int) -> None:
    from portal.notifications.services import user_notify

    request = ChangeRequest.objects.select_related("proposal__organisation", "version").get(pk=request_id)
    proposal = request.proposal
    url = reverse("projects:change_request", args=[request.pk])
    context = {
        "reference": proposal.reference,
        "title": proposal.title,
        "kind": ChangeRequestKind(request.kind),
        "approved": request.state == S.APPROVED,
        "note": request.decision_note,
        "version": request.version.number if request.version else None,
        "hours": _hours(request.version.gpu_hours) if request.version else "",
    }
    for membership in proposal.organisation.memberships.select_related("user").order_by("pk"):
        user_notify(
            user=membership.user,
            key=f"change-decided:{request.pk}",
            template="emails/projects_change_decided",
            context=context,
            url=url,
        )
