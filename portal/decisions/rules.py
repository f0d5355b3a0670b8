"""Who may see the decision pages (django-rules). Who may take each step is in ``proposals/rules.py``."""

import rules

from portal.accounts.rules import is_auditor, is_chair, is_committee, is_official, is_reviewer, is_secretariat

rules.add_perm("portal.decisions.view_queue", is_secretariat | is_committee | is_auditor)
rules.add_perm("portal.decisions.view_screening_queue", is_secretariat | is_auditor)
rules.add_perm("portal.decisions.view_recommendation_queue", is_committee | is_auditor)
rules.add_perm("portal.decisions.view_decision_queue", is_chair | is_auditor)
rules.add_perm("portal.decisions.decide_in_bulk", is_chair)
rules.add_perm("portal.decisions.view_record", is_official)
rules.add_perm("portal.decisions.view_diff", is_official)
# Work waiting (portal/decisions/work.py): every staff role and reviewers see what waits for them.
rules.add_perm("portal.decisions.view_work", is_official | is_reviewer)
