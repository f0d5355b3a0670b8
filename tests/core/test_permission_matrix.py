"""Issue 9 point 7: the permission matrix. Every URL pattern x every role x GET and each POST action, with the
expected status in one table (``MATRIX``).

- It walks the URL resolver: a URL pattern without a row fails the test, and so does a row for no pattern. The
  Django admin (``admin:``, whose patterns follow the registered models) is one row, checked at its index; what
  the admin shows is tested in ``test_admin_confidentiality.py``.
- Every view with a ``post`` handler has a POST row for each action its form can ask for (``POST:action``).
- For the conflicted roles (a reviewer who declared a conflict, a committee member with an automatic one), every
  answer's body is read, not only its status: the conflicted proposal's score, its reviewer's name and the text of
  its review appear nowhere.
- One data set for the whole table (made once, in one test); each request runs in a savepoint rolled back after
  it, so that a POST that succeeds changes nothing for the next cell.

Statuses: 200 page, 302 redirect (to log in, or back after a refusal that explains), 403 refused, 404 not there
(a guessed id, or an object outside what the role may see), 401 no API token, 405 method not allowed, 400 or 422
form errors (the role may act; the empty form is refused)."""

import copy
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.accounts.enums import Role
from portal.accounts.models import ErasureRequest, JoinRequest
from portal.allocations import services as allocation_services
from portal.projects.centre import centre_client_create
from portal.projects.changes import change_request_submit
from portal.projects.services import billing_statement_issue
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.reports.enums import DocumentKind, DocumentStatus
from portal.reports.models import GeneratedDocument
from portal.reviews import services as review_services
from portal.reviews.models import Consensus
from tests.factories import InvitationFactory, MembershipFactory, OrganisationFactory, UserFactory, open_call
from tests.factories.allocations import lock, usage
from tests.factories.decisions import DecisionFactory, RecommendationFactory
from tests.factories.proposals import ProposalFactory
from tests.factories.reviews import CollaborationFactory, ReviewerProfileFactory, submitted_proposal

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# The roles, in the order of the columns of ``MATRIX``.
ROLES = (
    "anonymous",
    "applicant",  # an applicant of the proposal's organisation
    "other_applicant",  # an applicant of another organisation
    "reviewer",  # assigned to the proposal, declared no conflict, submitted a review
    "reviewer_conflicted",  # assigned, declared a conflict
    "reviewer_unassigned",
    "secretariat",
    "committee_member",
    "committee_conflicted",  # a committee member with an automatic conflict (a recent collaboration)
    "chair",
    "auditor",
)
CONFLICTED_ROLES = ("reviewer_conflicted", "committee_conflicted")

# What the conflicted roles must never be shown about the proposal (issue 9 point 1).
SCORE = "4.37"
REVIEWER_NAME = "Dr Zebedee Assigned"
REVIEW_TEXT = "Zebra-striped methodology"
COMMITTEE_TEXT = "Quokka-grade team"
FIGURES = (SCORE, REVIEWER_NAME, REVIEW_TEXT, COMMITTEE_TEXT)

# URL name -> {method or "POST:action": the expected status of each role, in the order of ``ROLES``}:
#   anonymous, applicant, other_applicant, reviewer, reviewer_conflicted, reviewer_unassigned, secretariat,
#   committee_member, committee_conflicted, chair, auditor.
# The proposal of the data set is approved, allocated and locked, so most workflow pages send its officials back
# (302: "not possible in the present state") while refusing everyone else.
MATRIX: dict[str, dict[str, str]] = {
    "set_language": {
        "GET": "302 302 302 302 302 302 302 302 302 302 302",
        "POST": "302 302 302 302 302 302 302 302 302 302 302",
    },
    "accounts:signup": {
        "GET": "200 302 302 302 302 302 302 302 302 302 302",
        "POST": "200 302 302 302 302 302 302 302 302 302 302",
    },
    "accounts:signup_done": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:verify_resend": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
        "POST": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:verify": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:login": {
        "GET": "200 302 302 302 302 302 302 302 302 302 302",
        "POST": "200 302 302 302 302 302 302 302 302 302 302",
    },
    "accounts:logout": {
        "GET": "405 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 302 302 302 302 302 302 302 302 302 302",
    },
    "accounts:password_reset": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
        "POST": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:password_reset_done": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:password_reset_confirm": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
        "POST": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:password_reset_complete": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:organisation": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:organisation_create": {
        "GET": "302 200 200 403 403 403 403 403 403 403 403",
        "POST": "302 200 200 403 403 403 403 403 403 403 403",
    },
    "accounts:organisation_search": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:join_request": {
        "GET": "403 405 405 403 403 403 403 403 403 403 403",
        "POST": "403 302 302 403 403 403 403 403 403 403 403",
    },
    "accounts:join_request_decide": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 302 404 404 404 404 404 404 404 404 404",
    },
    "accounts:organisation_detail": {
        "GET": "302 200 404 404 404 404 200 200 200 200 200",
    },
    "accounts:invite": {
        "GET": "302 200 404 404 404 404 404 404 404 404 404",
        "POST": "302 200 404 404 404 404 404 404 404 404 404",
    },
    "accounts:invitation_accept": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
        "POST": "302 400 400 400 400 400 400 400 400 400 400",
    },
    "accounts:erasure_request": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 400 400 400 400 400 400 400 400 400 400",
    },
    "accounts:erasure_requests": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "accounts:erasure_request_decide": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST:erase": "302 403 403 403 403 403 302 403 403 403 403",
        "POST:decline": "302 403 403 403 403 403 302 403 403 403 403",
    },
    # Sign-in security: each person's own second factor and password; the secretariat resets and unlocks.
    "accounts:password_change": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
        "POST": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:second_factor": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:second_factor_setup": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
        "POST": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:second_factor_verify": {
        "GET": "302 302 302 302 302 302 302 302 302 302 302",
        "POST": "302 302 302 302 302 302 302 302 302 302 302",
    },
    "accounts:second_factor_disable": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 302 302 302 302 302 403 403 403 403 403",
    },
    "accounts:recovery_codes_renew": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 302 302 302 302 302 200 200 200 200 200",
    },
    "accounts:sign_in_security": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "accounts:second_factor_reset": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "accounts:lockout_clear": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST": "302 403 403 403 403 403 302 403 403 403 403",
    },
    "accounts:profile": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
        "POST": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:my_data": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "accounts:my_data_download": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "calls:list": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "calls:detail": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "proposals:dashboard": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "proposals:start": {
        "GET": "302 200 200 302 302 302 302 302 302 302 302",
        "POST": "302 200 200 302 302 302 302 302 302 302 302",
    },
    "proposals:detail": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "proposals:edit": {
        "GET": "302 200 404 404 404 404 404 404 404 404 404",
        "POST": "302 302 404 404 404 404 404 404 404 404 404",
    },
    "proposals:budget": {
        "GET": "302 200 404 404 404 404 404 404 404 404 404",
    },
    "proposals:autosave": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 200 404 404 404 404 404 404 404 404 404",
    },
    "proposals:confirm": {
        "GET": "302 302 404 404 404 404 404 404 404 404 404",
        "POST": "302 302 404 404 404 404 404 404 404 404 404",
    },
    "proposals:clarification_reply": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 403 404 404 404 404 403 403 404 403 403",
    },
    "proposals:reopen": {
        "GET": "302 302 404 404 404 404 302 302 404 302 302",
        "POST": "302 302 404 404 404 404 302 302 404 302 302",
    },
    "proposals:keep_submitted": {
        "GET": "302 302 404 404 404 404 302 302 404 302 302",
        "POST": "302 302 404 404 404 404 302 302 404 302 302",
    },
    "proposals:attachment_remove": {
        "GET": "302 404 404 404 404 404 404 404 404 404 404",
        "POST": "302 404 404 404 404 404 404 404 404 404 404",
    },
    "proposals:withdraw": {
        "GET": "302 302 404 404 404 404 302 302 404 302 302",
        "POST": "302 302 404 404 404 404 302 302 404 302 302",
    },
    "proposals:receipt": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "proposals:receipt_pdf": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "proposals:version_content": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "proposals:attachment": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "notifications:list": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "notifications:mark_read": {
        "GET": "302 405 405 405 405 405 405 405 405 405 405",
        "POST": "302 302 302 302 302 302 302 302 302 302 302",
    },
    "reviews:my_assignments": {
        "GET": "302 403 403 200 200 200 403 403 403 403 403",
    },
    "reviews:profile": {
        "GET": "302 403 403 200 200 200 403 403 403 403 403",
        "POST": "302 403 403 422 422 422 403 403 403 403 403",
    },
    "reviews:affiliations": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "reviews:affiliation_confirm": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST:confirm": "302 403 403 403 403 403 302 403 403 403 403",
    },
    "reviews:assignment": {
        "GET": "302 404 404 200 404 404 404 404 404 404 404",
        "POST:declare": "302 404 404 302 404 404 404 404 404 404 404",
    },
    "reviews:review": {
        "GET": "302 404 404 200 404 404 404 404 404 404 404",
        "POST:save": "302 404 404 302 404 404 404 404 404 404 404",
        "POST:submit": "302 404 404 302 404 404 404 404 404 404 404",
    },
    "reviews:attachment": {
        "GET": "302 404 404 200 404 404 404 404 404 404 404",
    },
    "reviews:calls": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reviews:round": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 302 403 403 403 403",
    },
    "reviews:call_assignments": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "reviews:auto_assign": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST": "302 403 403 403 403 403 302 403 403 403 403",
    },
    "reviews:assign": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST": "302 403 403 403 403 403 422 403 403 403 403",
    },
    "reviews:record_conflict": {
        "GET": "302 403 403 403 403 403 405 405 405 405 403",
        "POST": "302 403 403 403 403 403 302 302 302 302 403",
    },
    "reviews:ranking": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reviews:ranking_csv": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reviews:reopen": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST": "302 403 403 403 403 403 302 403 403 403 403",
    },
    "reviews:extend_deadline": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 422 403 403 403 403",
    },
    "reviews:committee_proposal": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
        "POST:declare": "302 403 403 403 403 403 403 422 422 422 403",
        "POST:consensus": "302 403 403 403 403 403 403 422 403 422 403",
    },
    "reviews:preferences": {
        "GET": "302 302 404 404 404 404 302 302 404 302 302",
        "POST": "302 302 404 404 404 404 302 302 404 302 302",
    },
    "reviews:feedback_list": {
        "GET": "302 200 200 200 200 200 200 200 200 200 200",
    },
    "reviews:feedback": {
        "GET": "302 200 404 404 404 404 404 404 404 404 404",
        "POST": "302 422 404 404 404 404 404 404 404 404 404",
    },
    "decisions:work": {
        "GET": "302 403 403 200 200 200 200 200 200 200 200",
    },
    "decisions:queue": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "decisions:bulk_decide": {
        "GET": "302 403 403 403 403 403 403 403 403 405 403",
        "POST": "302 403 403 403 403 403 403 403 403 302 403",
    },
    "decisions:screen": {
        "GET": "302 403 404 404 404 404 302 403 404 403 403",
        "POST": "302 403 404 404 404 404 302 403 404 403 403",
    },
    "decisions:clarify": {
        "GET": "302 403 404 404 404 404 302 403 404 403 403",
        "POST": "302 403 404 404 404 404 302 403 404 403 403",
    },
    "decisions:recommend": {
        "GET": "302 403 404 404 404 404 403 302 404 302 403",
        "POST": "302 403 404 404 404 404 403 302 404 302 403",
    },
    "decisions:revise": {
        "GET": "302 403 404 404 404 404 403 302 404 302 403",
        "POST": "302 403 404 404 404 404 403 302 404 302 403",
    },
    "decisions:decide": {
        "GET": "302 403 404 404 404 404 403 403 404 302 403",
        "POST": "302 403 404 404 404 404 403 403 404 302 403",
    },
    "decisions:transition": {
        "GET": "302 403 404 404 404 404 403 403 404 403 403",
        "POST": "302 403 404 404 404 404 403 403 404 403 403",
    },
    "decisions:diff": {
        "GET": "302 403 403 403 403 403 200 200 404 200 200",
    },
    "allocations:index": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "allocations:pool": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "allocations:call": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
        "POST:run": "302 403 403 403 403 403 422 404 404 422 404",
        "POST:all_policies": "302 403 403 403 403 403 302 404 404 302 404",
    },
    "allocations:compare": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "allocations:schedule": {
        "GET": "302 403 403 403 403 403 405 405 405 405 405",
        "POST": "302 403 403 403 403 403 302 404 404 404 404",
    },
    "allocations:run": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "allocations:run_status": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "allocations:run_inputs": {
        "GET": "302 403 403 403 403 403 200 200 403 200 200",
    },
    "allocations:run_repeat": {
        "GET": "302 403 403 403 403 403 405 405 405 405 405",
        "POST": "302 403 403 403 403 403 302 404 404 302 404",
    },
    "allocations:run_lock": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
        "POST:propose": "302 403 403 403 403 403 422 404 404 422 404",
        "POST:approve": "302 403 403 403 403 403 404 404 404 422 404",
        "POST:cancel": "302 403 403 403 403 403 422 404 404 422 404",
    },
    "allocations:award_adjust": {
        "GET": "302 403 403 403 403 403 200 403 403 200 403",
        "POST": "302 403 403 403 403 403 422 403 403 422 403",
    },
    "allocations:tranche_release": {
        "GET": "302 403 403 403 403 403 405 405 405 405 405",
        "POST": "302 403 403 403 403 403 302 404 404 404 404",
    },
    "allocations:checkpoint": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
        "POST:warn": "302 403 403 403 403 403 302 404 404 404 404",
        "POST:apply": "302 403 403 403 403 403 302 404 404 404 404",
    },
    "allocations:usage_upload": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 422 403 403 403 403",
    },
    "allocations:usage_import": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "allocations:usage_import_status": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    # The project's page moved to projects:project; the old address leads there.
    "allocations:project": {
        "GET": "302 302 302 302 302 302 302 302 302 302 302",
    },
    "reports:index": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reports:call": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reports:approval_report": {
        "GET": "302 403 403 403 403 403 405 405 405 405 405",
        "POST": "302 403 403 403 403 403 302 302 403 302 403",
    },
    "reports:call_export": {
        "GET": "302 403 403 403 403 403 200 200 403 200 200",
    },
    "reports:document_status": {
        "GET": "302 403 403 403 403 403 200 200 403 200 200",
    },
    "reports:document_download": {
        "GET": "302 403 403 403 403 403 404 404 403 404 404",
    },
    "reports:open_data": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "reports:decision_letter": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "reports:usage_statement": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "reports:audit_dossier": {
        "GET": "302 403 404 404 404 404 403 403 404 403 200",
    },
    "calls:manage_list": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
    },
    "calls:manage_create": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 400 403 403 403 403",
    },
    "calls:manage_edit": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 400 403 403 403 403",
    },
    "audit:log": {
        "GET": "302 403 403 403 403 403 403 403 403 403 200",
    },
    "projects:list": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "projects:project": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    # The data set's first progress report is due: no step of its page is open to anyone yet (403 for those who
    # see it, 404 for the rest); the form is the applicant's: an empty draft is saved, an empty report not submitted.
    "projects:report": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
        "POST:request_clarification": "302 403 404 404 404 404 403 403 404 403 403",
        "POST:answer": "302 403 404 404 404 404 403 403 404 403 403",
        "POST:recommend_accept": "302 403 404 404 404 404 403 403 404 403 403",
        "POST:recommend_changes": "302 403 404 404 404 404 403 403 404 403 403",
        "POST:accept": "302 403 404 404 404 404 403 403 404 403 403",
        "POST:require_changes": "302 403 404 404 404 404 403 403 404 403 403",
    },
    "projects:report_edit": {
        "GET": "302 200 404 404 404 404 403 403 404 403 403",
        "POST:save": "302 302 404 404 404 404 403 403 404 403 403",
        "POST:submit": "302 422 404 404 404 404 403 403 404 403 403",
    },
    "projects:report_pdf": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "projects:centre_clients": {
        "GET": "302 403 403 403 403 403 200 403 403 403 403",
        "POST": "302 403 403 403 403 403 422 403 403 403 403",
    },
    "projects:centre_client_revoke": {
        "GET": "302 403 403 403 403 403 405 403 403 403 403",
        "POST": "302 403 403 403 403 403 302 403 403 403 403",
    },
    # A project's life after the award (issue 11): its award versions and change requests, its statements; the
    # officials' change requests and the finance page. The data set's change request is submitted (supplementary
    # hours): the secretariat may recommend it; approving it waits for a recommendation (302, says so); refusing
    # without a note is a form error (422).
    "projects:project_changes": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "projects:change_request_create": {
        "GET": "302 200 404 404 404 404 403 403 404 403 403",
        "POST": "302 422 404 404 404 404 403 403 404 403 403",
    },
    "projects:change_requests": {
        "GET": "302 403 403 403 403 403 200 200 200 200 200",
    },
    "projects:change_request": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
        "POST:recommend": "302 403 404 404 404 404 302 403 404 403 403",
        "POST:approve": "302 403 404 404 404 404 302 403 404 302 403",
        "POST:refuse": "302 403 404 404 404 404 422 403 404 422 403",
        "POST:withdraw": "302 302 404 404 404 404 403 403 404 403 403",
    },
    "projects:statements": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "projects:statement_download": {
        "GET": "302 200 404 404 404 404 200 200 404 200 200",
    },
    "projects:finance": {
        "GET": "302 403 403 403 403 403 200 403 403 200 200",
    },
    "projects:finance_export": {
        "GET": "302 403 403 403 403 403 200 403 403 200 200",
    },
    # The centre's API answers its token only (never a session): 401 without one; its schema is public.
    "centre_api:api-root": {
        "GET": "404 404 404 404 404 404 404 404 404 404 404",
    },
    "centre_api:awards": {
        "GET": "401 401 401 401 401 401 401 401 401 401 401",
    },
    "centre_api:limits": {
        "GET": "401 401 401 401 401 401 401 401 401 401 401",
    },
    "centre_api:usage": {
        "GET": "401 401 401 401 401 401 401 401 401 401 401",
    },
    "centre_api:openapi-json": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "core:home": {
        "GET": "200 302 302 302 302 302 302 302 302 302 302",
    },
    "core:pics": {
        "GET": "200 200 200 200 200 200 200 200 200 200 200",
    },
    "admin:index": {
        "GET": "302 302 302 302 302 302 302 302 302 302 302",
    },
}


@dataclass
class Data:
    call: object
    proposal: object
    draft: object
    organisation: object
    assignment: object
    conflicted_assignment: object
    review: object
    attachment: object
    run: object
    award: object
    tranche: object
    checkpoint: object
    usage_import: object
    document: object
    join_request: object
    erasure_request: object
    centre_client: object
    invitation: object
    report: object
    users: dict
    change: object = None
    statement: object = None
    media: object = None


def build(capture) -> Data:
    """The one data set: a call with one proposal taken all the way (reviewed, scored, recommended, approved,
    allocated, locked), a draft beside it, and every role. ``capture``: pytest-django's
    ``django_capture_on_commit_callbacks``, so that the run's task and the notices happen as they would."""
    call = open_call()
    organisation = OrganisationFactory(name="University of Matrix Testing")
    users = {
        "other_applicant": MembershipFactory(user=UserFactory(role=Role.APPLICANT)).user,
        "reviewer": ReviewerProfileFactory(user__full_name=REVIEWER_NAME).user,
        "reviewer_conflicted": ReviewerProfileFactory(user__full_name="Dr Conflicted Reviewer").user,
        "reviewer_unassigned": ReviewerProfileFactory(user__full_name="Dr Unassigned Reviewer").user,
        "secretariat": UserFactory(role=Role.SECRETARIAT, full_name="Officer Matrix"),
        "committee_member": UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Free Member"),
        "committee_conflicted": UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Conflicted Member"),
        "chair": UserFactory(role=Role.COMMITTEE_CHAIR, full_name="Prof Chair"),
        "auditor": UserFactory(role=Role.AUDITOR, full_name="Auditor Matrix"),
    }
    CollaborationFactory(user=users["committee_conflicted"], organisation=organisation, last_year=2026)
    # A change of organisation waiting for the secretariat (reviews:affiliations).
    review_services.reviewer_profile_save(
        user=users["reviewer_unassigned"],
        organisation=OrganisationFactory(name="Institute of Pending Changes"),
        expertise=[],
        max_per_call=6,
        available=True,
    )
    with capture(execute=True):
        proposal = submitted_proposal(call, organisation=organisation)
    users["applicant"] = proposal.created_by
    secretariat = users["secretariat"]
    assignment = review_services.assignment_create(proposal=proposal, reviewer=users["reviewer"], actor=secretariat)
    review_services.assignment_declare(assignment=assignment, user=users["reviewer"], conflicted=False)
    criteria = list(call.criteria.order_by("number").values_list("number", flat=True))
    review = review_services.review_submit(
        assignment=assignment,
        user=users["reviewer"],
        data=review_services.ReviewInput(
            scores={n: (4, f"{REVIEW_TEXT} {n}") for n in criteria},
            recommendation="fund",
            comments_applicant=REVIEW_TEXT,
            comments_committee=COMMITTEE_TEXT,
        ),
    )
    conflicted_assignment = review_services.assignment_create(
        proposal=proposal, reviewer=users["reviewer_conflicted"], actor=secretariat
    )
    review_services.assignment_declare(
        assignment=conflicted_assignment, user=users["reviewer_conflicted"], conflicted=True, reason="Former student"
    )
    Consensus.objects.create(
        proposal=proposal, score=SCORE, feedback="Agreed.", rationale="Agreed.", recorded_by=users["chair"]
    )
    recommendation = RecommendationFactory(proposal=proposal, recommended_by=users["committee_member"])
    DecisionFactory(recommendation=recommendation, decided_by=users["chair"])
    Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.APPROVED)
    with capture(execute=True):
        run = allocation_services.allocation_run_start(call=call, policy="rank", actor=secretariat)
    run.refresh_from_db()
    with capture(execute=True):
        lock(call, run, proposer=secretariat, approver=users["chair"])
    proposal.refresh_from_db()
    award = run.awards.get(proposal=proposal)
    checkpoint = allocation_services.clawback_schedule(call=call, actor=secretariat)[0]
    job = usage(proposal, quarter="2026Q1", hours=10)
    document = GeneratedDocument.objects.create(
        kind=DocumentKind.APPROVAL_REPORT,
        call=call,
        language="en",
        fingerprint="0" * 64,
        version=1,
        reference="AR-MATRIX-1",
        status=DocumentStatus.QUEUED,
        requested_by=secretariat,
    )
    change = change_request_submit(
        proposal=proposal,
        kind="supplement",
        pool=call.pools.order_by("code").first(),
        quarter=call.quarters.order_by("-starts_on").first(),
        gpu_hours=1_000,
        reason="More data arrived.",
        actor=users["applicant"],
        now=datetime(2026, 1, 10, 2, tzinfo=UTC),
    )
    statement = billing_statement_issue(proposal=proposal, quarter="2026Q1")
    return Data(
        change=change,
        statement=statement,
        call=call,
        proposal=proposal,
        draft=ProposalFactory(call=call, organisation=organisation, created_by=users["applicant"]),
        organisation=organisation,
        assignment=assignment,
        conflicted_assignment=conflicted_assignment,
        review=review,
        attachment=proposal.attachments.get(),
        run=run,
        award=award,
        tranche=award.tranches.order_by("number").first(),
        checkpoint=checkpoint,
        usage_import=job.imported_in,
        document=document,
        join_request=JoinRequest.objects.create(organisation=organisation, user=users["other_applicant"]),
        erasure_request=ErasureRequest.objects.create(user=users["other_applicant"]),
        centre_client=centre_client_create(name="Matrix centre client", actor=secretariat)[0],
        invitation=InvitationFactory(organisation=organisation, invited_by=users["applicant"]),
        report=proposal.progress_reports.get(number=1),  # scheduled when the run was locked
        users=users,
    )


def url_kwargs(name: str, d: Data) -> dict:
    """The arguments each URL pattern is reversed with, from the data set: named here, else ``call_pk`` is the
    call and ``pk`` the object :func:`pk_for` names."""
    p = d.proposal.pk
    return {
        "accounts:verify": {"token": "not-a-token"},
        "accounts:password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
        "accounts:join_request": {"pk": d.organisation.pk},
        "accounts:join_request_decide": {"pk": d.join_request.pk, "decision": "approve"},
        "accounts:erasure_request_decide": {"pk": d.erasure_request.pk},
        "projects:centre_client_revoke": {"pk": d.centre_client.pk},
        "projects:project_changes": {"pk": p},
        "projects:change_request_create": {"pk": p},
        "projects:change_request": {"pk": d.change.pk},
        "projects:statements": {"pk": p},
        "projects:statement_download": {"pk": d.statement.pk, "fmt": "csv"},
        "projects:finance_export": {"fmt": "csv"},
        "projects:report": {"pk": d.report.pk},
        "projects:report_edit": {"pk": d.report.pk},
        "projects:report_pdf": {"pk": d.report.pk},
        "accounts:second_factor_reset": {"pk": d.users["reviewer"].pk},
        "accounts:organisation_detail": {"pk": d.organisation.pk},
        "accounts:invite": {"pk": d.organisation.pk},
        "accounts:invitation_accept": {"token": d.invitation.token},
        "calls:detail": {"reference": d.call.reference},
        "calls:manage_edit": {"reference": d.call.reference},
        "proposals:attachment_remove": {"pk": d.draft.pk, "attachment_pk": d.attachment.pk},
        "proposals:receipt": {"pk": p, "number": 1},
        "proposals:receipt_pdf": {"pk": p, "number": 1},
        "proposals:version_content": {"pk": p, "number": 1},
        "proposals:attachment": {"pk": p, "attachment_pk": d.attachment.pk},
        "reviews:assignment": {"pk": d.assignment.pk},
        "reviews:review": {"pk": d.assignment.pk},
        "reviews:attachment": {"pk": d.assignment.pk, "attachment_pk": d.attachment.pk},
        "reviews:extend_deadline": {"pk": d.assignment.pk},
        "reviews:reopen": {"pk": d.review.pk},
        "reviews:affiliation_confirm": {"pk": d.users["reviewer_unassigned"].reviewer_profile.pk},
        "decisions:transition": {"pk": p, "action": "close_review"},
        "decisions:diff": {"pk": p, "old": 1, "new": 1},
        "allocations:pool": {"code": "h800"},
        "allocations:award_adjust": {"pk": d.award.pk},
        "allocations:tranche_release": {"pk": d.tranche.pk},
        "allocations:checkpoint": {"pk": d.checkpoint.pk},
        "allocations:usage_import": {"pk": d.usage_import.pk},
        "allocations:usage_import_status": {"pk": d.usage_import.pk},
        "reports:call_export": {"call_pk": d.call.pk, "table": "ranking", "fmt": "csv"},
        "reports:document_status": {"pk": d.document.pk},
        "reports:document_download": {"pk": d.document.pk},
        "reports:open_data": {"fmt": "csv"},
    }.get(name, {})


def pk_for(name: str, d: Data) -> int:
    if name in ("allocations:call", "allocations:compare", "allocations:schedule"):
        return d.call.pk
    if name.startswith("allocations:run"):
        return d.run.pk
    if name in ("proposals:edit", "proposals:budget", "proposals:autosave", "proposals:confirm"):
        return d.draft.pk
    if name.split(":")[0] in ("proposals", "decisions", "reviews", "reports") or name in (
        "allocations:project",
        "projects:project",
    ):
        return d.proposal.pk
    raise AssertionError(f"no pk for {name}: add it to url_kwargs")


def pattern_kwargs(name: str, route_args: list[str], d: Data) -> dict:
    kwargs = dict(url_kwargs(name, d))
    for arg in route_args:
        if arg in kwargs:
            continue
        if arg == "call_pk":
            kwargs[arg] = d.call.pk
        elif arg == "pk":
            kwargs[arg] = pk_for(name, d)
        else:
            raise AssertionError(f"no argument {arg!r} for {name}: add it to url_kwargs")
    return kwargs


# POST actions: the data a POST sends to choose an action (its form's button); others send nothing.
POST_ACTIONS = {
    "accounts:erasure_request_decide": {
        "erase": {"decision": "erase"},
        "decline": {"decision": "decline", "note": "Kept for the audit."},
    },
    "reviews:committee_proposal": {"declare": {"action": "declare"}, "consensus": {"action": "consensus"}},
    "reviews:assignment": {"declare": {}},
    "reviews:review": {"save": {"action": "save"}, "submit": {"action": "submit"}},
    "reviews:affiliation_confirm": {"confirm": {"action": "confirm"}},
    "allocations:run_lock": {
        "propose": {"action": "propose"},
        "approve": {"action": "approve"},
        "cancel": {"action": "cancel"},
    },
    "allocations:checkpoint": {"warn": {"action": "warn"}, "apply": {"action": "apply"}},
    "projects:change_request": {
        "recommend": {"action": "recommend"},
        "approve": {"action": "approve"},
        "refuse": {"action": "refuse"},
        "withdraw": {"action": "withdraw"},
    },
    "allocations:call": {"run": {}, "all_policies": {"all_policies": "1"}},
    "projects:report": {
        action: {"action": action, "reason": "Because."}
        for action in (
            "request_clarification",
            "answer",
            "recommend_accept",
            "recommend_changes",
            "accept",
            "require_changes",
        )
    },
    "projects:report_edit": {"save": {"action": "save"}, "submit": {"action": "submit"}},
}


def walk(patterns=None, namespace="", prefix="") -> list[tuple[str, URLPattern, str]]:
    """(namespaced name, pattern, route) of every URL pattern, through every include."""
    out = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            out.extend(walk(entry.url_patterns, ns, prefix + str(entry.pattern)))
        else:
            out.append((f"{namespace}{entry.name or ''}", entry, prefix + str(entry.pattern)))
    return out


def portal_patterns() -> list[tuple[str, URLPattern, str]]:
    """Every pattern but the admin's (one row for the admin, ``admin:index``)."""
    return [row for row in walk() if not row[0].startswith("admin:")]


# Query strings some pages need to show what they are about (the runs a comparison compares).
QUERIES = {"allocations:compare": lambda d: f"?runs={d.run.pk}"}


def methods_of(name: str, pattern: URLPattern) -> list[str]:
    """GET, and POST when the view takes one (a class with ``post``; Django's ``set_language`` function)."""
    view = getattr(pattern.callback, "view_class", None)
    methods = ["GET"]
    if (view is not None and hasattr(view, "post")) or name == "set_language":
        methods.append("POST")
    return methods


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


def request(client: Client, method: str, url: str, data: dict) -> tuple[int, str]:
    """One request in a savepoint rolled back after it, with the client's cookies put back: whatever it did
    (logging out included) is undone."""
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        response = client.post(url, data) if method == "POST" else client.get(url)
        body = body_of(response)
        transaction.set_rollback(True)
    client.cookies = cookies
    return response.status_code, body


def test_every_url_pattern_has_a_row_and_every_row_a_pattern():
    names = {name for name, _p, _r in portal_patterns()}
    assert [n for n in names if n == "" or n.endswith(":")] == [], "every URL pattern has a name"
    assert sorted(names - set(MATRIX)) == [], "URL patterns without a row in MATRIX"
    assert sorted(set(MATRIX) - names - {"admin:index"}) == [], "rows of MATRIX for no URL pattern"
    for name, pattern, _route in portal_patterns():
        wanted = {"GET"} | {
            f"POST:{a}" if a else "POST"
            for a in (POST_ACTIONS.get(name) or {"": {}})
            if "POST" in methods_of(name, pattern)
        }
        assert set(MATRIX[name]) == wanted, name
    for name, row in MATRIX.items():
        for key, codes in row.items():
            assert len(codes.split()) == len(ROLES), f"{name} {key}: one status per role"


@pytest.fixture(scope="module")
def data(django_db_setup, django_db_blocker, tmp_path_factory):
    """The data set, made once for this module (per test process) inside a transaction that is rolled back after
    the module's last test: each test's own transaction is a savepoint in it. Its files are in ``data.media``."""
    media = tmp_path_factory.mktemp("matrix-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build(TestCase.captureOnCommitCallbacks)
            built.media = media
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role, data, settings):
    """One column of the table: every URL pattern, GET and each POST action, as ``role``."""
    settings.MEDIA_ROOT = data.media
    client = Client()
    if role != "anonymous":
        client.force_login(data.users[role])
    cells, violations, leaks = 0, [], []
    column = ROLES.index(role)
    rows = [(name, pattern) for name, pattern, _r in portal_patterns()] + [("admin:index", None)]
    for name, pattern in rows:
        route_args = list(pattern.pattern.converters) if pattern is not None else []
        url = reverse(name, kwargs=pattern_kwargs(name, route_args, data))
        url += QUERIES[name](data) if name in QUERIES else ""
        for key, codes in MATRIX.get(name, {}).items():
            method, _sep, action = key.partition(":")
            body_data = (POST_ACTIONS.get(name) or {}).get(action, {}) if method == "POST" else {}
            expected = codes.split()[column]
            status, body = request(client, method, url, body_data)
            cells += 1
            if str(status) != expected:
                violations.append(f"{name} {key}: {status}, expected {expected}")
            if role in CONFLICTED_ROLES:
                shown = [f for f in FIGURES if f in body]
                if shown:
                    leaks.append(f"{name} {key}: shows {shown}")
    assert cells >= len(rows)
    assert violations == [], "\n".join(violations)
    assert leaks == [], "\n".join(leaks)
