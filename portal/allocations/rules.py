"""Who may do what with allocations, awards and usage (django-rules)."""

import rules

from portal.accounts.rules import is_chair, is_official, is_secretariat
from portal.proposals.rules import is_proposal_member

is_allocation_officer = is_secretariat | is_chair

rules.add_perm("portal.allocations.view_allocation", is_official)
rules.add_perm("portal.allocations.run_allocation", is_allocation_officer)
rules.add_perm("portal.allocations.adjust_award", is_allocation_officer)
# Four-eyes locking: an allocation officer proposes, an approving official (the chair or an approving officer)
# approves, which locks. ``lock_allocation`` is also the permission of the workflow's ``allocate`` and ``activate``
# rows (checked against the proposal), taken when the lock is approved.
rules.add_perm("portal.allocations.propose_lock", is_allocation_officer)
rules.add_perm("portal.allocations.lock_allocation", is_chair)
rules.add_perm("portal.allocations.release_tranche", is_secretariat)
rules.add_perm("portal.allocations.manage_clawback", is_secretariat)
rules.add_perm("portal.allocations.import_usage", is_secretariat)
# Applicants see their own projects' awards and usage; officials see all.
rules.add_perm("portal.allocations.view_project_usage", is_proposal_member | is_official)
