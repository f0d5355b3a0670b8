"""Who may do what with a project's life after the award (django-rules)."""

import rules

from portal.accounts.rules import is_applicant, is_auditor, is_chair, is_email_verified, is_official, is_secretariat
from portal.proposals.enums import ProposalState
from portal.proposals.rules import is_proposal_member
from portal.reviews.rules import is_free_of_conflict

from .enums import REPORT_EDITABLE, REPORT_TO_SCREEN
from .enums import ReportState as R

rules.add_perm("portal.projects.manage_centre_api", is_secretariat)
rules.add_perm("portal.projects.view_statement", is_proposal_member | is_official)
# The finance page (subsidy approved, billed and remaining per call and quarter): the secretariat, the chair and
# approving officers, the auditor (it is read-only for everyone).
rules.add_perm("portal.projects.view_finance", is_secretariat | is_chair | is_auditor)


# ---- Change requests (the object is a ChangeRequest, or the proposal for ``request_change``) ----------------------


@rules.predicate
def is_active_project(user, proposal) -> bool:
    return proposal is not None and proposal.state == ProposalState.ACTIVE


@rules.predicate
def is_change_member(user, change) -> bool:
    return change is not None and is_proposal_member(user, change.proposal)


@rules.predicate
def is_change_recommender(user, change) -> bool:
    return change is not None and change.recommended_by_id is not None and change.recommended_by_id == user.pk


@rules.predicate
def is_free_of_conflict_on_change(user, change) -> bool:
    """Issue 9 point 3: an official conflicted on the project cannot act on its change requests. One query."""
    from portal.proposals.models import Proposal
    from portal.reviews.conflicts import conflicted_q

    if change is None:
        return True
    return not Proposal.objects.filter(pk=change.proposal_id).filter(conflicted_q(user)).exists()


rules.add_perm("portal.projects.request_change", is_applicant & is_proposal_member & is_active_project)
rules.add_perm("portal.projects.view_change_request", is_change_member | is_official)
rules.add_perm("portal.projects.view_change_requests", is_official)
rules.add_perm("portal.projects.recommend_change", is_secretariat & is_free_of_conflict_on_change)
# Four-eyes: another official than the one who recommended (the service says so in words first).
rules.add_perm(
    "portal.projects.approve_change",
    (is_secretariat | is_chair) & is_free_of_conflict_on_change & ~is_change_recommender,
)
rules.add_perm("portal.projects.refuse_change", (is_secretariat | is_chair) & is_free_of_conflict_on_change)
rules.add_perm("portal.projects.withdraw_change", is_applicant & is_change_member)
# A project's pages after the award (its award versions and change requests): its applicants and the officials.
rules.add_perm("portal.projects.view_project", is_proposal_member | is_official)
# Completing a project (object: the proposal) is a step of accepting its final progress report.
rules.add_perm("portal.projects.complete_project", is_chair & is_free_of_conflict)
# The officials' list of projects with their reports.
rules.add_perm("portal.projects.view_projects", is_official)


# ---- Progress reports (object: the report) ------------------------------------------------------------------------


@rules.predicate
def is_report_member(user, report) -> bool:
    return report is not None and is_proposal_member(user, report.proposal)


@rules.predicate
def is_report_editable(user, report) -> bool:
    return report is not None and report.state in REPORT_EDITABLE


@rules.predicate
def is_report_to_screen(user, report) -> bool:
    return report is not None and report.state in REPORT_TO_SCREEN


@rules.predicate
def is_report_clarification(user, report) -> bool:
    return report is not None and report.state == R.CLARIFICATION


@rules.predicate
def is_report_recommended(user, report) -> bool:
    return report is not None and report.state == R.RECOMMENDED


@rules.predicate
def is_report_screener(user, report) -> bool:
    """The four-eyes rule: whoever screened the report may not accept it (nor require changes)."""
    return report is not None and report.screened_by_id is not None and report.screened_by_id == user.pk


@rules.predicate
def is_free_of_conflict_on_report(user, report) -> bool:
    return report is not None and is_free_of_conflict(user, report.proposal)


rules.add_perm("portal.projects.view_progress_report", is_report_member | is_official)
rules.add_perm(
    "portal.projects.submit_progress_report", is_applicant & is_email_verified & is_report_member & is_report_editable
)
rules.add_perm("portal.projects.answer_progress_report", is_applicant & is_report_member & is_report_clarification)
rules.add_perm(
    "portal.projects.screen_progress_report", is_secretariat & is_report_to_screen & is_free_of_conflict_on_report
)
rules.add_perm(
    "portal.projects.decide_progress_report",
    is_chair & is_report_recommended & ~is_report_screener & is_free_of_conflict_on_report,
)
