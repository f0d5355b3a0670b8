"""The proposal workflow as data: one table of allowed transitions, read by ``proposal_transition``.

Each row says from which states an action may be taken, the state it leads to, the permission (a django-rules
permission checked against the proposal) and whether a reason is required. Pages and buttons derive from it."""

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


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({S.DRAFT}), S.SUBMITTED, "proposals.submit_proposal", _("Submit")),
        Transition(
            "resubmit",
            frozenset({S.CLARIFICATION_REQUESTED}),
            S.SCREENING,
            "proposals.submit_proposal",
            _("Submit the revised proposal"),
        ),
        Transition(
            "withdraw",
            frozenset(WITHDRAWABLE),
            S.WITHDRAWN,
            "proposals.withdraw_proposal",
            _("Withdraw"),
            reason_required=True,
        ),
    )
}


def transitions_from(state: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if state in t.sources]
