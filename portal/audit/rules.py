"""Who may read the audit log (django-rules). Nobody may change it through the portal."""

import rules

from portal.accounts.rules import is_auditor

rules.add_perm("portal.audit.view_log", is_auditor)
