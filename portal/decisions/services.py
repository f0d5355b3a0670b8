"""Writes for screening, clarifications, recommendations and decisions.

Every state change goes through ``proposal_transition`` (the workflow table); the records made here are written in
the same transaction, so a refused or conflicting step leaves nothing behind."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.enums import OrganisationType
from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.core.formatting import format_hkd
from portal.proposals.enums import AttachmentKind, ProposalState
from portal.proposals.models import MAX_HOURS_PER_CELL, Proposal, ProposalVersion
from portal.proposals.services import TransitionConflict, proposal_transition

from .models import (
    MAX_SUBSIDY_RATE,
    CheckKind,
    ClarificationRequest,
    Decision,
    Recommendation,
    RecommendedHours,
    Screening,
    ScreeningAnswer,
    ScreeningItem,
)

DEFAULT_CHECKLIST = (
    (
        CheckKind.APPLICANT_TYPE,
        "The applicant's organisation type is eligible for this call.",
        "申請機構的類別符合本輪申請資格。",
        [],
    ),
    (
        CheckKind.BR_NUMBER,
        "An enterprise applicant has an 8-digit Business Registration number.",
        "企業申請者具備八位數字的商業登記號碼。",
        [],
    ),
    (
        CheckKind.DOCUMENTS,
        "The technical proposal is attached.",
        "已附上技術計劃書。",
        [AttachmentKind.TECHNICAL.value],
    ),
    (
        CheckKind.BUDGET_CAP,
        "The subsidy requested is within the call's cap per proposal.",
        "申請的資助額不超過本輪每項申請的上限。",
        [],
    ),
)


# ---- Screening --------------------------------------------------------------------------------------------------


@transaction.atomic
def screening_checklist_ensure(*, call: Call) -> list[ScreeningItem]:
    """The call's checklist, created from the default when the call has none yet."""
    items = list(call.screening_items.order_by("number"))
    if items:
        return items
    for number, (kind, text, text_zh, documents) in enumerate(DEFAULT_CHECKLIST, start=1):
        item = ScreeningItem(call=call, number=number, kind=kind, text=text, text_zh=text_zh)
        item.required_documents = documents
        item.full_clean()
        item.save()
        items.append(item)
    return items


def screening_suggest(*, call: Call, version: ProposalVersion, item: ScreeningItem) -> tuple[bool | None, str]:
    """What the submitted version says about one checklist item: (met?, explanation). ``None`` for manual items."""
    content = version.content
    organisation = content.get("organisation", {})
    if item.kind == CheckKind.APPLICANT_TYPE:
        org_type = organisation.get("type", "")
        label = OrganisationType(org_type).label if org_type in OrganisationType.values else org_type
        return org_type in (call.eligible_org_types or []), str(label)
    if item.kind == CheckKind.BR_NUMBER:
        if organisation.get("type") != OrganisationType.ENTERPRISE:
            return True, _("Not an enterprise.")
        br = organisation.get("br_number", "")
        return (len(br) == 8 and br.isdigit()), br or _("No BR number on file.")
    if item.kind == CheckKind.DOCUMENTS:
        kinds = {a.get("kind") for a in content.get("attachments", [])}
        missing = [k for k in (item.required_documents or []) if k not in kinds]
        labels = [str(AttachmentKind(k).label) if k in AttachmentKind.values else k for k in missing]
        return not missing, (_("Missing: %(kinds)s") % {"kinds": ", ".join(labels)}) if missing else _("All attached.")
    if item.kind == CheckKind.BUDGET_CAP:
        cap = call.max_subsidy_per_proposal
        if cap is None:
            return True, _("The call has no cap per proposal.")
        return version.subsidy <= cap, f"{format_hkd(version.subsidy)} / {format_hkd(cap)}"
    return None, ""


@transaction.atomic
def screening_record(
    *,
    proposal: Proposal,
    actor,
    answers: dict[int, bool],
    notes: dict[int, str] | None = None,
    reasons: str = "",
    now: datetime | None = None,
) -> Screening:
    """Record the eligibility checklist for the current version. All items met: the proposal goes to review;
    any item not met: the proposal is ineligible, with ``reasons`` the applicant sees."""
    now = now or timezone.now()
    if not actor.has_perm("portal.proposals.screen_proposal", proposal):
        raise PermissionDenied
    items = screening_checklist_ensure(call=proposal.call)
    missing = [item.number for item in items if item.pk not in answers]
    if missing:
        raise ValidationError(
            _("Answer every item of the checklist (missing: %(items)s).") % {"items": ", ".join(map(str, missing))}
        )
    eligible = all(answers[item.pk] for item in items)
    reasons = reasons.strip()
    if not eligible and not reasons:
        raise ValidationError({"reasons": _("Tell the applicant why the proposal is ineligible.")})
    screening = Screening(
        proposal=proposal,
        version=proposal.current_version,
        eligible=eligible,
        reasons=reasons,
        screened_by=actor,
        screened_at=now,
    )
    screening.full_clean()
    screening.save()
    notes = notes or {}
    ScreeningAnswer.objects.bulk_create(
        ScreeningAnswer(screening=screening, item=item, passed=answers[item.pk], note=notes.get(item.pk, "")[:500])
        for item in items
    )
    proposal_transition(
        proposal=proposal,
        action="pass_screening" if eligible else "mark_ineligible",
        actor=actor,
        reason=reasons,
        now=now,
    )
    return screening


@transaction.atomic
def clarification_request(
    *, proposal: Proposal, actor, questions: str, due_at: datetime, now: datetime | None = None
) -> ClarificationRequest:
    """Send the proposal back to the applicant with questions to answer by ``due_at``."""
    now = now or timezone.now()
    questions = questions.strip()
    if not actor.has_perm("portal.proposals.screen_proposal", proposal):
        raise PermissionDenied
    if due_at <= now:
        raise ValidationError({"due_at": _("The due date must be in the future.")})
    request = ClarificationRequest(
        proposal=proposal,
        version=proposal.current_version,
        questions=questions,
        due_at=due_at,
        requested_by=actor,
        requested_at=now,
    )
    request.full_clean()
    request.save()
    proposal_transition(proposal=proposal, action="request_clarification", actor=actor, reason=questions, now=now)
    return request


# ---- Recommendation ---------------------------------------------------------------------------------------------


def _check_rate(call: Call, subsidy_rate: Decimal, rate_reason: str) -> None:
    ceiling = min(MAX_SUBSIDY_RATE, call.max_subsidy_rate)
    if subsidy_rate < 0 or subsidy_rate > ceiling:
        raise ValidationError(
            {"subsidy_rate": _("The subsidy rate may be at most %(max)s%%.") % {"max": f"{ceiling * 100:.0f}"}}
        )
    if subsidy_rate > call.subsidy_rate and not rate_reason.strip():
        raise ValidationError(
            {
                "rate_reason": _("Give a reason for a subsidy rate above the call's %(rate)s%%.")
                % {"rate": f"{call.subsidy_rate * 100:.0f}"}
            }
        )


def _recommendation_new(
    *,
    proposal: Proposal,
    actor,
    recommended: bool,
    hours: dict[tuple[int, int], int] | None,
    subsidy_rate: Decimal | None,
    rate_reason: str,
    conditions: str,
    rationale: str,
    now: datetime,
) -> tuple[Recommendation, dict[tuple[int, int], int]]:
    """Check a recommendation and save it as the current one, superseding any other. Returns it and its hours."""
    call = proposal.call
    subsidy_rate = call.subsidy_rate if subsidy_rate is None else Decimal(subsidy_rate)
    _check_rate(call, subsidy_rate, rate_reason)
    cells = {cell: int(h) for cell, h in (hours or {}).items() if h}
    if recommended:
        pool_ids = set(call.pools.values_list("pk", flat=True))
        quarter_ids = set(call.quarters.values_list("pk", flat=True))
        if any(pool not in pool_ids or quarter not in quarter_ids for pool, quarter in cells):
            raise ValidationError({"hours": _("Hours may only be recommended in the call's pools and quarters.")})
        if any(h < 0 for h in cells.values()):
            raise ValidationError({"hours": _("Hours cannot be negative.")})
        if any(h > MAX_HOURS_PER_CELL for h in cells.values()):
            raise ValidationError(
                {
                    "hours": _("At most %(hours)s GPU-hours in a pool and quarter.")
                    % {"hours": f"{MAX_HOURS_PER_CELL:,}"}
                }
            )
        if not cells:
            raise ValidationError({"hours": _("Recommend some GPU-hours.")})
    else:
        cells = {}
        if not rationale.strip():
            raise ValidationError({"rationale": _("Give the reason for not recommending the proposal.")})
    Recommendation.objects.filter(proposal=proposal, is_current=True).update(is_current=False)
    recommendation = Recommendation(
        proposal=proposal,
        version=proposal.current_version,
        recommended=recommended,
        subsidy_rate=subsidy_rate,
        rate_reason=rate_reason.strip(),
        conditions=conditions.strip(),
        rationale=rationale.strip(),
        recommended_by=actor,
        created_at=now,
        is_current=True,
    )
    recommendation.full_clean()
    recommendation.save()
    RecommendedHours.objects.bulk_create(
        RecommendedHours(recommendation=recommendation, pool_id=pool, quarter_id=quarter, gpu_hours=h)
        for (pool, quarter), h in sorted(cells.items())
    )
    return recommendation, cells


@transaction.atomic
def recommendation_make(
    *,
    proposal: Proposal,
    actor,
    recommended: bool,
    hours: dict[tuple[int, int], int] | None = None,
    subsidy_rate: Decimal | None = None,
    rate_reason: str = "",
    conditions: str = "",
    rationale: str = "",
    now: datetime | None = None,
) -> Recommendation:
    """The committee recommends a proposal (hours per (pool id, quarter id), subsidy rate, conditions) or not.

    The subsidy rate is the call's unless raised with a reason; never above 90%."""
    now = now or timezone.now()
    if not actor.has_perm("portal.proposals.recommend_proposal", proposal):
        raise PermissionDenied
    recommendation, cells = _recommendation_new(
        proposal=proposal,
        actor=actor,
        recommended=recommended,
        hours=hours,
        subsidy_rate=subsidy_rate,
        rate_reason=rate_reason,
        conditions=conditions,
        rationale=rationale,
        now=now,
    )
    proposal_transition(
        proposal=proposal,
        action="recommend" if recommended else "not_recommend",
        actor=actor,
        reason=recommendation.rationale,
        now=now,
    )
    audit_record(
        actor=actor,
        action="recommendation.make",
        obj=recommendation,
        after={
            "proposal": proposal.pk,
            "recommended": recommended,
            "subsidy_rate": str(recommendation.subsidy_rate),
            "rate_reason": recommendation.rate_reason,
            "conditions": recommendation.conditions,
            "hours": {f"{p}:{q}": h for (p, q), h in sorted(cells.items())},
        },
        reason=recommendation.rationale,
    )
    return recommendation


# ---- Revising a recommendation before the decision ---------------------------------------------------------------

REVISABLE_STATES = frozenset({ProposalState.RECOMMENDED, ProposalState.NOT_RECOMMENDED})
REVISE_ACTION = "revise_recommendation"


def recommendation_revisable(*, proposal: Proposal) -> Recommendation | None:
    """The current recommendation if it may still be revised: the proposal waits for a decision and has none."""
    if proposal.state not in REVISABLE_STATES or proposal.decisions.exists():
        return None
    return (
        Recommendation.objects.filter(proposal=proposal, is_current=True)
        .select_related("recommended_by")
        .prefetch_related("hours")
        .first()
    )


def _recommendation_snapshot(recommendation: Recommendation, state: str) -> dict:
    return {
        "recommendation": recommendation.pk,
        "state": state,
        "recommended": recommendation.recommended,
        "recommended_by": recommendation.recommended_by_id,
        "subsidy_rate": str(recommendation.subsidy_rate),
        "rate_reason": recommendation.rate_reason,
        "conditions": recommendation.conditions,
        "rationale": recommendation.rationale,
        "hours": {f"{h.pool_id}:{h.quarter_id}": h.gpu_hours for h in recommendation.hours.order_by("pool", "quarter")},
    }


@transaction.atomic
def recommendation_revise(
    *,
    proposal: Proposal,
    actor,
    recommended: bool,
    hours: dict[tuple[int, int], int] | None,
    subsidy_rate: Decimal | None,
    rate_reason: str,
    conditions: str,
    rationale: str,
    reason: str,
    now: datetime | None = None,
) -> Recommendation:
    """Replace the current recommendation before the decision, giving the reason. The old one is kept, no longer
    current; the new one is checked as ``recommendation_make`` checks one. Whoever revises becomes the current
    recommender, so the four-eyes rule then keeps them from deciding."""
    now = now or timezone.now()
    if not actor.has_perm("portal.proposals.recommend_proposal", proposal):
        raise PermissionDenied
    # The same lock as ``decision_make``: a revision and a decision on the proposal are taken one after the other.
    current = Recommendation.objects.select_for_update().filter(proposal=proposal, is_current=True).first()
    if current is None:
        raise ValidationError(_("There is no recommendation to revise."))
    if Proposal.objects.filter(pk=proposal.pk).values_list("state", flat=True).get() != proposal.state:
        raise TransitionConflict
    if proposal.decisions.exists():
        raise ValidationError(_("The proposal has been decided; its recommendation can no longer be revised."))
    if proposal.state not in REVISABLE_STATES:
        raise ValidationError(_("A recommendation can only be revised while the proposal waits for a decision."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for revising the recommendation.")})
    before = _recommendation_snapshot(current, proposal.state)
    recommendation, _cells = _recommendation_new(
        proposal=proposal,
        actor=actor,
        recommended=recommended,
        hours=hours,
        subsidy_rate=subsidy_rate,
        rate_reason=rate_reason,
        conditions=conditions,
        rationale=rationale,
        now=now,
    )
    target = ProposalState.RECOMMENDED if recommended else ProposalState.NOT_RECOMMENDED
    # The workflow's revise row: on the timeline (deciders only), in the audit log, and the deciders are told.
    proposal_transition(proposal=proposal, action=REVISE_ACTION, actor=actor, reason=reason, now=now, target=target)
    audit_record(
        actor=actor,
        action="recommendation.revise",
        obj=recommendation,
        before=before,
        after=_recommendation_snapshot(recommendation, proposal.state),
        reason=reason,
    )
    return recommendation


# ---- Decision (four-eyes) ---------------------------------------------------------------------------------------


def decision_audit_values(decision: Decision) -> dict:
    """What the audit log keeps of a decision, and what ``verify_audit`` expects the stored decision to still be."""
    return {
        "proposal": decision.proposal_id,
        "recommendation": decision.recommendation_id,
        "approved": decision.approved,
        "decided_by": decision.decided_by_id,
    }


@transaction.atomic
def decision_make(
    *,
    proposal: Proposal,
    actor,
    approved: bool,
    reason: str = "",
    recommendation_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Approve or reject the current recommendation. Whoever recommended may not decide (four-eyes rule).

    ``recommendation_id``, when given, is the recommendation the decider read: if it has been revised since, nothing
    is decided (``TransitionConflict``)."""
    now = now or timezone.now()
    recommendation = Recommendation.objects.select_for_update().filter(proposal=proposal, is_current=True).first()
    if recommendation is None:
        raise ValidationError(_("There is no recommendation to decide on."))
    if recommendation_id is not None and recommendation.pk != recommendation_id:
        raise TransitionConflict
    # The lock serialises two deciders; whoever comes second finds the state changed, or the recommendation decided
    # (when it read the proposal only after the first had finished), and does nothing.
    state, decided = (
        Proposal.objects.filter(pk=proposal.pk)
        .annotate(decided=Exists(Decision.objects.filter(recommendation=recommendation)))
        .values_list("state", "decided")
        .get()
    )
    if state != proposal.state or decided:
        raise TransitionConflict
    if recommendation.recommended_by_id == actor.pk:
        raise PermissionDenied(_("You made the recommendation, so someone else must decide (four-eyes rule)."))
    if not actor.has_perm("portal.proposals.decide_proposal", proposal):
        raise PermissionDenied
    if approved and not recommendation.recommended:
        raise ValidationError(_("A proposal the committee did not recommend cannot be approved."))
    decision = Decision(
        proposal=proposal,
        recommendation=recommendation,
        approved=approved,
        decided_by=actor,
        reason=reason.strip(),
        decided_at=now,
    )
    decision.full_clean()
    decision.save()
    # The decision's values as ``manage.py verify_audit`` compares them with the stored decision.
    audit_record(actor=actor, action="decision.make", obj=decision, after=decision_audit_values(decision))
    proposal_transition(
        proposal=proposal, action="approve" if approved else "reject", actor=actor, reason=decision.reason, now=now
    )
    return decision


@dataclass
class BulkDecision:
    decided: list[Decision] = field(default_factory=list)
    refused: list[tuple[Proposal, str]] = field(default_factory=list)


def decision_make_bulk(
    *, proposals: list[Proposal], actor, approved: bool, reason: str = "", now: datetime | None = None
) -> BulkDecision:
    """Decide a batch: each proposal is its own decision, timeline step and audit record, each in its own
    transaction; a proposal that cannot be decided (four-eyes, changed state) is reported and skipped."""
    now = now or timezone.now()
    result = BulkDecision()
    for proposal in proposals:
        try:
            result.decided.append(
                decision_make(proposal=proposal, actor=actor, approved=approved, reason=reason, now=now)
            )
        except PermissionDenied as exc:
            result.refused.append((proposal, str(exc) or _("You may not decide on this proposal.")))
        except TransitionConflict:
            result.refused.append((proposal, _("The proposal changed state; reload and try again.")))
        except ValidationError as exc:
            result.refused.append((proposal, " ".join(exc.messages)))
    return result


# ---- Other steps of the table -----------------------------------------------------------------------------------


def proposal_step(*, proposal: Proposal, action: str, actor, reason: str = "", now: datetime | None = None) -> Proposal:
    """A step of the workflow that needs nothing but a reason (start screening, close the review, ...)."""
    from portal.proposals.workflow import GENERIC_ACTIONS

    if action not in GENERIC_ACTIONS:
        raise PermissionDenied
    return proposal_transition(proposal=proposal, action=action, actor=actor, reason=reason.strip(), now=now)
