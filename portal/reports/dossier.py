"""What the audit dossier of one proposal shows, gathered for auditors and the ombudsman: every submitted version
with its SHA-256, the screening, the clarifications, the reviews (anonymised: "Reviewer A"), the consensus, the
recommendations and decisions with who made them and when, the award in each locked run, and every audit record
about the proposal with the result of verifying the whole chain."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Q

from portal.allocations.models import Award, AwardHours
from portal.audit.models import AuditEvent
from portal.audit.services import ChainBreak, audit_verify
from portal.calls.models import RubricCriterion
from portal.decisions.models import ClarificationRequest, Decision, Recommendation, Screening, ScreeningAnswer
from portal.proposals.models import Proposal, ProposalVersion
from portal.reviews.models import ApplicantResponse, Assignment, Consensus, Review, Score
from portal.reviews.scoring import weighted_score


@dataclass
class DossierReview:
    label: str
    review: Review
    scores: list[tuple[RubricCriterion, int | None, str]]
    weighted: Decimal | None


@dataclass
class DossierEntry:
    event: AuditEvent
    actor: str  # empty when the actor is one of the proposal's reviewers, named by ``reviewer`` only
    reviewer: str = ""

    @property
    def before_text(self) -> str:
        return json.dumps(self.event.before, ensure_ascii=False, sort_keys=True) if self.event.before else ""

    @property
    def after_text(self) -> str:
        return json.dumps(self.event.after, ensure_ascii=False, sort_keys=True) if self.event.after else ""


@dataclass
class DossierData:
    proposal: Proposal
    versions: list[ProposalVersion]
    screenings: list[Screening]
    clarifications: list[ClarificationRequest]
    reviews: list[DossierReview]
    response: ApplicantResponse | None
    consensus: Consensus | None
    recommendations: list[Recommendation]
    decisions: list[Decision]
    awards: list[Award]
    entries: list[DossierEntry]
    chain_break: ChainBreak | None
    chain_length: int
    criteria: list[RubricCriterion] = field(default_factory=list)


def _reviewer_label(index: int) -> str:
    """A, B, …, Z, AA, AB, …"""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(65 + rest) + label
    return label


def _object_keys(proposal: Proposal, **ids) -> Q:
    """The audit records about the proposal or any of its parts."""
    query = Q(object_type="proposals.proposal", object_id=str(proposal.pk))
    for label, pks in ids.items():
        if pks:
            query |= Q(object_type=label.replace("__", "."), object_id__in=[str(pk) for pk in pks])
    return query


def _person(user) -> str:
    return user.full_name or user.email if user is not None else ""


def audit_dossier_data(*, proposal: Proposal) -> DossierData:
    criteria = list(RubricCriterion.objects.filter(call=proposal.call_id).order_by("number"))
    versions = list(ProposalVersion.objects.filter(proposal=proposal).select_related("submitted_by").order_by("number"))
    screenings = list(
        Screening.objects.filter(proposal=proposal)
        .select_related("screened_by", "version")
        .prefetch_related(Prefetch("answers", queryset=ScreeningAnswer.objects.select_related("item")))
        .order_by("screened_at", "pk")
    )
    clarifications = list(
        ClarificationRequest.objects.filter(proposal=proposal)
        .select_related("requested_by", "version", "answered_version")
        .order_by("requested_at", "pk")
    )
    assignments = list(Assignment.objects.filter(proposal=proposal).order_by("assigned_at", "pk"))
    labels = {a.reviewer_id: _reviewer_label(i) for i, a in enumerate(assignments)}
    reviews = []
    review_rows = (
        Review.objects.filter(assignment__proposal=proposal, submitted_at__isnull=False)
        .select_related("assignment", "version")
        .prefetch_related(Prefetch("scores", queryset=Score.objects.select_related("criterion")))
        .order_by("assignment__assigned_at", "assignment_id", "revision")
    )
    weights = {c.pk: c.weight for c in criteria}
    for review in review_rows:
        by_criterion = {s.criterion_id: s for s in review.scores.all()}
        scores = [
            (c, by_criterion[c.pk].score if c.pk in by_criterion else None, by_criterion.get(c.pk, Score()).comment)
            for c in criteria
        ]
        reviews.append(
            DossierReview(
                label=labels.get(review.assignment.reviewer_id, "?"),
                review=review,
                scores=scores,
                weighted=weighted_score({c.pk: s for c, s, _ in scores}, weights),
            )
        )
    recommendations = list(
        Recommendation.objects.filter(proposal=proposal)
        .select_related("recommended_by", "version")
        .order_by("created_at", "pk")
    )
    decisions = list(Decision.objects.filter(proposal=proposal).select_related("decided_by").order_by("decided_at"))
    awards = list(
        Award.objects.filter(proposal=proposal, run__locked_at__isnull=False)
        .select_related("run", "run__locked_by", "run__lock_proposed_by", "adjusted_by")
        .prefetch_related(
            Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter").order_by("pool__code"))
        )
        .order_by("run__locked_at", "pk")
    )
    response = ApplicantResponse.objects.filter(proposal=proposal).select_related("submitted_by").first()
    consensus = Consensus.objects.filter(proposal=proposal).select_related("recorded_by").first()
    query = _object_keys(
        proposal,
        proposals__proposalversion=[v.pk for v in versions],
        decisions__screening=[s.pk for s in screenings],
        decisions__clarificationrequest=[c.pk for c in clarifications],
        decisions__recommendation=[r.pk for r in recommendations],
        decisions__decision=[d.pk for d in decisions],
        reviews__assignment=[a.pk for a in assignments],
        reviews__review=[r.review.pk for r in reviews],
        reviews__consensus=[consensus.pk] if consensus else [],
        allocations__award=[a.pk for a in awards],
    )
    entries = []
    for event in AuditEvent.objects.filter(query).select_related("actor").order_by("seq"):
        if event.actor_id in labels:
            entries.append(DossierEntry(event=event, actor="", reviewer=labels[event.actor_id]))
            continue
        if event.actor is not None:
            actor = f"{_person(event.actor)} ({event.actor.get_role_display()})"
        else:
            actor = event.actor_repr
        entries.append(DossierEntry(event=event, actor=actor))
    return DossierData(
        proposal=proposal,
        versions=versions,
        screenings=screenings,
        clarifications=clarifications,
        reviews=reviews,
        response=response,
        consensus=consensus,
        recommendations=recommendations,
        decisions=decisions,
        awards=awards,
        entries=entries,
        chain_break=audit_verify(),
        chain_length=AuditEvent.objects.count(),
        criteria=criteria,
    )
