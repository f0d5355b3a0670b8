"""Two submissions of the same draft at the same moment (a double click, two tabs) make one submission."""

import threading

import pytest
from django.db import connection

from portal.audit.models import AuditEvent
from portal.audit.services import audit_verify
from portal.proposals import services
from portal.proposals.models import Proposal, ProposalVersion
from tests.factories import MembershipFactory, OrganisationFactory, open_call
from tests.factories.proposals import AttachmentFactory, complete_draft


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_make_one_version():
    call = open_call()
    organisation = OrganisationFactory()
    user = MembershipFactory(organisation=organisation).user
    proposal = services.proposal_create(call=call, organisation=organisation, user=user)
    services.proposal_save_draft(proposal=proposal, raw=complete_draft(call), user=user)
    AttachmentFactory(proposal=proposal, uploaded_by=user)

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            stale = Proposal.objects.get(pk=proposal.pk)  # each thread has its own connection and its own copy
            barrier.wait(timeout=10)
            services.proposal_submit(proposal=stale, user=user)
            outcomes.append("submitted")
        except services.AlreadySubmitted:
            outcomes.append("already submitted")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["already submitted", "submitted"]
    assert ProposalVersion.objects.filter(proposal=proposal).count() == 1
    proposal.refresh_from_db()
    assert proposal.reference.endswith("-0001")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_of_different_proposals_get_distinct_references_and_one_chain():
    """The rows every submission shares (the year's reference counter, the audit chain's head) are taken last in
    each submission's transaction: they serialise the submissions without losing or repeating anything."""
    call = open_call()
    proposals = []
    for _ in range(4):
        organisation = OrganisationFactory()
        user = MembershipFactory(organisation=organisation).user
        proposal = services.proposal_create(call=call, organisation=organisation, user=user)
        services.proposal_save_draft(proposal=proposal, raw=complete_draft(call), user=user)
        AttachmentFactory(proposal=proposal, uploaded_by=user)
        proposals.append((proposal.pk, user))

    barrier = threading.Barrier(len(proposals))
    failures: list[BaseException] = []

    def submit(pk, user) -> None:
        try:
            proposal = Proposal.objects.get(pk=pk)
            digest = services.draft_digest(proposal)
            barrier.wait(timeout=10)
            services.proposal_submit(proposal=proposal, user=user, digest=digest)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=item) for item in proposals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    references = sorted(Proposal.objects.values_list("reference", flat=True))
    assert [reference[-4:] for reference in references] == ["0001", "0002", "0003", "0004"]
    assert AuditEvent.objects.filter(action="proposal.submit").count() == 4
    assert AuditEvent.objects.filter(action="proposal.version").count() == 4
    assert audit_verify() is None
