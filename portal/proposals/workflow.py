"""The proposal workflow as data: one table of allowed transitions, read by ``proposal_transition``.

Each row says from which states an action may be taken, the state it leads to, the permission (a django-rules
permission checked against the proposal, which also carries the row's guard: who, and what must be complete),
whether a reason is required, whether the applicant sees the step on the timeline, and the page on which the
step is taken (a URL name taking the proposal's pk). Pages and buttons derive from it.

A row leads to one state, except where the step itself decides between several (a revised recommendation may
turn the committee's advice round): those are listed in ``other_targets``, and the service taking the step names
the one it leads to."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .enums import WITHDRAWABLE
from .enums import ProposalState as S


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    permission: str
    label: Promise
    reason_required: bool = False
    visible_to_applicant: bool = True
    url_name: str = ""
    style: str = "primary"
    other_targets: frozenset[str] = frozenset()

    @property
    def targets(self) -> frozenset[str]:
        """Every state the step may lead to."""
        return frozenset({self.target}) | self.other_targets


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            "submit",
            frozenset({S.DRAFT, S.AMENDING}),
            S.SUBMITTED,
            "portal.proposals.submit_proposal",
            _("Submit"),
            url_name="proposals:edit",
        ),
        Transition(
            "reopen",
            frozenset({S.SUBMITTED}),
            S.AMENDING,
            "portal.proposals.reopen_proposal",
            _("Reopen to amend"),
            url_name="proposals:reopen",
            style="outline-primary",
        ),
        Transition(
            "keep_submitted",
            frozenset({S.AMENDING}),
            S.SUBMITTED,
            "portal.proposals.keep_submitted_proposal",
            _("Keep the submitted version"),
            url_name="proposals:keep_submitted",
            style="outline-secondary",
        ),
        Transition(
            "start_screening",
            frozenset({S.SUBMITTED, S.AMENDING}),
            S.SCREENING,
            "portal.proposals.screen_proposal",
            _("Start screening"),
            url_name="decisions:transition",
        ),
        Transition(
            "request_clarification",
            frozenset({S.SCREENING}),
            S.CLARIFICATION_REQUESTED,
            "portal.proposals.screen_proposal",
            _("Request clarification"),
            reason_required=True,
            url_name="decisions:clarify",
            style="outline-primary",
        ),
        Transition(
            "resubmit",
            frozenset({S.CLARIFICATION_REQUESTED}),
            S.SCREENING,
            "portal.proposals.submit_proposal",
            _("Submit the revised proposal"),
            url_name="proposals:edit",
        ),
        Transition(
            "pass_screening",
            frozenset({S.SCREENING}),
            S.IN_REVIEW,
            "portal.proposals.screen_proposal",
            _("Screen eligibility"),
            url_name="decisions:screen",
        ),
        Transition(
            "mark_ineligible",
            frozenset({S.SCREENING}),
            S.INELIGIBLE,
            "portal.proposals.screen_proposal",
            _("Mark ineligible"),
            reason_required=True,
            url_name="decisions:screen",
            style="outline-danger",
        ),
        Transition(
            "close_review",
            frozenset({S.IN_REVIEW}),
            S.REVIEWED,
            "portal.proposals.close_review",
            _("Close the review"),
            url_name="decisions:transition",
        ),
        Transition(
            "open_response",
            frozenset({S.REVIEWED}),
            S.RESPONSE,
            "portal.proposals.close_review",
            _("Invite the applicant's response"),
            url_name="decisions:transition",
            style="outline-primary",
        ),
        Transition(
            "recommend",
            frozenset({S.REVIEWED, S.RESPONSE}),
            S.RECOMMENDED,
            "portal.proposals.recommend_proposal",
            _("Recommend"),
            visible_to_applicant=False,
            url_name="decisions:recommend",
        ),
        Transition(
            "not_recommend",
            frozenset({S.REVIEWED, S.RESPONSE}),
            S.NOT_RECOMMENDED,
            "portal.proposals.recommend_proposal",
            _("Do not recommend"),
            reason_required=True,
            visible_to_applicant=False,
            url_name="decisions:recommend",
            style="outline-danger",
        ),
        Transition(
            # Taken on the recommendation's own page (linked from the decision record), any number of times
            # before the decision; the revision says whether the proposal is then recommended or not.
            "revise_recommendation",
            frozenset({S.RECOMMENDED, S.NOT_RECOMMENDED}),
            S.RECOMMENDED,
            "portal.proposals.recommend_proposal",
            _("Revise the recommendation"),
            reason_required=True,
            visible_to_applicant=False,
            other_targets=frozenset({S.NOT_RECOMMENDED}),
        ),
        Transition(
            "approve",
            frozenset({S.RECOMMENDED}),
            S.APPROVED,
            "portal.proposals.decide_proposal",
            _("Approve"),
            url_name="decisions:decide",
            style="success",
        ),
        Transition(
            "reject",
            frozenset({S.RECOMMENDED, S.NOT_RECOMMENDED}),
            S.REJECTED,
            "portal.proposals.decide_proposal",
            _("Reject"),
            reason_required=True,
            url_name="decisions:decide",
            style="outline-danger",
        ),
        Transition(
            "allocate",
            frozenset({S.APPROVED}),
            S.ALLOCATED,
            "portal.allocations.lock_allocation",
            _("Allocate"),
        ),
        Transition(
            "activate",
            frozenset({S.ALLOCATED}),
            S.ACTIVE,
            "portal.allocations.lock_allocation",
            _("Activate"),
        ),
        Transition(
            "complete",
            frozenset({S.ACTIVE}),
            S.COMPLETED,
            "portal.proposals.complete_proposal",
            _("Mark completed"),
            reason_required=True,
            url_name="decisions:transition",
        ),
        Transition(
            # Taken by the service that accepts a project's final progress report (portal.projects.progress): the
            # official accepting it (four-eyes: not the one who screened it) completes the project.
            "complete_after_final_report",
            frozenset({S.ACTIVE}),
            S.COMPLETED,
            "portal.projects.complete_project",
            _("Complete (final progress report accepted)"),
            reason_required=True,
        ),
        Transition(
            "withdraw",
            frozenset(WITHDRAWABLE),
            S.WITHDRAWN,
            "portal.proposals.withdraw_proposal",
            _("Withdraw"),
            reason_required=True,
            url_name="proposals:withdraw",
            style="outline-danger",
        ),
    )
}

# Rows taken on their own page with more than a reason (a checklist, questions, hours, a decision).
GENERIC_ACTIONS = frozenset({"start_screening", "close_review", "open_response", "complete"})


def transitions_from(state: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if state in t.sources]
