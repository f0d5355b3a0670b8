"""What ``manage.py verify_audit`` checks beyond the chain itself: that the records the chain speaks of still say
what it says. Someone who edits the database directly (``UPDATE proposals_proposal SET state = 'approved'``) leaves
the chain intact but the record different from its last audited values; these checks name that record.

- Every submitted proposal version still hashes to the SHA-256 on its receipt, and that SHA-256 is the one audited
  when it was submitted (``proposal.version``).
- Every proposal's state is the last audited state (``proposal.create`` and each workflow step).
- Every decision is the one audited when it was made (``decision.make``), and none has disappeared.
- Every award of a locked run has the share, subsidy and hours last audited for it (when locked, after a clawback).

Each check returns one-line problems naming the record; an empty list means the records match the log."""

import hashlib
from dataclasses import dataclass

from .models import AuditEvent


@dataclass(frozen=True)
class RecordProblem:
    record: str
    problem: str

    def __str__(self) -> str:
        return f"{self.record}: {self.problem}"


@dataclass
class RecordCounts:
    versions: int = 0
    proposals: int = 0
    decisions: int = 0
    awards: int = 0


def _last_audited(*, object_type: str, actions=None, key: str | None = None) -> dict[str, tuple[int, dict]]:
    """object id -> (record number, ``after``) of the last record about each object (of ``actions``, or holding
    ``key`` in ``after``)."""
    events = AuditEvent.objects.filter(object_type=object_type)
    if actions is not None:
        events = events.filter(action__in=actions)
    if key is not None:
        events = events.filter(after__has_key=key)
    last: dict[str, tuple[int, dict]] = {}
    for seq, object_id, after in events.order_by("seq").values_list("seq", "object_id", "after").iterator(2000):
        last[object_id] = (seq, after)
    return last


def _proposal_name(reference: str | None, pk: int) -> str:
    return f"proposal {reference}" if reference else f"proposal #{pk}"


def check_versions(counts: RecordCounts) -> list[RecordProblem]:
    from portal.proposals.models import ProposalVersion
    from portal.proposals.services import version_content_bytes

    audited: dict[tuple[str, int], tuple[int, str]] = {}
    events = AuditEvent.objects.filter(object_type="proposals.proposal", action="proposal.version").order_by("seq")
    for seq, object_id, after in events.values_list("seq", "object_id", "after").iterator(2000):
        audited[(object_id, after.get("version"))] = (seq, after.get("sha256", ""))
    problems = []
    seen = set()
    versions = ProposalVersion.objects.select_related("proposal").only(
        "number", "content", "sha256", "proposal__reference"
    )
    for version in versions.order_by("proposal_id", "number").iterator(500):
        counts.versions += 1
        key = (str(version.proposal_id), version.number)
        seen.add(key)
        name = f"{_proposal_name(version.proposal.reference, version.proposal_id)} version {version.number}"
        if hashlib.sha256(version_content_bytes(version)).hexdigest() != version.sha256:
            problems.append(RecordProblem(name, "its content no longer hashes to the SHA-256 on its receipt"))
        if key not in audited:
            problems.append(RecordProblem(name, "its submission is not in the audit log"))
        elif audited[key][1] != version.sha256:
            problems.append(
                RecordProblem(
                    name, f"its receipt's SHA-256 is not the one audited at submission (record #{audited[key][0]})"
                )
            )
    for object_id, number in sorted(set(audited) - seen):
        problems.append(
            RecordProblem(
                f"proposal #{object_id} version {number}",
                f"audited as submitted (record #{audited[(object_id, number)][0]}) but missing from the database",
            )
        )
    return problems


def check_proposal_states(counts: RecordCounts) -> list[RecordProblem]:
    from portal.proposals.enums import ProposalState
    from portal.proposals.models import Proposal

    audited = _last_audited(object_type="proposals.proposal", key="state")
    problems = []
    for pk, reference, state in Proposal.objects.order_by("pk").values_list("pk", "reference", "state").iterator(2000):
        counts.proposals += 1
        seq, after = audited.get(str(pk), (None, {"state": ProposalState.DRAFT}))
        if state != after["state"]:
            where = f"record #{seq}" if seq else "no record: a new proposal is a draft"
            problems.append(
                RecordProblem(
                    _proposal_name(reference, pk),
                    f"its state is {state!r} but the audit log says {after['state']!r} ({where})",
                )
            )
    return problems


def _differences(stored: dict, audited: dict) -> str:
    keys = sorted(k for k in set(stored) | set(audited) if stored.get(k) != audited.get(k))
    return ", ".join(f"{k} is {stored.get(k)!r}, audited {audited.get(k)!r}" for k in keys)


def check_decisions(counts: RecordCounts) -> list[RecordProblem]:
    from portal.decisions.models import Decision
    from portal.decisions.services import decision_audit_values

    audited = _last_audited(object_type="decisions.decision", actions=["decision.make"])
    problems = []
    seen = set()
    for decision in Decision.objects.select_related("proposal").order_by("pk").iterator(2000):
        counts.decisions += 1
        seen.add(str(decision.pk))
        name = f"decision #{decision.pk} on {_proposal_name(decision.proposal.reference, decision.proposal_id)}"
        if str(decision.pk) not in audited:
            problems.append(RecordProblem(name, "it is not in the audit log"))
            continue
        seq, after = audited[str(decision.pk)]
        stored = decision_audit_values(decision)
        if stored != after:
            problems.append(RecordProblem(name, f"{_differences(stored, after)} (record #{seq})"))
    for object_id in sorted(set(audited) - seen, key=int):
        problems.append(
            RecordProblem(
                f"decision #{object_id}", f"audited (record #{audited[object_id][0]}) but missing from the database"
            )
        )
    return problems


def check_awards(counts: RecordCounts) -> list[RecordProblem]:
    from portal.allocations.models import Award
    from portal.allocations.services import AWARD_VALUE_ACTIONS, award_audit_values

    audited = _last_audited(object_type="allocations.award", actions=AWARD_VALUE_ACTIONS)
    problems = []
    seen = set()
    awards = (
        Award.objects.filter(run__locked_at__isnull=False)
        .select_related("proposal")
        .prefetch_related("hours")
        .order_by("pk")
    )
    for award in awards.iterator(500):
        counts.awards += 1
        seen.add(str(award.pk))
        name = f"award #{award.pk} to {_proposal_name(award.proposal.reference, award.proposal_id)}"
        if str(award.pk) not in audited:
            problems.append(RecordProblem(name, "its locked values are not in the audit log"))
            continue
        seq, after = audited[str(award.pk)]
        stored = award_audit_values(award)
        if stored != after:
            problems.append(RecordProblem(name, f"{_differences(stored, after)} (record #{seq})"))
    for object_id in sorted(set(audited) - seen, key=int):
        problems.append(
            RecordProblem(
                f"award #{object_id}",
                f"audited as locked (record #{audited[object_id][0]}) but missing or no longer locked",
            )
        )
    return problems


def records_verify() -> tuple[list[RecordProblem], RecordCounts]:
    """Every check above, in order; the problems found and how many records were checked."""
    counts = RecordCounts()
    problems = []
    for check in (check_versions, check_proposal_states, check_decisions, check_awards):
        problems.extend(check(counts))
    return problems, counts
