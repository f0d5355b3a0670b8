"""Who may do what with a project's life after the award (django-rules)."""

import rules

from portal.accounts.rules import is_official, is_secretariat
from portal.proposals.rules import is_proposal_member

rules.add_perm("portal.projects.manage_centre_api", is_secretariat)
rules.add_perm("portal.projects.view_statement", is_proposal_member | is_official)
