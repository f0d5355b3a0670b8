"""Who may export what (django-rules). Only people allowed to see every proposal in a document may export it: a
committee member (or anyone else) with a conflict of interest on any proposal of a call cannot export that call's
approval report or its ranking, decisions and awards (the whole-call documents are *refused* to a conflicted
official, not given with a proposal withheld: the approval report is signed as the complete record).

The auditor reads and downloads what exists, and starts nothing: asking for a report is a job, so it is for the
secretariat and the committee only (issue 9 point 3)."""

import rules

from portal.accounts.rules import is_auditor, is_committee, is_official, is_secretariat
from portal.proposals.rules import is_proposal_member


@rules.predicate
def is_free_of_conflict_in_call(user, call) -> bool:
    from .selectors import conflicted_in_call

    return call is not None and not conflicted_in_call(user=user, call=call)


@rules.predicate
def is_free_of_conflict_on_proposal(user, proposal) -> bool:
    from portal.reviews.selectors import is_conflicted

    return proposal is not None and not is_conflicted(user=user, proposal=proposal)


rules.add_perm("portal.reports.view_reports", is_official)
rules.add_perm("portal.reports.export_call", is_official & is_free_of_conflict_in_call)
rules.add_perm("portal.reports.request_report", (is_secretariat | is_committee) & is_free_of_conflict_in_call)
rules.add_perm("portal.reports.export_open_data", is_official)
rules.add_perm(
    "portal.reports.view_proposal_documents", is_proposal_member | (is_official & is_free_of_conflict_on_proposal)
)
# The audit dossier of a proposal: for auditors (the ombudsman is given an auditor's account).
rules.add_perm("portal.reports.view_audit_dossier", is_auditor)
