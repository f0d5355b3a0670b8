"""``verify_audit`` checks the records against the chain: a direct SQL UPDATE of a decided proposal, its decision,
a submitted version or a locked award is reported, naming the record, with a non-zero exit."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal.accounts.enums import Role
from portal.allocations.models import Award, AwardHours
from portal.audit.models import AuditEvent
from portal.decisions import services as decisions
from portal.proposals.enums import ProposalState as S
from tests.decisions.conftest import advance, make_submitted
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call

pytestmark = pytest.mark.integration


@pytest.fixture
def decided(db):
    call = open_call()
    organisation = OrganisationFactory()
    applicant = MembershipFactory(organisation=organisation).user
    secretariat = UserFactory(role=Role.SECRETARIAT)
    member = UserFactory(role=Role.COMMITTEE_MEMBER)
    chair = UserFactory(role=Role.COMMITTEE_CHAIR)
    proposal = advance(
        make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=member
    )
    decisions.decision_make(proposal=proposal, actor=chair, approved=True, reason="Strong.")
    proposal.refresh_from_db()
    return proposal


def _sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _failure() -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit")
    return str(exc.value)


def test_records_matching_the_log_pass(decided, capsys):
    call_command("verify_audit")
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Records match the audit log: 1 submitted versions, 1 proposals, 1 decisions, 0 locked awards."


def test_a_direct_update_of_a_decided_proposal_is_reported(decided):
    _sql("UPDATE proposals_proposal SET state = 'rejected' WHERE id = %s", decided.pk)
    seq = AuditEvent.objects.filter(action="proposal.approve").get().seq
    assert _failure() == (
        f"proposal {decided.reference}: its state is 'rejected' but the audit log says 'approved' (record #{seq})."
    )


def test_a_direct_update_of_a_decision_is_reported(decided):
    decision = decided.decisions.get()
    _sql("UPDATE decisions_decision SET approved = %s WHERE id = %s", False, decision.pk)
    seq = AuditEvent.objects.get(action="decision.make").seq
    assert _failure() == (
        f"decision #{decision.pk} on proposal {decided.reference}: approved is False, audited True (record #{seq})."
    )


def test_a_deleted_decision_is_reported(decided):
    decision = decided.decisions.get()
    _sql("DELETE FROM decisions_decision WHERE id = %s", decision.pk)
    seq = AuditEvent.objects.get(action="decision.make").seq
    assert _failure() == f"decision #{decision.pk}: audited (record #{seq}) but missing from the database."


def test_a_changed_submitted_version_is_reported(decided):
    version = decided.current_version
    content = {**version.content, "fields": {**version.content["fields"], "title": "Another project"}}
    _sql("UPDATE proposals_proposalversion SET content = %s WHERE id = %s", json.dumps(content), version.pk)
    assert _failure() == (
        f"proposal {decided.reference} version 1: its content no longer hashes to the SHA-256 on its receipt."
    )
    # Rewriting the receipt's SHA-256 to match does not help: the audited one is kept in the chain.
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    _sql("UPDATE proposals_proposalversion SET sha256 = %s WHERE id = %s", digest, version.pk)
    seq = AuditEvent.objects.get(action="proposal.version").seq
    assert _failure() == (
        f"proposal {decided.reference} version 1: its receipt's SHA-256 is not the one audited at submission "
        f"(record #{seq})."
    )


def test_the_demo_verifies_and_a_changed_locked_award_is_reported(db, capsys):
    call_command("seed_demo")
    capsys.readouterr()
    call_command("verify_audit")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Audit chain intact: ")
    assert out[1].startswith("Records match the audit log: ")
    award = Award.objects.filter(run__locked_at__isnull=False, share__gt=0).select_related("proposal").first()
    cell = AwardHours.objects.filter(award=award).order_by("pk").first()
    _sql("UPDATE allocations_award SET subsidy = subsidy + 1000000 WHERE id = %s", award.pk)
    _sql("UPDATE allocations_awardhours SET gpu_hours = gpu_hours - 1 WHERE id = %s", cell.pk)
    seq = AuditEvent.objects.filter(action="allocation.award_locked", object_id=str(award.pk)).get().seq
    before = f"{award.subsidy:.2f}"
    after = f"{award.subsidy + 1000000:.2f}"
    hours = f"{cell.pool_id}:{cell.quarter_id}"
    message = _failure()
    assert message.startswith(f"award #{award.pk} to proposal {award.proposal.reference}: hours is ")
    assert message.endswith(f", subsidy is '{after}', audited '{before}' (record #{seq}).")
    assert f"'{hours}': '{cell.gpu_hours - 1:.6f}'" in message
    # Two problems: each on its own line, then the count.
    _sql("UPDATE proposals_proposal SET state = 'draft' WHERE id = %s", award.proposal_id)
    capsys.readouterr()
    assert _failure() == "2 problems found (listed above)."
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"proposal {award.proposal.reference}",
        f"award #{award.pk} to proposal {award.proposal.reference}",
    ]
