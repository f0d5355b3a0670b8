"""Issue 9 point 5: the Django admin keeps the portal's confidentiality. The portal's rules permissions live in a
namespace of their own (``portal.<app>.<name>``), so none of them answers a question the admin asks about Django's
model permissions (``proposals.view_proposal``)."""

import pytest
import rules
from django.contrib.auth.models import Permission
from django.urls import reverse

from portal.accounts.enums import Role
from tests.factories import ProposalFactory, UserFactory, open_call
from tests.factories.reviews import submitted_proposal

pytestmark = pytest.mark.django_db


def test_no_portal_permission_has_the_name_of_a_django_model_permission():
    django_names = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    portal_names = set(rules.permissions.permissions.keys())

    assert django_names, "the Django permissions are created by the migrations"
    assert portal_names & django_names == set()
    assert sorted(n for n in portal_names if not n.startswith("portal.")) == []


def test_a_staff_secretariat_officer_cannot_open_proposals_in_the_admin(client):
    call = open_call()
    draft = ProposalFactory(call=call, title="Secret unsubmitted draft")
    officer = UserFactory(role=Role.SECRETARIAT, is_staff=True)
    client.force_login(officer)

    assert officer.has_perm("proposals.view_proposal") is False
    # The admin is for superusers: a staff officer is sent to its log-in, never shown the proposal.
    for url in (
        reverse("admin:proposals_proposal_changelist"),
        reverse("admin:proposals_proposal_change", args=[draft.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_admin_never_lists_an_unsubmitted_draft_even_to_a_superuser(client):
    call = open_call()
    draft = ProposalFactory(call=call, title="Secret unsubmitted draft")
    submitted = submitted_proposal(call, title="Submitted proposal for review")
    officer = UserFactory(role=Role.SECRETARIAT, is_staff=True, is_superuser=True)
    officer.user_permissions.add(Permission.objects.get(codename="view_proposal", content_type__app_label="proposals"))
    client.force_login(officer)

    listing = client.get(reverse("admin:proposals_proposal_changelist"))

    assert listing.status_code == 200
    body = listing.content.decode()
    assert "Submitted proposal for review" in body
    assert "Secret unsubmitted draft" not in body
    # Django's admin answers a hidden object's page with a redirect to the admin index and a message.
    hidden = client.get(reverse("admin:proposals_proposal_change", args=[draft.pk]))
    assert hidden.status_code == 302
    assert hidden["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:proposals_proposal_change", args=[submitted.pk])).status_code == 200
