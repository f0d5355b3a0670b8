"""Writes on proposals. Every state change goes through ``proposal_transition``."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.accounts.enums import OrganisationType, Role
from portal.accounts.models import Organisation, User
from portal.accounts.selectors import applicants_of
from portal.audit.services import audit_batch, audit_record
from portal.calls.models import Call
from portal.core.formatting import format_hkt
from portal.core.queries import insert_sql, update_sql
from portal.notifications.messages import Bilingual, Message
from portal.notifications.services import email_queue, notify, users_notify

from .enums import EDITABLE, AttachmentKind, ProposalState
from .models import Attachment, ComputeRequest, Proposal, ProposalEvent, ProposalVersion, ReferenceCounter
from .schema import (
    CLARIFICATION_REPLY,
    CO_APPLICANT_ROWS,
    CallContext,
    ProposalSchema,
    co_field_names,
    hours_field_name,
)
from .validators import pdf_download_name, validate_pdf
from .workflow import TRANSITIONS


class TransitionConflict(Exception):
    """The proposal changed state under us (another tab, another official): nothing was done."""


@dataclass
class SubmissionCheck:
    schema: ProposalSchema
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.schema.errors


class SubmissionRefused(Exception):
    def __init__(self, check: SubmissionCheck):
        self.check = check
        super().__init__("submission refused")


class DraftChanged(Exception):
    """The working copy or its attachments are not what the confirm page showed: nothing was submitted."""


class AlreadySubmitted(Exception):
    def __init__(self, version: ProposalVersion | None):
        self.version = version
        super().__init__("already submitted")


# ---- Drafts -----------------------------------------------------------------------------------------------------


@transaction.atomic
def proposal_create(*, call: Call, organisation: Organisation, user, now: datetime | None = None) -> Proposal:
    now = now or timezone.now()
    if not user.has_perm("portal.proposals.create_proposal") or not organisation.memberships.filter(user=user).exists():
        raise PermissionDenied
    if now > call.closes_at or now < call.opens_at:
        raise ValidationError(_("This call is not open for proposals."))
    proposal = Proposal(call=call, organisation=organisation, created_by=user, draft={}, draft_saved_at=now)
    proposal.full_clean()
    proposal.save()
    ProposalEvent.objects.create(
        proposal=proposal, actor=user, action="create", from_state="", to_state=ProposalState.DRAFT, created_at=now
    )
    audit_record(actor=user, action="proposal.create", obj=proposal, after={"state": proposal.state})
    return proposal


@transaction.atomic
def proposal_save_draft(*, proposal: Proposal, raw: dict[str, str], user, now: datetime | None = None) -> Proposal:
    """Keep everything typed, valid or not. Refused only when the proposal is no longer editable."""
    if not user.has_perm("portal.proposals.change_proposal", proposal):
        raise PermissionDenied
    now = now or timezone.now()
    draft = {**proposal.draft, **raw}
    updated = Proposal.objects.filter(pk=proposal.pk, state__in=EDITABLE).update(
        draft=draft,
        title=(draft.get("title") or "").strip()[:300],
        title_zh=(draft.get("title_zh") or "").strip()[:300],
        draft_saved_at=now,
    )
    if not updated:
        raise TransitionConflict
    proposal.refresh_from_db(fields=["draft", "title", "title_zh", "draft_saved_at", "updated_at"])
    return proposal


@transaction.atomic
def attachment_add(*, proposal: Proposal, upload: UploadedFile, kind: str, user) -> Attachment:
    if not user.has_perm("portal.proposals.change_proposal", proposal):
        raise PermissionDenied
    if kind not in AttachmentKind.values:
        raise ValidationError({"attachment_kind": _("Choose what kind of document this is.")})
    if proposal.attachments.filter(removed_at__isnull=True).count() >= proposal.call.max_attachments:
        raise ValidationError(
            {"attachment": _("A proposal may have at most %(n)s attachments.") % {"n": proposal.call.max_attachments}}
        )
    try:
        checked = validate_pdf(upload)
    except ValidationError as exc:
        raise ValidationError({"attachment": exc.messages}) from exc
    attachment = Attachment(
        proposal=proposal,
        kind=kind,
        original_name=pdf_download_name(upload.name or ""),
        size=checked.size,
        sha256=checked.sha256,
        pages=checked.pages,
        uploaded_by=user,
    )
    attachment.file.save("upload.pdf", upload, save=False)
    attachment.save()
    audit_record(
        actor=user,
        action="attachment.add",
        obj=proposal,
        after={"attachment": attachment.pk, "name": attachment.original_name, "sha256": attachment.sha256},
    )
    return attachment


@transaction.atomic
def attachment_remove(*, attachment: Attachment, user, now: datetime | None = None) -> None:
    if not user.has_perm("portal.proposals.change_proposal", attachment.proposal):
        raise PermissionDenied
    attachment.removed_at = now or timezone.now()
    attachment.save(update_fields=["removed_at"])
    audit_record(actor=user, action="attachment.remove", obj=attachment.proposal, before={"attachment": attachment.pk})


# ---- Submission -------------------------------------------------------------------------------------------------


def proposal_check(
    *,
    proposal: Proposal,
    context: CallContext,
    user,
    now: datetime | None = None,
    attachments: list[Attachment] | None = None,
    state: str | None = None,
) -> SubmissionCheck:
    """Full validation of the stored draft, attachments, eligibility and the deadline (in Hong Kong time).

    ``attachments``: the working copy's attachments as the caller has just read them (``current_attachments``);
    read here when not given. ``state``: the state the proposal is submitted from, when its state has just been
    changed (the final Submit checks after taking the proposal's row)."""
    now = now or timezone.now()
    schema = ProposalSchema(data=proposal.draft, context=context)
    schema.is_valid()
    problems: dict[str, list[str]] = {}

    def problem(section: str, message: str) -> None:
        problems.setdefault(section, []).append(message)

    call = proposal.call
    if now > call.closes_at:
        problem(
            "call",
            _("The call closed at %(time)s. The proposal was not submitted; your draft is kept.")
            % {"time": format_hkt(call.closes_at, seconds=True)},
        )
    elif now < call.opens_at:
        problem("call", _("The call opens at %(time)s.") % {"time": format_hkt(call.opens_at, seconds=True)})
    organisation = proposal.organisation
    if organisation.org_type not in (call.eligible_org_types or []):
        problem(
            "eligibility",
            _("Organisations of the type “%(type)s” may not apply to this call.")
            % {"type": organisation.get_org_type_display()},
        )
    if organisation.org_type == OrganisationType.ENTERPRISE and len(organisation.br_number) != 8:
        problem("eligibility", _("An enterprise needs its 8-digit Business Registration number on file."))
    if not user.is_email_verified:
        problem("eligibility", _("Verify your email address before submitting."))
    # Read afresh, not from a prefetched list: a file added in the same request must count.
    if attachments is None:
        attachments = current_attachments(proposal)
    kinds = {a.kind for a in attachments}
    if AttachmentKind.TECHNICAL not in kinds:
        problem("attachments", _("Attach the technical proposal as a PDF."))
    if (state or proposal.state) == ProposalState.CLARIFICATION_REQUESTED and not str(
        proposal.draft.get(CLARIFICATION_REPLY) or ""
    ).strip():
        problem("clarification", _("Reply to the secretariat's questions in the reply box."))
    return SubmissionCheck(schema=schema, problems=problems)


def current_attachments(proposal: Proposal) -> list[Attachment]:
    """The working copy's attachments, read from the database (never a prefetched, possibly stale list)."""
    return list(Attachment.objects.filter(proposal=proposal, removed_at__isnull=True).order_by("uploaded_at", "pk"))


def _canonical_bytes(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def version_content_bytes(version: ProposalVersion) -> bytes:
    """The exact bytes whose SHA-256 is on the receipt."""
    return _canonical_bytes(version.content)


def _content(proposal: Proposal, schema: ProposalSchema, attachments: list[Attachment]) -> dict:
    data = schema.cleaned_data
    budget = schema.budget()
    # Hours and co-applicants are stored structured below, not as loose fields.
    skip = {name for _pool, _quarter, name in schema.context.hours_fields()}
    skip |= {name for i in range(1, CO_APPLICANT_ROWS + 1) for name in co_field_names(i)}
    fields = {}
    for name, value in data.items():
        if name in skip:
            continue
        fields[name] = str(value) if isinstance(value, Decimal) else ("" if value is None else value)
    co_applicants = []
    for i in range(1, CO_APPLICANT_ROWS + 1):
        name, _org, email = co_field_names(i)
        if data.get(name):
            organisation = schema.co_organisations.get(i)
            co_applicants.append(
                {
                    "name": data[name],
                    "email": data.get(email) or "",
                    "organisation_id": organisation.pk if organisation else None,
                    "organisation": organisation.name if organisation else "",
                }
            )
    requests = [
        {"pool": pool, "quarter": quarter, "gpu_hours": hours}
        for (pool, quarter), hours in schema.requested_hours().items()
        if hours
    ]
    return {
        "schema": 1,
        "call": proposal.call.reference,
        "organisation": {
            "id": proposal.organisation.pk,
            "name": proposal.organisation.name,
            "type": proposal.organisation.org_type,
            "br_number": proposal.organisation.br_number,
        },
        "fields": fields,
        "co_applicants": co_applicants,
        "compute": {"min_share": str(Decimal(data["min_share"]) / 100), "requests": requests},
        "budget": budget.as_strings(),
        "attachments": [
            {"id": a.pk, "kind": a.kind, "name": a.original_name, "size": a.size, "sha256": a.sha256}
            for a in attachments
        ],
    }


def draft_digest(proposal: Proposal, attachments: list[Attachment] | None = None) -> str:
    """A digest of the working copy and its attachments: the confirm page submits only what it showed.

    ``attachments``: as just read by ``current_attachments``; read here when not given."""
    if attachments is None:
        attachments = current_attachments(proposal)
    files = [[a.pk, a.sha256] for a in attachments]
    return hashlib.sha256(_canonical_bytes({"draft": proposal.draft, "attachments": files})).hexdigest()


@dataclass
class Preview:
    """What a submission would freeze now: the check, and (when it passes) the version's content."""

    check: SubmissionCheck
    content: dict | None
    digest: str


def proposal_preview(*, proposal: Proposal, context: CallContext, user, now: datetime | None = None) -> Preview:
    """The whole proposal as it would be submitted, for the review-and-confirm step. Writes nothing."""
    attachments = current_attachments(proposal)
    check = proposal_check(proposal=proposal, context=context, user=user, now=now, attachments=attachments)
    content = _content(proposal, check.schema, attachments) if check.ok else None
    return Preview(check=check, content=content, digest=draft_digest(proposal, attachments))


def draft_from_content(content: dict) -> dict[str, str]:
    """The working copy (field name → text, as typed) that reproduces a submitted version's content."""
    raw: dict[str, str] = {}
    for name, value in (content.get("fields") or {}).items():
        raw[name] = ("on" if value else "") if isinstance(value, bool) else ("" if value is None else str(value))
    for i, co in enumerate(content.get("co_applicants") or [], start=1):
        name, org, email = co_field_names(i)
        raw[name] = co.get("name", "")
        raw[org] = co.get("organisation", "")
        raw[email] = co.get("email", "")
    for request in (content.get("compute") or {}).get("requests") or []:
        raw[hours_field_name(request["pool"], request["quarter"])] = str(request["gpu_hours"])
    return raw


def _write_submission(proposal: Proposal, updates: dict, year: int | None) -> None:
    """Write ``updates`` to the proposal and, on its first submission (``year`` given), the year's next reference.

    The counter's row stays locked until the transaction commits (every first submission takes it), so it is taken
    as late as possible and held for as few round trips as possible. On PostgreSQL the counter's step and the
    proposal's changes, its reference included, are one statement; elsewhere the step comes first and the
    reference goes with the other changes."""
    if year is None:
        Proposal.objects.filter(pk=proposal.pk).update(**updates)
        return
    prefix = settings.PORTAL_REFERENCE_PREFIX
    qn = connection.ops.quote_name
    counter = ReferenceCounter._meta
    last, prefix_column, year_column = (qn(counter.get_field(name).column) for name in ("last", "prefix", "year"))
    step = (
        f"UPDATE {qn(counter.db_table)} SET {last} = {last} + 1 "  # noqa: S608 - names from the models, values bound
        f"WHERE {prefix_column} = %s AND {year_column} = %s RETURNING {last}"
    )
    params = [prefix, year]
    fused = connection.vendor == "postgresql"
    if fused:
        # The number as f"{n:04d}" writes it (at least four digits); NULL, and so no reference, when the year's
        # counter is not made yet.
        number = f"CASE WHEN {last} < 10000 THEN lpad({last}::text, 4, '0') ELSE {last}::text END"
        sql, update_params = update_sql(
            Proposal.objects.filter(pk=proposal.pk),
            {**updates, "reference": RawSQL(f"%s || (SELECT {number} FROM counter)", [f"{prefix}-{year}-"])},  # noqa: S608, S611 - names from the model, values bound
            connection,
        )
        reference = qn(Proposal._meta.get_field("reference").column)
        step = f"WITH counter AS ({step}) {sql} RETURNING {reference}"
        params += update_params
    with connection.cursor() as cursor:
        cursor.execute(step, params)
        row = cursor.fetchone()
        if row is None or row[0] is None:  # the year's first reference
            ReferenceCounter.objects.get_or_create(prefix=prefix, year=year)
            cursor.execute(step, params)
            row = cursor.fetchone()
    if fused:
        proposal.reference = row[0]
    else:
        proposal.reference = updates["reference"] = f"{prefix}-{year}-{row[0]:04d}"
        Proposal.objects.filter(pk=proposal.pk).update(**updates)


def _insert_version(version: ProposalVersion, attachments: list[Attachment], requests: list[ComputeRequest]) -> None:
    """Insert a new version with its links to ``attachments`` and its compute ``requests`` (their version is set
    here). Nothing is read or compared first: the version is new (as ``.set()`` would read its links).

    On PostgreSQL the three inserts are one statement (the version's row, then its links and requests from the id it
    was given), sent in one round trip while the proposal's row is held for the submission; elsewhere, three."""
    links = ProposalVersion.attachments.through
    if connection.vendor != "postgresql":
        version.save(force_insert=True)
        links.objects.bulk_create(links(proposalversion=version, attachment=a) for a in attachments)
        for request in requests:
            request.version = version
        ComputeRequest.objects.bulk_create(requests)
        return
    qn = connection.ops.quote_name
    [(version_sql, params)] = insert_sql([version], connection)

    def columns(model, *names: str) -> str:
        return ", ".join(qn(model._meta.get_field(name).column) for name in names)

    pk = qn(ProposalVersion._meta.pk.column)  # the column the version's INSERT returns
    # Names from the models, values bound; unnest() lays the arrays out as rows (an empty array: none).
    sql = (
        f"WITH version AS ({version_sql}), "  # noqa: S608
        f"links AS (INSERT INTO {qn(links._meta.db_table)} ({columns(links, 'proposalversion', 'attachment')}) "
        f"SELECT version.{pk}, link.attachment FROM version, unnest(%s::bigint[]) AS link(attachment)), "
        f"requests AS (INSERT INTO {qn(ComputeRequest._meta.db_table)} "
        f"({columns(ComputeRequest, 'version', 'pool', 'quarter', 'gpu_hours')}) "
        f"SELECT version.{pk}, cell.pool, cell.quarter, cell.hours FROM version, "
        "unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS cell(pool, quarter, hours)) "
        f"SELECT {pk} FROM version"
    )
    params = [
        *params,
        [a.pk for a in attachments],
        [r.pool_id for r in requests],
        [r.quarter_id for r in requests],
        [r.gpu_hours for r in requests],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (version.pk,) = cursor.fetchone()
    version._state.adding, version._state.db = False, connection.alias
    for request in requests:
        request.version = version


def proposal_submit(
    *,
    proposal: Proposal,
    user,
    context: CallContext | None = None,
    now: datetime | None = None,
    digest: str | None = None,
) -> ProposalVersion:
    """Freeze the draft as an immutable version with a reference number and a SHA-256 digest.

    Submitting twice (double click, two tabs) makes one submission: the second call raises AlreadySubmitted
    carrying the version the first one made. ``digest``: the ``draft_digest`` the confirm page showed; when the
    working copy no longer has it, DraftChanged is raised and nothing is submitted.

    Built for the deadline rush, where every lock held is someone else's wait. The state changes first: its
    conditional UPDATE locks the proposal's row, so that a second Submit of the same proposal (a double click,
    another tab) waits there and then finds it submitted, instead of checking the whole proposal again for
    nothing. Then the attachments are read once (the digest, the check and the content agree) and everything is
    checked and built; a refusal rolls the state change back. The rows every submission shares come last, just
    before the commit: the year's reference counter, then the audit chain's head (both audit records in one
    append)."""
    now = now or timezone.now()
    state = proposal.state
    action = "resubmit" if state == ProposalState.CLARIFICATION_REQUESTED else "submit"
    if state not in EDITABLE:
        raise AlreadySubmitted(proposal.current_version)
    if not user.has_perm(TRANSITIONS[action].permission, proposal):
        raise PermissionDenied
    context = context or CallContext(proposal.call)
    try:
        with transaction.atomic(), audit_batch():
            # Its step is told with the submission, by one task (one message to the broker, not two).
            proposal_transition(proposal=proposal, action=action, actor=user, now=now, tell=False)
            event = proposal.last_event
            attachments = current_attachments(proposal)
            if digest is not None and digest != draft_digest(proposal, attachments):
                raise DraftChanged
            check = proposal_check(
                proposal=proposal, context=context, user=user, now=now, attachments=attachments, state=state
            )
            if not check.ok:
                raise SubmissionRefused(check)
            content = _content(proposal, check.schema, attachments)
            reply = str(proposal.draft.get(CLARIFICATION_REPLY) or "").strip() if action == "resubmit" else ""
            if reply:
                content["clarification_reply"] = reply
            sha256 = hashlib.sha256(_canonical_bytes(content)).hexdigest()
            budget = check.schema.budget()
            # Versions are made only by a submission, which the state change above serialises; a proposal never
            # submitted has none (its first submission is the one that sets its current version).
            number = 1 if proposal.current_version_id is None else proposal.versions.count() + 1
            version = ProposalVersion(
                proposal=proposal,
                number=number,
                content=content,
                sha256=sha256,
                submitted_by=user,
                submitted_at=now,
                min_share=Decimal(content["compute"]["min_share"]),
                total_hours=budget.total_hours,
                cost=budget.cost,
                subsidy=budget.subsidy,
            )
            pools = {p.code: p for p in context.pools}
            quarters = {q.code: q for q in context.quarters}
            requests = [
                ComputeRequest(pool=pools[r["pool"]], quarter=quarters[r["quarter"]], gpu_hours=r["gpu_hours"])
                for r in content["compute"]["requests"]
            ]
            _insert_version(version, attachments, requests)
            co_organisations = [c["organisation_id"] for c in content["co_applicants"] if c["organisation_id"]]
            if co_organisations:
                version.co_organisations.add(*co_organisations)
            if action == "resubmit":  # it answers the open clarification request (only that state has one)
                proposal.clarifications.filter(answered_at__isnull=True).update(
                    answered_version=version, answered_at=now, answer=reply
                )
            updates = {"current_version": version}
            if CLARIFICATION_REPLY in proposal.draft:
                updates["draft"] = {k: v for k, v in proposal.draft.items() if k != CLARIFICATION_REPLY}
            first = proposal.reference is None
            if first:
                updates["submitted_at"] = now
            for name, value in updates.items():
                setattr(proposal, name, value)
            # The first row every submission shares (the year's reference counter), taken last but the audit head.
            _write_submission(proposal, updates, timezone.localtime(now).year if first else None)
            audit_record(
                actor=user,
                action="proposal.version",
                obj=proposal,
                after={"version": number, "sha256": version.sha256, "reference": proposal.reference},
            )
            transaction.on_commit(lambda: _tasks().submission_notify_task.delay(proposal.pk, version.pk, event.pk))
    except TransitionConflict:
        proposal.refresh_from_db(from_queryset=Proposal.objects.select_related("current_version"))
        raise AlreadySubmitted(proposal.current_version) from None
    except (DraftChanged, SubmissionRefused):
        proposal.state = state  # the state change was rolled back
        raise
    return version


def _tasks():
    """The telling is queued for the Celery worker once the transaction commits: the applicant's submit (or an
    official's step) is answered without waiting for the notifications and emails it sets off."""
    from . import tasks  # tasks sit above services

    return tasks


def submission_notify(proposal_id: int, version_id: int) -> None:
    """Tell the person who submitted, in the portal and by email. Safe to run twice (once per version)."""
    version = ProposalVersion.objects.select_related("proposal__call", "submitted_by").get(pk=version_id)
    proposal = version.proposal
    user = version.submitted_by
    url = reverse("proposals:receipt", args=[proposal.pk, version.number])
    message = Message(
        gettext_noop("%(reference)s was submitted (version %(n)s)."),
        {"reference": proposal.reference, "n": version.number},
    )
    notify(user=user, message=message, url=url, key=f"proposal-submitted:{version.pk}")
    email_queue(
        key=f"proposal-submitted:{version.pk}",
        to=user.email,
        template="emails/proposal_submitted",
        context={
            "name": user.full_name,
            "reference": proposal.reference,
            "title": Bilingual.of(proposal, "title"),
            "version": version.number,
            "sha256": version.sha256,
            "submitted_at": version.submitted_at,
            "call": Bilingual.of(proposal.call, "title"),
            "url": url,
        },
        language=user.preferred_language,
    )


# ---- Transitions ------------------------------------------------------------------------------------------------


def _move(proposal: Proposal, event: ProposalEvent) -> bool:
    """Change the proposal's state from ``event.from_state`` to ``event.to_state`` if it is still the former, and
    then record ``event`` on its timeline; whether it was changed (nothing is written when it was not).

    On PostgreSQL the conditional UPDATE and the event's INSERT are one statement (the event is inserted for the row
    the UPDATE changed, so for none when it changed none): one round trip fewer while the row is held; elsewhere,
    two."""
    moved = Proposal.objects.filter(pk=proposal.pk, state=event.from_state)
    changes = {"state": event.to_state, "updated_at": event.created_at}
    if connection.vendor != "postgresql":
        if not moved.update(**changes):
            return False
        event.save(force_insert=True)
        return True
    qn = connection.ops.quote_name
    moving, moving_params = update_sql(moved, changes, connection)
    fields = [f for f in ProposalEvent._meta.concrete_fields if not f.primary_key and f.name != "proposal"]
    values = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in fields]
    # Each value typed as its column (an INSERT from a SELECT does not take the types from the columns); text as
    # text, so that the column's own length is checked, never cut to it as a cast to varchar(n) would.
    kinds = [f.cast_db_type(connection) for f in fields]
    kinds = ["text" if kind.startswith("varchar") else kind for kind in kinds]
    pk = qn(Proposal._meta.pk.column)
    columns = ", ".join(qn(f.column) for f in [ProposalEvent._meta.get_field("proposal"), *fields])
    sql = (
        f"WITH moved AS ({moving} RETURNING {pk}) "  # noqa: S608 - names from the models, values bound
        f"INSERT INTO {qn(ProposalEvent._meta.db_table)} ({columns}) "
        f"SELECT moved.{pk}, {', '.join(f'%s::{kind}' for kind in kinds)} FROM moved "
        f"RETURNING {qn(ProposalEvent._meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*moving_params, *values])
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    event._state.adding, event._state.db = False, connection.alias
    return True


def proposal_transition(
    *,
    proposal: Proposal,
    action: str,
    actor,
    reason: str = "",
    now: datetime | None = None,
    notify_after: bool = True,
    target: str | None = None,
    tell: bool = True,
) -> Proposal:
    """Move a proposal along one row of the workflow table: check the guard, change the state only if it is
    still the state the caller saw, record the step on the timeline and in the audit log. The one place that
    writes a proposal's state.

    ``target`` names the state a row with several (``Transition.other_targets``) leads to this time. The step
    is left on the proposal as ``last_event``; with ``tell=False`` nobody is told of it here, and the caller
    tells of it with its own news (the final Submit: one task for the receipt and the step)."""
    transition = TRANSITIONS[action]
    target = transition.target if target is None else target
    if target not in transition.targets:
        raise ValueError(f"{action} does not lead to {str(target)!r}")
    now = now or timezone.now()
    if not actor.has_perm(transition.permission, proposal):
        raise PermissionDenied
    from_state = proposal.state
    if from_state not in transition.sources:
        raise TransitionConflict
    if transition.reason_required and not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    # No savepoint inside a caller's transaction (two statements fewer): nothing is written unless the conditional
    # UPDATE matched, and a conflict is raised outside the block, so that the caller's transaction stays usable.
    with transaction.atomic(savepoint=False):
        event = ProposalEvent(
            proposal=proposal,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=target,
            reason=reason,
            visible_to_applicant=transition.visible_to_applicant,
            created_at=now,
        )
        updated = _move(proposal, event)
        if updated:
            proposal.state = target
            audit_record(
                actor=actor,
                action=f"proposal.{action}",
                obj=proposal,
                before={"state": from_state},
                after={"state": target},
                reason=reason,
            )
            proposal.last_event = event
            if tell:
                transaction.on_commit(
                    lambda: _tasks().proposal_event_notify_task.delay(proposal.pk, event.pk, applicants=notify_after)
                )
    if not updated:
        raise TransitionConflict
    return proposal


# Officials told of work waiting for them when a proposal reaches a state: state -> (roles, task).
WORK_WAITING = {
    ProposalState.SUBMITTED: ({Role.SECRETARIAT}, "screen"),
    ProposalState.SCREENING: ({Role.SECRETARIAT}, "screen"),
    ProposalState.IN_REVIEW: ({Role.SECRETARIAT}, "assign"),
    ProposalState.REVIEWED: ({Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "recommend"),
    ProposalState.RESPONSE: ({Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "recommend"),
    ProposalState.RECOMMENDED: ({Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "decide"),
    ProposalState.NOT_RECOMMENDED: ({Role.COMMITTEE_CHAIR, Role.APPROVING_OFFICER}, "decide"),
    ProposalState.APPROVED: ({Role.SECRETARIAT}, "allocate"),
}


def proposal_event_notify(proposal_id: int, event_id: int, *, applicants: bool = True) -> None:
    """Tell the applicant's organisation of a step they may see, and the officials whose work it makes. Safe to run
    twice (once per event and person)."""
    event = ProposalEvent.objects.select_related("proposal__organisation", "proposal__call", "actor").get(pk=event_id)
    proposal = event.proposal
    url = reverse("proposals:detail", args=[proposal.pk])
    context = {
        "reference": proposal.reference or "",
        "title": Bilingual.of(proposal, "title"),
        "call": Bilingual.of(proposal.call, "title"),
        "state": ProposalState(event.to_state),
        "action": event.action,
        "reason": event.reason,
        "time": event.created_at,
    }
    if event.action == "request_clarification":
        request = proposal.clarifications.order_by("-requested_at", "-pk").first()
        context["due_at"] = request.due_at if request else ""
    if applicants and event.visible_to_applicant:
        users_notify(
            users=applicants_of(organisation_id=proposal.organisation_id),
            key=f"proposal-event:{event.pk}",
            template="emails/decisions_proposal_state",
            context=context,
            url=url,
        )
    roles, task = WORK_WAITING.get(event.to_state, (set(), ""))
    if roles:
        officials = User.objects.filter(role__in=roles, is_active=True)
        if event.actor_id:
            officials = officials.exclude(pk=event.actor_id)
        if event.to_state in (ProposalState.RECOMMENDED, ProposalState.NOT_RECOMMENDED):
            officials = officials.exclude(pk__in=proposal.recommendations.values("recommended_by"))
        # Nobody conflicted on the proposal is told of its status (issue 9 point 1); the rule is in reviews.
        from portal.reviews.conflicts import free_of_conflict

        users_notify(
            users=free_of_conflict(users=officials.order_by("pk"), proposal=proposal),
            key=f"work-waiting:{event.pk}",
            template="emails/decisions_work_waiting",
            context={**context, "task": task},
            url=url,
        )


def proposal_reopen(*, proposal: Proposal, user, now: datetime | None = None) -> Proposal:
    """Reopen a submitted proposal to amend it before the deadline. The submitted version stands (and is what
    officials see) until the amendment is submitted as a new version with its own receipt."""
    return proposal_transition(proposal=proposal, action="reopen", actor=user, now=now)


@transaction.atomic
def proposal_keep_submitted(*, proposal: Proposal, user, now: datetime | None = None) -> Proposal:
    """Give up an amendment: the working copy and its attachments go back to the submitted version."""
    now = now or timezone.now()
    proposal_transition(proposal=proposal, action="keep_submitted", actor=user, now=now)
    version = proposal.current_version
    raw = draft_from_content(version.content)
    Proposal.objects.filter(pk=proposal.pk).update(
        draft=raw, title=raw.get("title", "")[:300], title_zh=raw.get("title_zh", "")[:300], draft_saved_at=now
    )
    kept = set(version.attachments.values_list("pk", flat=True))
    Attachment.objects.filter(proposal=proposal, pk__in=kept).update(removed_at=None)
    Attachment.objects.filter(proposal=proposal, removed_at__isnull=True).exclude(pk__in=kept).update(removed_at=now)
    proposal.refresh_from_db(fields=["draft", "title", "title_zh", "draft_saved_at", "updated_at", "state"])
    return proposal


def proposal_withdraw(*, proposal: Proposal, user, reason: str, now: datetime | None = None) -> Proposal:
    return proposal_transition(proposal=proposal, action="withdraw", actor=user, reason=reason, now=now)
