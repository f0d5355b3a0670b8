"""Who may set up calls in the portal (django-rules): the secretariat. Anyone may read a call's public page."""

import rules

from portal.accounts.rules import is_secretariat

rules.add_perm("portal.calls.manage_call", is_secretariat)
