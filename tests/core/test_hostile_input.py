"""Issue 10 §6: hostile input never gives a 5xx, and nothing typed is lost.

A whole call (tests/factories/reports.py) plus a draft, a submitted proposal with a reviewer, and an officer for
every role make up the world, built once for the module. Every page of the portal that has a form or is a list or
an export is visited once as a user who may see it (``PAGES``; a test checks that no URL of the portal is
forgotten). Then:

* **every form field** gets one value of each kind of the corpus (``KINDS`` in tests/core/hostile.py: NUL, huge,
  negative and odd numbers, odd digits, long text, bad dates, bidi and zero-width, markup and formulas, SQL, paths,
  blanks), the kinds rotated over the form's fields, one request per kind; each kind's values are taken in turn
  for each kind of field (text, select, hidden, ...), and any value a kind of field has not met by the end is sent
  to it, so every kind of field meets every value of the corpus;
* **values that pass validation** (``REACHING``: a NUL inside text, 23 digits, 1e30, -1, long text) are given to
  every field of each form that is taken as its page shows it, all at once, then again without the fields that
  refused them, until the form takes them and they reach the services and the database;
* **every form** gets values drawn by hypothesis in all of its fields at once;
* **every query parameter** of every list and export view (those of its filter form, those the view reads, and
  ``page``) gets one value of each kind, and between them every value of the corpus;

and each answer must be below 500. When a form comes back (with its errors), every text field must show what was
typed (less any NUL character). Each request's changes are undone, so every value meets the same world."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.urls import get_resolver, reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.accounts.enums import Role
from portal.accounts.models import User
from portal.allocations.models import Award
from portal.projects.enums import ReportState
from portal.projects.models import ChangeRequest, ProgressReport
from portal.projects.progress import progress_report_schedule
from portal.proposals import services as proposal_services
from portal.proposals.enums import ProposalState as S
from portal.reviews import services as review_services
from tests.decisions.conftest import advance, make_submitted
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.accounts import totp_device
from tests.factories.proposals import complete_draft
from tests.factories.reports import report_call
from tests.factories.reviews import ReviewerFactory, ReviewerProfileFactory

from .hostile import FIXED_CORPUS, KINDS, NUL, Form, as_kept, forms_of, hostile_values

pytestmark = pytest.mark.django_db


@dataclass
class World:
    users: dict
    ids: dict
    forms: list | None = None  # (who, action, form) of every distinct form to post, read once
    queries: list | None = None  # (who, url, query parameters) of every page that reads some
    media_root: Path | None = None
    # Who has given their password but not yet their second factor (the second step of signing in).
    half_signed_in: frozenset = frozenset({"official_half"})


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The world, built once for the module in a transaction undone at its end (each test, and each request of the
    crawl, runs in a savepoint inside it)."""
    media_root = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(MEDIA_ROOT=media_root), translation.override("en"):
                world = _world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    world.media_root = media_root
    yield world
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _media_root(settings, world):
    """Files written while building the world are found by the pages (tests/conftest.py gives each test its own
    folder)."""
    settings.MEDIA_ROOT = world.media_root


def _world() -> World:
    rc = report_call(10)
    call = rc.call
    officer = UserFactory(role=Role.SECRETARIAT)
    auditor = UserFactory(role=Role.AUDITOR)
    organisation = OrganisationFactory(name="University of Hong Kong")
    OrganisationFactory(name="Other University")
    applicant = MembershipFactory(organisation=organisation, role="admin").user
    draft = proposal_services.proposal_create(call=call, organisation=organisation, user=applicant)
    proposal_services.proposal_save_draft(proposal=draft, raw=complete_draft(call), user=applicant)
    submitted = make_submitted(call, organisation, applicant)
    screening = advance(
        make_submitted(call, organisation, applicant), S.SCREENING, secretariat=officer, member=rc.member
    )
    recommended = advance(
        make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=officer, member=rc.member
    )
    reviewer = ReviewerFactory()
    assignment = review_services.assignment_create(proposal=submitted, reviewer=reviewer, actor=officer)
    approved = rc.proposals[0]  # active, with a locked award
    award = Award.objects.filter(run=rc.run, proposal=approved).first()
    change = ChangeRequest.objects.create(
        proposal=approved,
        award=award,
        kind="supplement",
        pool=call.pools.first(),
        quarter=call.quarters.order_by("-starts_on").first(),
        gpu_hours=10,
        reason="More data arrived.",
        submitted_by=approved.created_by,
    )
    # The project's progress reports: the first due (its applicant writes it), the second submitted (to screen).
    reports = progress_report_schedule(award=award)
    ProgressReport.objects.filter(pk=reports[1].pk).update(state=ReportState.SUBMITTED, kpis="k", deliverables="d")
    lead = approved.created_by
    User.objects.filter(pk=lead.pk).update(email_verified_at=timezone.now())
    lead.refresh_from_db()
    # A reviewer asking to change organisation (the secretariat confirms it), an account locked out after failed
    # log-ins (the secretariat unlocks it), and an official between the password and the second factor.
    ReviewerProfileFactory(
        organisation=organisation, organisation_requested=OrganisationFactory(), organisation_change_pending=True
    )
    AccessAttempt.objects.create(
        username="locked@example.hk",
        ip_address="203.0.113.9",
        user_agent="test",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    official_half = UserFactory(role=Role.COMMITTEE_MEMBER)
    totp_device(official_half)
    return World(
        users={
            "anonymous": None,
            "applicant": applicant,
            "reviewer": reviewer,
            "officer": officer,
            "chair": rc.chair,
            "member": rc.member,
            "auditor": auditor,
            "project_applicant": approved.created_by,
            "lead": lead,
            "official_half": official_half,
        },
        ids={
            "call": call.pk,
            "call_reference": call.reference,
            "pool": call.pools.first().code,
            "draft": draft.pk,
            "submitted": submitted.pk,
            "screening": screening.pk,
            "recommended": recommended.pk,
            "approved": approved.pk,
            "reviewed": rc.proposals[7].pk,
            "assignment": assignment.pk,
            "run": rc.run.pk,
            "award": award.pk,
            "change": change.pk,
            "first": 1,
            "organisation": organisation.pk,
            "report_due": reports[0].pk,
            "report_submitted": reports[1].pk,
            "person": applicant.pk,
        },
    )


# (URL name, who, args from World.ids, query parameters the view reads itself): every page with a form, every
# list and every export. The parameters of a page's filter form (a GET form) are found on the page.
PAGES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("accounts:signup", "anonymous", (), ()),
    ("accounts:verify_resend", "anonymous", (), ()),
    ("accounts:login", "anonymous", (), ("next",)),
    ("accounts:password_reset", "anonymous", (), ()),
    ("accounts:organisation", "applicant", (), ("q",)),
    ("accounts:organisation_create", "applicant", (), ()),
    ("accounts:organisation_search", "applicant", (), ("q",)),
    ("accounts:organisation_detail", "applicant", ("organisation",), ()),
    ("accounts:invite", "applicant", ("organisation",), ()),
    ("accounts:profile", "applicant", (), ()),
    ("accounts:my_data", "applicant", (), ()),
    ("accounts:my_data_download", "applicant", (), ()),
    ("accounts:erasure_requests", "officer", (), ()),
    ("accounts:password_change", "applicant", (), ()),
    ("accounts:second_factor", "applicant", (), ()),
    ("accounts:second_factor_setup", "applicant", (), ("next",)),
    ("accounts:second_factor_verify", "official_half", (), ("next",)),
    ("accounts:sign_in_security", "officer", (), ("q",)),
    ("accounts:second_factor_reset", "officer", ("person",), ()),
    ("calls:list", "anonymous", (), ()),
    ("calls:detail", "anonymous", ("call_reference",), ()),
    ("calls:manage_list", "officer", (), ("page",)),
    ("calls:manage_create", "officer", (), ()),
    ("calls:manage_edit", "officer", ("call_reference",), ()),
    ("proposals:dashboard", "applicant", (), ("state", "page")),
    ("proposals:start", "applicant", (), ("call",)),
    ("proposals:edit", "applicant", ("draft",), ()),
    ("proposals:budget", "applicant", ("draft",), ("other_funding", "hours__H800__2026Q1")),
    ("proposals:detail", "applicant", ("submitted",), ()),
    ("proposals:withdraw", "applicant", ("submitted",), ()),
    ("proposals:receipt", "applicant", ("submitted", "first"), ()),
    ("proposals:version_content", "applicant", ("submitted", "first"), ()),
    ("notifications:list", "applicant", (), ("page",)),
    ("reviews:my_assignments", "reviewer", (), ()),
    ("reviews:profile", "reviewer", (), ()),
    ("reviews:assignment", "reviewer", ("assignment",), ()),
    ("reviews:calls", "officer", (), ()),
    ("reviews:call_assignments", "officer", ("call",), ()),
    ("reviews:affiliations", "officer", (), ()),
    ("reviews:extend_deadline", "officer", ("assignment",), ()),
    ("reviews:round", "officer", ("call",), ()),
    ("reviews:ranking", "officer", ("call",), ()),
    ("reviews:ranking_csv", "officer", ("call",), ("q", "state", "org_type", "passes", "flagged", "sort")),
    ("reviews:committee_proposal", "member", ("reviewed",), ()),
    ("reviews:feedback_list", "applicant", (), ()),
    ("decisions:queue", "chair", (), ()),
    ("decisions:work", "officer", (), ()),
    ("decisions:screen", "officer", ("screening",), ()),
    ("decisions:clarify", "officer", ("screening",), ()),
    ("decisions:recommend", "member", ("reviewed",), ()),
    ("decisions:decide", "chair", ("recommended",), ()),
    ("allocations:index", "officer", (), ()),
    ("allocations:pool", "officer", ("pool",), ()),
    ("allocations:call", "officer", ("call",), ()),
    ("allocations:compare", "officer", ("call",), ()),
    ("allocations:run", "officer", ("run",), ()),
    ("allocations:run_inputs", "officer", ("run",), ()),
    ("allocations:run_lock", "officer", ("run",), ()),
    ("allocations:award_adjust", "officer", ("award",), ()),
    ("allocations:usage_upload", "officer", (), ()),
    ("reports:index", "officer", (), ()),
    ("reports:call", "officer", ("call",), ()),
    ("reports:open_data", "officer", ("json",), ("call",)),
    ("reports:open_data", "officer", ("csv",), ("call",)),
    ("reports:call_export", "officer", ("call", "ranking", "csv"), ()),
    ("reports:call_export", "officer", ("call", "decisions", "xlsx"), ()),
    ("reports:call_export", "officer", ("call", "awards", "xlsx"), ()),
    ("reports:decision_letter", "officer", ("approved",), ("lang",)),
    ("reports:usage_statement", "officer", ("approved",), ("lang",)),
    ("reports:audit_dossier", "auditor", ("submitted",), ("lang",)),
    ("audit:log", "auditor", (), ("verify", "page")),
    ("projects:centre_clients", "officer", (), ()),
    ("projects:project_changes", "officer", ("approved",), ()),
    ("projects:change_request_create", "project_applicant", ("approved",), ()),
    ("projects:change_requests", "officer", (), ()),
    ("projects:change_request", "officer", ("change",), ()),
    ("projects:statements", "project_applicant", ("approved",), ()),
    ("projects:finance", "officer", (), ()),
    ("projects:finance_export", "officer", ("csv",), ()),
    ("projects:list", "officer", (), ("page",)),
    ("projects:project", "officer", ("approved",), ()),
    ("projects:report", "officer", ("report_submitted",), ()),
    ("projects:report_edit", "lead", ("report_due",), ()),
]
LITERAL_ARGS = {"json", "csv", "xlsx", "ranking", "decisions", "awards"}
# URL names that need no entry: pages reached only by posting a form shown on a page above (the crawl posts it
# there), links from emails with a token, JSON polled by pages, and downloads of stored files (checked elsewhere).
NOT_PAGES = {
    "set_language",
    "admin",
    "core:home",
    "core:pics",
    "accounts:signup_done",
    "accounts:verify",
    "accounts:logout",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "accounts:join_request",
    "accounts:join_request_decide",
    "accounts:invitation_accept",
    "accounts:erasure_request",
    "accounts:erasure_request_decide",
    "accounts:lockout_clear",
    "accounts:recovery_codes_renew",
    "accounts:second_factor_disable",
    "proposals:autosave",
    "proposals:confirm",
    "proposals:clarification_reply",
    "proposals:reopen",
    "proposals:keep_submitted",
    "proposals:attachment_remove",
    "proposals:attachment",
    "proposals:receipt_pdf",
    "notifications:mark_read",
    "reviews:review",
    "reviews:attachment",
    "reviews:auto_assign",
    "reviews:assign",
    "reviews:record_conflict",
    "reviews:reopen",
    "reviews:feedback",
    "reviews:preferences",
    "reviews:affiliation_confirm",
    "decisions:bulk_decide",
    "decisions:revise",
    "decisions:transition",
    "decisions:diff",
    "allocations:run_status",
    "allocations:run_repeat",
    "allocations:schedule",
    "allocations:tranche_release",
    "allocations:checkpoint",
    "allocations:usage_import",
    "allocations:usage_import_status",
    "reports:approval_report",
    "reports:document_status",
    "reports:document_download",
    "projects:centre_client_revoke",
    "projects:statement_download",  # a statement as PDF or CSV, made on request (tests/projects)
    # The old address of the project page (a redirect), and a progress report's PDF made on request (its language
    # is one of two codes; anything else gives the default).
    "allocations:project",
    "projects:report_pdf",
    # The centre's JSON API (token-authenticated; its query parameters are typed by django-ninja's schemas).
    "centre_api:openapi-json",
    "centre_api:awards",
    "centre_api:usage",
    "centre_api:limits",
    "centre_api:api-root",
}
# Values that pass many fields' validation and so reach the services and the database. A form that is taken as
# its page shows it gets each of them in all its fields at once, then again without the fields that refused it,
# until the form takes it (``_reach``). A form not taken as shown never carries a value past its fields' checks,
# which the kinds of values above already meet.
REACHING = [f"Cantonese{NUL} LLM", "99999999999999999999999", "1e30", "-1", "漢" * 3_000]


def _url(world: World, name: str, args: tuple[str, ...]) -> str:
    return reverse(name, args=[a if a in LITERAL_ARGS else world.ids[a] for a in args])


def _client(client, world: World, who: str):
    client.logout()
    if world.users[who] is not None:
        client.force_login(world.users[who], second_factor=who not in world.half_signed_in)
    return client


def _request(client, method: str, url: str, data) -> object:
    """One request whose changes are undone afterwards, so that every value meets the same world."""
    with transaction.atomic():
        response = getattr(client, method)(url, data)
        response.body = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return response


def _check(response, where: str) -> str:
    assert response.status_code < 500, f"{response.status_code} from {where}"
    if response.get("Content-Type", "").startswith("text/html"):
        return response.body.decode("utf-8", errors="replace")
    return ""


def _page(client, url: str) -> str:
    response = _request(client, "get", url, {})
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return _check(response, url)


def _post_forms(page: str, url: str) -> list[tuple[str, Form]]:
    """The distinct forms posting to the portal on a page (one of a row of identical forms; not log-out or
    language switching)."""
    forms, seen = [], set()
    for form in forms_of(page):
        action = form.action or url
        if form.method != "post" or not action.startswith("/") or action.startswith(("/accounts/logout/", "/i18n/")):
            continue
        names = tuple(n for n in form.field_names() if n != "csrfmiddlewaretoken")
        key = (re.sub(r"\d+", "#", action), names)
        if names and key not in seen:
            seen.add(key)
            forms.append((action, form))
    return forms


def _data(form: Form, values: dict[str, str]) -> dict[str, list[str]]:
    data = {k: v for k, v in form.base_data().items() if k != "csrfmiddlewaretoken"}
    for button, button_value in form.buttons[:1]:
        data.setdefault(button, [button_value])
    data.update({name: [value] for name, value in values.items()})
    return data


def _assert_kept(page: str, form: Form, values: dict[str, str], where: str) -> int:
    """Every text field shows again what was typed into it; the number of fields checked."""
    kept = 0
    # A formset whose management form (its hidden count of rows) was tampered with shows no rows again: nobody
    # types there, so its rows are not checked.
    tampered = tuple(
        f"{name.removesuffix('-TOTAL_FORMS')}-" for name in values if name.endswith("-TOTAL_FORMS")
    ) + tuple(f"{name.removesuffix('-INITIAL_FORMS')}-" for name in values if name.endswith("-INITIAL_FORMS"))
    for field in form.fields:
        value = values.get(field.name)
        if value is None or not field.keeps_text or not value.replace(NUL, "").strip():
            continue
        if field.name.startswith(tampered):
            continue
        assert as_kept(value) in page or as_kept(value.strip()) in page, f"{field.name}={value[:40]!r} lost: {where}"
        kept += 1
    return kept


def _read_pages(client, world: World) -> None:
    """Visit every page once (per module): its distinct forms to post, and the query parameters it reads (its GET
    forms' fields and those named in ``PAGES``)."""
    if world.forms is not None:
        return
    world.forms, world.queries = [], []
    for name, who, args, read in PAGES:
        url = _url(world, name, args)
        _client(client, world, who)
        page = _page(client, url)
        world.forms += [(who, action, form) for action, form in _post_forms(page, url)]
        found = {f.name for form in forms_of(page) if form.method == "get" for f in form.fields}
        if names := sorted(found | set(read)):
            world.queries.append((who, url, names))


def _as(client, world: World, items):
    """``items`` (who, ...) in turn, logged in as who."""
    last = None
    for who, *rest in items:
        if who != last:
            _client(client, world, who)
            last = who
        yield rest


class Corpus:
    """Hands out the corpus: each field or parameter gets one value of every kind per pass, the kind's values taken
    in turn for each kind of field (``text``, ``select``, ``hidden``, ``param``, ...), so that each kind of field
    meets every value of the corpus; ``missing`` tells what a kind of field has not met yet."""

    def __init__(self):
        self.turn: dict[tuple[str, str], int] = {}
        self.met: dict[str, set[str]] = {}

    def value(self, field_kind: str, kind: str) -> str:
        n = self.turn.get((field_kind, kind), 0)
        self.turn[(field_kind, kind)] = n + 1
        return KINDS[kind][n % len(KINDS[kind])]

    def note(self, field_kind: str, value: str) -> None:
        self.met.setdefault(field_kind, set()).add(value)

    def missing(self, field_kind: str) -> list[str]:
        met = self.met.get(field_kind, set())
        return [v for v in FIXED_CORPUS if v not in met]


def _passes(corpus: Corpus, fields: dict[str, str]) -> list[dict[str, str]]:
    """The values to send for ``fields`` (name: kind of field), one dict per request: as many as there are kinds of
    value, the kinds rotated over the fields, so that every field gets every kind; then the values of the corpus
    that a kind of field among them has not met yet."""
    kinds = list(KINDS)
    names = list(fields)
    passes = [
        {n: corpus.value(fields[n], kinds[(i + k) % len(kinds)]) for i, n in enumerate(names)}
        for k in range(len(kinds))
    ]
    for values in passes:
        for n, value in values.items():
            corpus.note(fields[n], value)
    return passes


def _passes_completing(corpus: Corpus, fields: dict[str, str]) -> list[dict[str, str]]:
    """Requests giving the fields the values their kind of field has not met yet (each field one value a request)."""
    by_kind: dict[str, list[str]] = {}
    for n, field_kind in fields.items():
        by_kind.setdefault(field_kind, []).append(n)
    passes: list[dict[str, str]] = []
    for field_kind, names in by_kind.items():
        missing = corpus.missing(field_kind)
        for j, value in enumerate(missing):
            k, n = divmod(j, len(names))
            if k == len(passes):
                passes.append({})
            passes[k][names[n]] = value
            corpus.note(field_kind, value)
    return passes


def _came_back(response, page: str) -> bool:
    return response.status_code in (200, 400, 422) and bool(page)


def _reach(client, action: str, form: Form, names: set[str], value: str) -> int:
    """Give ``value`` to the fields ``names`` of ``form`` at once, the others keeping what the page shows, until
    the form takes it: while the form comes back with some of them marked invalid, again without those (they
    refused it, as they would alone); when it comes back without saying which, each half of them in turn. The
    number of requests."""
    response = _request(client, "post", action, _data(form, dict.fromkeys(names, value)))
    page = _check(response, f"POST {action} {sorted(names)}={value[:40]!r}"[:300])
    if not _came_back(response, page) or len(names) == 1:
        return 1
    refused = {f.name for shown in forms_of(page) for f in shown.fields if f.invalid} & names
    if refused:
        return 1 + (_reach(client, action, form, names - refused, value) if names - refused else 0)
    half = sorted(names)[: len(names) // 2]
    return 1 + sum(_reach(client, action, form, part, value) for part in (set(half), names - set(half)))


def _taken(client, action: str, form: Form) -> bool:
    """Whether the form, as the page shows it (with plausible values in empty fields), is taken."""
    response = _request(client, "post", action, _data(form, {}))
    return not _came_back(response, _check(response, f"POST {action} as shown"))


def _names(form: Form) -> list[str]:
    return [n for n in form.field_names() if n != "csrfmiddlewaretoken"]


def _field_kinds(form: Form) -> dict[str, str]:
    kinds = {}
    for f in form.fields:
        kinds.setdefault(f.name, f.kind or "text")
    kinds.pop("csrfmiddlewaretoken", None)
    return kinds


def test_every_url_of_the_portal_is_visited_or_named_as_not_a_page():
    names = set()
    for pattern in get_resolver().url_patterns:
        namespace = getattr(pattern, "namespace", None)
        if namespace == "admin":
            names.add("admin")
        elif namespace:
            names.update(f"{namespace}:{p.name}" for p in pattern.url_patterns if p.name)
        elif getattr(pattern, "name", None):
            names.add(pattern.name)
    names.discard("set_language")
    covered = {name for name, *_rest in PAGES} | NOT_PAGES
    assert sorted(names - covered) == []


def test_every_form_field_gets_every_value_of_the_corpus(client, world):
    """Each form is posted once per kind of value with the kinds rotated over its fields, so that every field gets
    every kind and each kind of field every value; then the values that pass validation reach the services."""
    _read_pages(client, world)
    corpus, met = Corpus(), {}
    fields = kept = requests = reached = 0
    for action, form in _as(client, world, world.forms):
        kinds = _field_kinds(form)
        fields += len(kinds)
        for values in _passes(corpus, kinds):
            where = f"POST {action} {values!r}"[:300]
            response = _request(client, "post", action, _data(form, values))
            page = _check(response, where)
            requests += 1
            if _came_back(response, page):
                kept += _assert_kept(page, form, values, where)
            for n, value in values.items():
                met.setdefault((action, n), set()).add(value)
        requests += 1
        if _taken(client, action, form):
            reached += 1
            for value in REACHING:
                requests += _reach(client, action, form, set(kinds), value)
    for action, form in _as(client, world, world.forms):
        for values in _passes_completing(corpus, _field_kinds(form)):
            _check(_request(client, "post", action, _data(form, values)), f"POST {action} {values!r}"[:300])
            requests += 1
    every_kind = {frozenset(kind for kind, values in KINDS.items() if set(values) & got) for got in met.values()}
    assert every_kind == {frozenset(KINDS)}
    assert [(field_kind, corpus.missing(field_kind)) for field_kind in corpus.met if corpus.missing(field_kind)] == []
    assert fields >= 200
    assert kept >= 300
    assert reached >= 20
    assert requests >= len(world.forms) * len(KINDS) + reached * len(REACHING)


def test_every_query_parameter_of_lists_and_exports_gets_the_corpus(client, world):
    """Each page's query parameters get one value of every kind (rotated over them as form fields are), and
    between them every value of the corpus."""
    _read_pages(client, world)
    corpus = Corpus()
    parameters = 0
    for url, names in _as(client, world, world.queries):
        parameters += len(names)
        for query in _passes(corpus, dict.fromkeys(names, "param")):
            _check(_request(client, "get", url, query), f"GET {url} {query!r}"[:300])
    for url, names in _as(client, world, world.queries):
        for query in _passes_completing(corpus, dict.fromkeys(names, "param")):
            _check(_request(client, "get", url, query), f"GET {url} {query!r}"[:300])
    assert corpus.missing("param") == []
    assert parameters >= 40


@hypothesis_settings(
    derandomize=True,
    database=None,
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(hostile_values(), min_size=5, max_size=5))
def test_every_form_survives_values_drawn_by_hypothesis(client, world, values):
    _read_pages(client, world)
    for action, form in _as(client, world, world.forms):
        names = _names(form)
        typed = {n: values[i % len(values)] for i, n in enumerate(names)}
        where = f"POST {action} {typed!r}"[:300]
        response = _request(client, "post", action, _data(form, typed))
        page = _check(response, where)
        if response.status_code in (200, 400, 422) and page:
            _assert_kept(page, form, typed, where)
