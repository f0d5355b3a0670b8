"""The progress-report workflow as data: one table of allowed transitions, read by ``progress_report_transition``
(as ``portal/proposals/workflow.py`` is for proposals).

Each row says from which states an action may be taken, the state it leads to, the permission (a django-rules
permission checked against the report, which carries the row's guard: who may act, four-eyes, no conflict),
whether a reason is required, and whether the applicant sees the step on the report's timeline.

    due ──submit──▶ submitted ──request_clarification──▶ clarification ──answer──▶ answered
                        │  ▲                                                        │
                        │  └───────────── (screened again) ◀────────────────────────┘
                        ├──recommend_accept / recommend_changes──▶ recommended (the secretariat screened it)
    recommended ──accept──▶ accepted          (another official: the chair or an approving officer)
    recommended ──require_changes──▶ changes_required ──resubmit──▶ submitted
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .enums import REPORT_TO_SCREEN
from .enums import ReportState as R


@dataclass(frozen=True)
class ReportTransition:
    action: str
    sources: frozenset[str]
    target: str
    permission: str
    label: Promise
    reason_required: bool = False
    visible_to_applicant: bool = True
    style: str = "primary"


REPORT_TRANSITIONS: dict[str, ReportTransition] = {
    t.action: t
    for t in (
        ReportTransition(
            "submit", frozenset({R.DUE}), R.SUBMITTED, "portal.projects.submit_progress_report", _("Submit the report")
        ),
        ReportTransition(
            "resubmit",
            frozenset({R.CHANGES_REQUIRED}),
            R.SUBMITTED,
            "portal.projects.submit_progress_report",
            _("Submit the revised report"),
        ),
        ReportTransition(
            "request_clarification",
            frozenset(REPORT_TO_SCREEN),
            R.CLARIFICATION,
            "portal.projects.screen_progress_report",
            _("Ask for a clarification"),
            reason_required=True,
            style="outline-primary",
        ),
        ReportTransition(
            "answer",
            frozenset({R.CLARIFICATION}),
            R.ANSWERED,
            "portal.projects.answer_progress_report",
            _("Send the answer"),
            reason_required=True,
        ),
        ReportTransition(
            "recommend_accept",
            frozenset(REPORT_TO_SCREEN),
            R.RECOMMENDED,
            "portal.projects.screen_progress_report",
            _("Recommend acceptance"),
            visible_to_applicant=False,
            style="success",
        ),
        ReportTransition(
            "recommend_changes",
            frozenset(REPORT_TO_SCREEN),
            R.RECOMMENDED,
            "portal.projects.screen_progress_report",
            _("Recommend asking for changes"),
            reason_required=True,
            visible_to_applicant=False,
            style="outline-danger",
        ),
        ReportTransition(
            "accept",
            frozenset({R.RECOMMENDED}),
            R.ACCEPTED,
            "portal.projects.decide_progress_report",
            _("Accept the report"),
            style="success",
        ),
        ReportTransition(
            "require_changes",
            frozenset({R.RECOMMENDED}),
            R.CHANGES_REQUIRED,
            "portal.projects.decide_progress_report",
            _("Require changes"),
            reason_required=True,
            style="outline-danger",
        ),
    )
}

# Rows taken on the report's own page by officials or the applicant (submit and resubmit are on the form page).
PAGE_ACTIONS = ("request_clarification", "answer", "recommend_accept", "recommend_changes", "accept", "require_changes")


def report_transitions_from(state: str) -> list[ReportTransition]:
    return [t for t in REPORT_TRANSITIONS.values() if state in t.sources]
