"""Official CSV exports kept and sent again until anything they show changes (portal/reports/snapshots.py, issue 14
goal 1). Every change an export can show, made the ways the portal never expects (a queryset ``update()``, SQL),
is seen by the next download, which is then exactly what reading afresh gives; what no export shows (a draft's
save, a log-in) keeps the snapshot; a missing trigger turns snapshots off; one viewer's kept ranking is never sent
to another whose conflicts differ."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from portal.accounts.enums import Role
from portal.accounts.models import Organisation, User
from portal.allocations.models import AllocationRun, Award, AwardHours
from portal.calls.models import Call, Quarter, ResourcePool
from portal.core.exports import csv_pieces
from portal.decisions.models import Decision, Recommendation
from portal.proposals import services as proposal_services
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from portal.reports import snapshots
from portal.reports.exports import call_sheet
from portal.reports.models import ExportChange, ExportSnapshot
from portal.reports.tasks import export_snapshots_tidy
from portal.reviews.figures import figures_fresh
from portal.reviews.models import ApplicantResponse, Consensus
from tests.factories import UserFactory
from tests.factories.proposals import complete_draft
from tests.factories.reports import report_call
from tests.factories.reviews import CollaborationFactory

TABLES = ("ranking", "decisions", "awards")


def _download(client, call, table) -> bytes:
    response = client.get(reverse("reports:call_export", args=[call.pk, table, "csv"]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _afresh(call, table) -> bytes:
    call = Call.objects.get(pk=call.pk)  # as the view reads it (a change may have been made to it)
    figures_fresh(call=call)
    return b"".join(csv_pieces(call_sheet(call, table)))


def _decided(rc) -> Decision:
    return Decision.objects.filter(proposal__call=rc.call).select_related("decided_by").first()


def _first(rc) -> Proposal:
    return Proposal.objects.filter(call=rc.call, current_version__isnull=False).order_by("pk").first()


# Each change is one an export shows, made without the models' save() (no signal, no service).
CHANGES = {
    "a submitted proposal's title (update)": lambda rc: Proposal.objects.filter(pk=_first(rc).pk).update(
        title="Renamed by update"
    ),
    "a proposal's state (SQL)": lambda rc: _sql(
        f"UPDATE {Proposal._meta.db_table} SET state = %s WHERE id = %s", [ProposalState.WITHDRAWN, _first(rc).pk]
    ),
    "an organisation's name": lambda rc: Organisation.objects.filter(pk=_first(rc).organisation_id).update(
        name="Renamed Organisation"
    ),
    "the deciding officer's name": lambda rc: User.objects.filter(pk=_decided(rc).decided_by_id).update(
        full_name="Renamed Officer"
    ),
    "a consensus": lambda rc: Consensus.objects.update_or_create(
        proposal=_first(rc),
        defaults={"score": "4.91", "rationale": "Agreed", "feedback": "Good", "recorded_by": rc.chair},
    ),
    "a consensus removed": lambda rc: Consensus.objects.filter(proposal__call=rc.call).delete(),
    "an applicant's response": lambda rc: ApplicantResponse.objects.bulk_create(
        [ApplicantResponse(proposal=_first(rc), text="We answer", submitted_by=_first(rc).created_by)]
    ),
    "a recommendation's conditions": lambda rc: Recommendation.objects.filter(
        proposal__call=rc.call, is_current=True
    ).update(conditions='New conditions, "quoted"\nand on two lines'),
    "a decision": lambda rc: Decision.objects.filter(pk=_decided(rc).pk).update(
        decided_at=timezone.now() - timedelta(days=3)
    ),
    "an award's subsidy": lambda rc: Award.objects.filter(run=rc.run).update(subsidy="1.00"),
    "an award's hours": lambda rc: AwardHours.objects.filter(award__run=rc.run).update(gpu_hours=1234),
    "the run unlocked": lambda rc: AllocationRun.objects.filter(pk=rc.run.pk).update(locked_at=None),
    "a pool's code": lambda rc: ResourcePool.objects.filter(calls=rc.call).update(code="RENAMED"),
    "a quarter's code": lambda rc: Quarter.objects.filter(pk=rc.call.quarters.order_by("starts_on").first().pk).update(
        code="2099Q9"
    ),
    "a pool taken off the call": lambda rc: rc.call.pools.remove(rc.call.pools.order_by("code").first()),
    "the call's pass mark (the figures made again)": lambda rc: Call.objects.filter(pk=rc.call.pk).update(
        pass_mean="4.50"
    ),
}


def _sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_every_trigger_is_in_place_after_migrate(db):
    assert snapshots.generation() is not None
    with connection.cursor() as cursor:
        cursor.execute(snapshots._state_sql(connection.vendor))
        assert cursor.fetchone()[0] == snapshots.expected_triggers(connection.vendor) > 0
        if connection.vendor == "postgresql":  # a kept body is not compressed (migration 0003)
            cursor.execute(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'reports_exportsnapshot'::regclass "
                "AND attname = 'body'"
            )
            assert cursor.fetchone()[0] == "e"


def test_a_kept_workbook_shows_the_change_too(client, officer, rc):
    client.force_login(officer)
    url = reverse("reports:call_export", args=[rc.call.pk, "ranking", "xlsx"])

    def titles() -> set:
        sheet = load_workbook(io.BytesIO(b"".join(client.get(url).streaming_content)), read_only=True).active
        return {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)}

    before = titles()
    assert titles() == before
    assert ExportSnapshot.objects.count() == 1
    Proposal.objects.filter(pk=_first(rc).pk).update(title="Renamed in the workbook")
    assert "Renamed in the workbook" in titles() - before


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_an_export_shows_is_in_the_next_download(client, officer, change):
    rc = report_call(10, seed=3)
    client.force_login(officer)
    before = {table: _download(client, rc.call, table) for table in TABLES}
    assert ExportSnapshot.objects.count() == len(TABLES)  # kept ...
    assert {table: _download(client, rc.call, table) for table in TABLES} == before  # ... and sent again
    CHANGES[change](rc)
    after = {table: _download(client, rc.call, table) for table in TABLES}
    assert after == {table: _afresh(rc.call, table) for table in TABLES}
    assert after != before, "the change is not one an export shows: the test would prove nothing"


def test_what_no_export_shows_keeps_the_snapshot(client, officer, rc, organisation, applicant):
    client.force_login(officer)
    draft = proposal_services.proposal_create(call=rc.call, organisation=organisation, user=applicant)
    kept = _download(client, rc.call, "ranking")
    at = snapshots.generation()
    # A draft's save, a log-in, a submitted proposal's working draft: nothing an export shows.
    Proposal.objects.filter(pk=draft.pk).update(title="A draft, saved again")
    proposal_services.proposal_save_draft(proposal=draft, raw=complete_draft(rc.call), user=applicant)
    User.objects.filter(pk=officer.pk).update(last_login=timezone.now())
    Proposal.objects.filter(pk=_first(rc).pk).update(draft={"saved": "again"})
    assert snapshots.generation() == at
    with CaptureQueriesContext(connection) as queries:
        assert _download(client, rc.call, "ranking") == kept
    assert not [q for q in queries.captured_queries if Organisation._meta.db_table in q["sql"]], "read again"


def test_a_missing_trigger_turns_snapshots_off(client, officer, rc):
    client.force_login(officer)
    _download(client, rc.call, "decisions")
    name = f"{snapshots.TRIGGER_PREFIX}_{Consensus._meta.db_table}_insert"
    if connection.vendor == "postgresql":
        _sql(f"DROP TRIGGER {snapshots.TRIGGER_PREFIX}_insert_delete ON {Consensus._meta.db_table}", [])
    else:
        _sql(f'DROP TRIGGER "{name}"', [])
    assert snapshots.generation() is None
    ExportSnapshot.objects.all().delete()
    Recommendation.objects.filter(proposal__call=rc.call).update(conditions="Changed while off")
    assert _download(client, rc.call, "decisions") == _afresh(rc.call, "decisions")
    assert b"Changed while off" in _download(client, rc.call, "decisions")
    assert not ExportSnapshot.objects.exists()  # nothing kept while a change could go unseen
    snapshots.install_triggers()
    assert snapshots.generation() is not None
    _download(client, rc.call, "decisions")
    assert ExportSnapshot.objects.count() == 1


def test_compacting_the_changes_keeps_the_generation(db):
    for _ in range(5):
        ExportChange.objects.create()
    at = snapshots.generation()
    snapshots.compact()
    assert ExportChange.objects.count() == 1
    assert snapshots.generation() == at
    ExportChange.objects.create()
    assert snapshots.generation() == at + 1


def test_kept_values_are_worked_out_once_per_generation_and_only_those_missing(db):
    built = []

    def build(missing):
        built.append(sorted(missing))
        return {item: {"item": item, "at": snapshots.generation()} for item in missing}

    keys = {item: snapshots.snapshot_key("test figures", item) for item in ("a", "b")}
    first = snapshots.kept_values(keys, build)
    assert snapshots.kept_values(keys, build) == first
    assert snapshots.kept_values({"a": keys["a"], "c": snapshots.snapshot_key("test figures", "c")}, build)["c"]
    assert built == [["a", "b"], ["c"]]
    ExportChange.objects.create()  # a change to anything watched: every kept value is worked out again
    again = snapshots.kept_values(keys, build)
    assert built[-1] == ["a", "b"]
    assert again["a"]["at"] == first["a"]["at"] + 1


def test_kept_values_are_never_used_while_a_trigger_is_missing(db):
    table = Consensus._meta.db_table
    if connection.vendor == "postgresql":
        _sql(f"DROP TRIGGER {snapshots.TRIGGER_PREFIX}_insert_delete ON {table}", [])
    else:
        _sql(f'DROP TRIGGER "{snapshots.TRIGGER_PREFIX}_{table}_insert"', [])
    built = []
    keys = {"a": snapshots.snapshot_key("test figures", "a")}
    for _ in range(2):
        snapshots.kept_values(keys, lambda missing: built.append(missing) or dict.fromkeys(missing, 1))
    assert built == [["a"], ["a"]]
    assert not ExportSnapshot.objects.exists()


def test_a_snapshot_is_kept_per_language(client, officer, rc):
    client.force_login(officer)
    english = _download(client, rc.call, "ranking")
    client.cookies["django_language"] = "zh-hant"
    chinese = client.get(
        reverse("reports:call_export", args=[rc.call.pk, "ranking", "csv"]), HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    chinese = b"".join(chinese.streaming_content)
    assert chinese != english  # the header is translated
    assert chinese.split(b"\r\n")[1:] == english.split(b"\r\n")[1:]
    assert ExportSnapshot.objects.count() == 2


def test_the_committee_ranking_kept_for_one_viewer_is_never_sent_to_another(client, rc):
    chair = rc.chair
    mine = _first(rc)
    conflicted = UserFactory(role=Role.COMMITTEE_MEMBER)
    CollaborationFactory(user=conflicted, organisation=mine.organisation, last_year=timezone.now().year)
    url = reverse("reviews:ranking_csv", args=[rc.call.pk])

    def fetch(user) -> str:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        return b"".join(response.streaming_content).decode("utf-8-sig")

    def row(text) -> str:
        return next(line for line in text.splitlines() if line.split(",")[1] == mine.reference)

    free = fetch(chair)
    hidden = fetch(conflicted)
    assert row(hidden).endswith("conflict of interest")
    assert not row(free).endswith("conflict of interest")
    # each kept and sent again to its own viewer
    assert fetch(chair) == free
    assert fetch(conflicted) == hidden
    assert ExportSnapshot.objects.count() == 2
    # A conflict found later changes what the chair may see: the chair's kept ranking is not sent again.
    CollaborationFactory(user=chair, organisation=mine.organisation, last_year=timezone.now().year)
    assert row(fetch(chair)).endswith("conflict of interest")


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_the_rows_were_read_is_seen_next_time(client):
    """A writer's change (and its trigger's row) uncommitted while an export is read and kept: once it commits, the
    next download has it (the kept export's generation is then behind)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a second connection with a transaction of its own while this one reads (PostgreSQL)")
    rc = report_call(6, seed=5)
    officer = UserFactory(role=Role.SECRETARIAT)
    client.force_login(officer)
    proposal = _first(rc)
    changed, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                Proposal.objects.filter(pk=proposal.pk).update(title="Committed later")
                changed.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert changed.wait(30)
    try:
        kept = _download(client, rc.call, "ranking")
        assert b"Committed later" not in kept
        assert ExportSnapshot.objects.count() == 1
    finally:
        release.set()
        thread.join(30)
    assert b"Committed later" in _download(client, rc.call, "ranking")


def test_migrate_takes_the_triggers_away_then_drops_every_snapshot_and_puts_them_back(client, officer, rc):
    client.force_login(officer)
    kept = _download(client, rc.call, "awards")
    snapshots.drop_triggers()  # what migrate does first (pre_migrate): no migration meets a trigger
    assert snapshots.generation() is None
    AwardHours.objects.filter(award__run=rc.run).update(gpu_hours=77)  # a change no trigger records
    call_command("migrate", verbosity=0)  # nothing to apply: both signals still sent
    assert not ExportSnapshot.objects.exists()
    assert snapshots.generation() is not None
    assert _download(client, rc.call, "awards") == _afresh(rc.call, "awards") != kept


def test_tidying_drops_what_can_no_longer_be_sent_and_keeps_the_rest(client, officer, rc):
    client.force_login(officer)
    _download(client, rc.call, "ranking")
    assert export_snapshots_tidy.delay().get() == 0  # the kept ranking is current: kept
    ExportChange.objects.create()  # a change: the kept ranking can no longer be sent
    assert export_snapshots_tidy.delay().get() == 1
    assert not ExportSnapshot.objects.exists()
    _download(client, rc.call, "decisions")  # kept at the new generation
    at = snapshots.generation()
    assert export_snapshots_tidy.delay().get() == 0
    assert list(ExportSnapshot.objects.values_list("generation", flat=True)) == [at]
    assert ExportChange.objects.count() == 1  # the log folded into one row, the generation unchanged
    assert snapshots.generation() == at
