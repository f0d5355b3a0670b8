"""Benchmark: the deadline rush (issue 14, goal 6): 500 applicants, 50 at a time, against a real gunicorn server.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_rush``). The data is made in a temporary database (a
test database on PostgreSQL when DATABASE_URL names one, else a temporary SQLite file in WAL mode): 500 applicants,
each with an organisation, and one open call; every password is an Argon2id hash, as production makes them. Then
gunicorn serves the portal on 127.0.0.1 on a free port (``tests/benchmarks/rush_settings.py``: the base settings,
DEBUG off, each server thread keeping its database connection as production does: ``DATABASE_CONN_MAX_AGE``), with
2 workers of 4 threads (``gthread``) whatever the database: 2 cores, and threads so that a worker waiting for the
database or for Argon2 serves another request meanwhile; SQLite serialises the writes, its busy timeout makes them
wait instead of failing.

50 client threads (the standard library's ``http.client``, one connection per request, loopback only) play the
applicants, phase by phase, each phase timed as a whole:

1. log in through the real form (the page, its CSRF token, the POST);
2. the trivial view: the privacy statement page, twice per applicant (the yardstick, same clients, same
   concurrency; measured again before the saves and before the submissions, and the mean rate used, since the
   machine's load varies);
3. start a draft from the start form and attach the technical proposal (multipart, with the whole form);
4. save the draft 4 times, each time with a new text, as the page's Save draft button does with JavaScript (the
   ``X-Requested-With: fetch`` header; a redirect is followed, as ``fetch`` does);
5. Check and submit, then the confirmation page (its digest);
6. the final Submit, in two phases, every answer the redirect to the one receipt:
   - as a deadline brings it (the goal's figure), all applicants but ``EVERYONE_TWICE``: each submits once, and
     one in ``DOUBLE_CLICK_EVERY`` sends the Submit twice at the same moment (a double click, two tabs);
   - the other ``EVERYONE_TWICE`` applicants each send it twice at the same moment (a figure to watch: the second
     Submit waits for the first one's row lock, then answers with the receipt, so each submission costs two
     requests and a wait);
7. the receipt page.

Tasks the requests queue (notifications and emails) go to an in-memory broker, as production hands them to its
Celery worker; no worker runs here, so the figures are the web server's alone.

Afterwards the database is read: every proposal submitted exactly once (one version, one ``proposal.version``
audit record), with the last saved text in the draft and in the version. Rows: errors (every answer's status as
expected; goal 0), lost and double submissions (goal 0), saves per second and submissions per second (an applicant's
two Submits count once) as ratios to the trivial page's requests per second (goal >= 0.25x: the submissions as a
deadline brings them), and, as figures to watch, the submissions when everyone clicks twice, the check-and-confirm
step and the cost of a log-in. Every request has a timeout, each phase at most
10 minutes, and gunicorn is always stopped.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

APPLICANTS = 500
CONCURRENCY = 50
SAVES = 4
TRIVIAL_PER_APPLICANT = 2
WORKERS = 2
THREADS = 4
REQUEST_TIMEOUT = 60  # seconds, each request
PHASE_LIMIT = 600  # seconds, each phase
GOAL = 0.25
DOUBLE_CLICK_EVERY = 10  # in the goal's submit phase, one applicant in 10 sends the final Submit twice at once
EVERYONE_TWICE = 100  # applicants kept for the phase where everyone sends the final Submit twice at once
PASSWORD = "correct-horse-battery-staple"
TRIVIAL = "/privacy/"
ROOT = Path(__file__).resolve().parents[2]
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DIGEST_INPUT = re.compile(r'name="digest" value="([^"]+)"')


# ---- A small HTTP client: one connection per request, cookies per applicant -------------------------------------


@dataclass
class Answer:
    status: int
    location: str
    body: bytes


@dataclass
class Applicant:
    email: str
    organisation_id: int
    cookies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    proposal_id: int | None = None
    digest: str = ""
    last_text: str = ""
    receipt: str = ""


class Server:
    def __init__(self, port: int):
        self.port = port

    def request(
        self, who: Applicant | None, method: str, path: str, *, body: bytes = b"", headers: dict | None = None
    ) -> Answer:
        headers = dict(headers or {})
        if who is not None:
            with who.lock:
                cookies = "; ".join(f"{k}={v}" for k, v in who.cookies.items())
            if cookies:
                headers["Cookie"] = cookies
        headers["Connection"] = "close"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            content = response.read()
            if who is not None:
                for header in response.headers.get_all("Set-Cookie") or []:
                    jar = SimpleCookie()
                    jar.load(header)
                    with who.lock:
                        for name, morsel in jar.items():
                            if morsel.value == "" or morsel["max-age"] == "0":
                                who.cookies.pop(name, None)
                            else:
                                who.cookies[name] = morsel.value
            return Answer(response.status, response.getheader("Location", ""), content)
        finally:
            connection.close()

    def get(self, who, path: str, **kwargs) -> Answer:
        return self.request(who, "GET", path, **kwargs)

    def post(self, who, path: str, data: dict, *, headers: dict | None = None) -> Answer:
        body = urlencode(data, doseq=True).encode()
        return self.request(
            who,
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def post_multipart(self, who, path: str, data: dict, files: dict[str, tuple[str, bytes, str]]) -> Answer:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in data.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, content, content_type) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            who,
            "POST",
            path,
            body=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Problems:
    """Every answer that is not what a working portal gives (wrong status, timeout, refused connection)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[str] = []

    def add(self, text: str) -> None:
        with self.lock:
            self.items.append(text)

    def expect(self, answer: Answer, status: int, what: str) -> bool:
        if answer.status != status:
            self.add(f"{what}: {answer.status} (expected {status}) {answer.body[:200]!r}")
            return False
        return True


def _cpu() -> tuple[int, int]:
    """(busy, all) jiffies of the whole machine so far, from /proc/stat (0, 0 where there is none)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return sum(fields) - idle, sum(fields)


BUSY: list[tuple[str, float]] = []  # (phase, the machine's busy share during it), in order
SPENT: list[tuple[str, dict[str, float]]] = []  # (phase, CPU seconds of the server, the database, the clients)
SERVER: list[int] = []  # gunicorn's pid, once started


def _cpu_by_part() -> dict[str, float]:
    """CPU seconds used so far by the gunicorn server (master and workers), PostgreSQL (every postgres process, and
    the backends that have ended, which the postmaster has reaped) and this process (the clients), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    spent = {"server": 0.0, "database": 0.0, "clients": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                text = stat.read()
        except OSError:  # ended meanwhile
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        own, reaped = (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
        if SERVER and SERVER[0] in (pid, ppid):
            spent["server"] += own
        elif comm.startswith("postgres"):
            spent["database"] += own + reaped
        elif pid == os.getpid():
            spent["clients"] += own
    return spent


def _phase(name: str, tasks, problems: Problems) -> float:
    """Run ``tasks`` (callables) on CONCURRENCY threads; the phase's wall time. How busy the machine was (both
    cores, every process) is kept in BUSY, and the CPU of the server, PostgreSQL and these clients in SPENT."""
    busy_before, all_before = _cpu()
    parts_before = _cpu_by_part()
    started = time.perf_counter()
    deadline = started + PHASE_LIMIT
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix=f"rush-{name}") as pool:
        futures = [pool.submit(task) for task in tasks]
        for future in futures:
            try:
                future.result(timeout=max(1.0, deadline - time.perf_counter()))
            except Exception as error:  # a timeout, a refused connection: counted, never hidden
                problems.add(f"{name}: {type(error).__name__}: {error}")
        for future in futures:
            future.cancel()
    seconds = time.perf_counter() - started
    busy_after, all_after = _cpu()
    if all_after > all_before:
        BUSY.append((name, (busy_after - busy_before) / (all_after - all_before)))
    parts_after = _cpu_by_part()
    SPENT.append((name, {part: parts_after[part] - parts_before[part] for part in parts_after}))
    return seconds


# ---- The applicants' steps ----------------------------------------------------------------------------------------


def _csrf(answer: Answer, who: Applicant) -> str:
    match = CSRF_INPUT.search(answer.body.decode("utf-8", "replace"))
    return match.group(1) if match else who.cookies.get("csrftoken", "")


def _log_in(server: Server, who: Applicant, problems: Problems) -> None:
    page = server.get(who, "/accounts/login/")
    if not problems.expect(page, 200, "log-in page"):
        return
    answer = server.post(
        who,
        "/accounts/login/",
        {"csrfmiddlewaretoken": _csrf(page, who), "username": who.email, "password": PASSWORD},
    )
    if problems.expect(answer, 302, "log in") and "login" in answer.location:
        problems.add(f"log in: sent back to {answer.location}")


def _trivial(server: Server, who: Applicant, problems: Problems) -> None:
    for _ in range(TRIVIAL_PER_APPLICANT):
        problems.expect(server.get(who, TRIVIAL), 200, "trivial page")


def _start(server: Server, who: Applicant, call_id: int, draft: dict, pdf: bytes, problems: Problems) -> None:
    page = server.get(who, f"/proposals/new/?call={call_id}")
    if not problems.expect(page, 200, "start page"):
        return
    answer = server.post(
        who,
        "/proposals/new/",
        {"csrfmiddlewaretoken": _csrf(page, who), "call": call_id, "organisation": who.organisation_id},
    )
    match = re.search(r"/proposals/(\d+)/edit/", answer.location)
    if not problems.expect(answer, 302, "start a draft") or not match:
        return
    who.proposal_id = int(match.group(1))
    edit = server.get(who, f"/proposals/{who.proposal_id}/edit/")
    if not problems.expect(edit, 200, "edit page"):
        return
    data = {**draft, "csrfmiddlewaretoken": _csrf(edit, who), "action": "save", "attachment_kind": "technical"}
    answer = server.post_multipart(
        who,
        f"/proposals/{who.proposal_id}/edit/",
        data,
        {"attachment": ("technical.pdf", pdf, "application/pdf")},
    )
    problems.expect(answer, 302, "attach the technical proposal")


def _text(number: int, save: int) -> str:
    return f"Rush applicant {number}, save {save}: " + " ".join(["Train a 70B Cantonese model on public data."] * 40)


def _save(server: Server, who: Applicant, number: int, draft: dict, problems: Problems) -> None:
    """Save draft with JavaScript: the form's fields posted with the fetch header; a redirect is followed."""
    path = f"/proposals/{who.proposal_id}/edit/"
    for save in range(1, SAVES + 1):
        text = _text(number, save)
        data = {**draft, "summary": text, "csrfmiddlewaretoken": who.cookies.get("csrftoken", ""), "action": "save"}
        answer = server.post(who, path, data, headers={"X-Requested-With": "fetch"})
        if answer.status == 302:  # fetch follows redirects
            answer = server.get(who, _path(answer.location))
        if problems.expect(answer, 200, "save draft"):
            who.last_text = text


def _check(server: Server, who: Applicant, number: int, draft: dict, problems: Problems) -> None:
    """Check and submit (the whole form again, as the button sends it), then the confirmation page."""
    data = {
        **draft,
        "summary": who.last_text,
        "csrfmiddlewaretoken": who.cookies.get("csrftoken", ""),
        "action": "submit",
    }
    answer = server.post(who, f"/proposals/{who.proposal_id}/edit/", data)
    if not problems.expect(answer, 302, "check and submit") or "/confirm/" not in answer.location:
        problems.add(f"check and submit: sent to {answer.location!r}")
        return
    page = server.get(who, _path(answer.location))
    match = DIGEST_INPUT.search(page.body.decode("utf-8", "replace"))
    if problems.expect(page, 200, "confirmation page") and match:
        who.digest = match.group(1)


def _submit(server: Server, who: Applicant, problems: Problems) -> None:
    """The final Submit (sent twice at once per applicant): both answers are the redirect to the one receipt."""
    data = {"csrfmiddlewaretoken": who.cookies.get("csrftoken", ""), "digest": who.digest}
    answer = server.post(who, f"/proposals/{who.proposal_id}/confirm/", data)
    if not problems.expect(answer, 302, "submit") or "/receipt/" not in answer.location:
        problems.add(f"submit: sent to {answer.location!r}")
        return
    with who.lock:
        if who.receipt and who.receipt != answer.location:
            problems.add(f"submit: two receipts {who.receipt!r} and {answer.location!r}")
        who.receipt = answer.location


def _receipt(server: Server, who: Applicant, problems: Problems) -> None:
    problems.expect(server.get(who, _path(who.receipt)), 200, "receipt")


# ---- Data, server, verification ------------------------------------------------------------------------------------


def _make_data() -> tuple[list[Applicant], int, dict]:
    from django.contrib.auth.hashers import Argon2PasswordHasher
    from django.utils import timezone

    from portal.accounts.enums import MembershipRole, OrganisationType, Role
    from portal.accounts.models import Membership, Organisation, User
    from tests.factories import open_call
    from tests.factories.proposals import complete_draft

    hasher = Argon2PasswordHasher()  # the production hasher, whatever the test settings say
    password = hasher.encode(PASSWORD, hasher.salt())
    now = timezone.now()
    organisations = Organisation.objects.bulk_create(
        Organisation(name=f"Rush University {n}", org_type=OrganisationType.UNIVERSITY, br_number="")
        for n in range(APPLICANTS)
    )
    users = User.objects.bulk_create(
        User(
            email=f"rush{n}@example.hk",
            full_name=f"Rush Applicant {n}",
            role=Role.APPLICANT,
            email_verified_at=now,
            password=password,
        )
        for n in range(APPLICANTS)
    )
    Membership.objects.bulk_create(
        Membership(user=user, organisation=organisation, role=MembershipRole.ADMIN)
        for user, organisation in zip(users, organisations, strict=True)
    )
    call = open_call(closes_at=now + timedelta(days=1))
    draft = complete_draft(call)
    return [Applicant(u.email, o.pk) for u, o in zip(users, organisations, strict=True)], call.pk, draft


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(database_url: str, folder: Path) -> tuple[subprocess.Popen, int, Path]:
    port = _free_port()
    log = folder / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.benchmarks.rush_settings",
        "RUSH_DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "DJANGO_MEDIA_ROOT": str(folder / "media"),
        "DJANGO_STATIC_ROOT": str(folder / "static"),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={WORKERS}",
        f"--threads={THREADS}",
        "--worker-class=gthread",
        "--timeout=120",
        "--log-level=warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(port)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped: {log.read_text()[-2000:]}")
        try:
            if server.get(None, TRIVIAL).status == 200:
                return process, port, log
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within 60 s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _verify(applicants: list[Applicant]) -> tuple[int, int, int]:
    """(lost, double, not submitted): read from the database, not from what the server answered."""
    from django.db.models import Count

    from portal.audit.models import AuditEvent
    from portal.proposals.enums import EDITABLE
    from portal.proposals.models import Proposal

    by_email = {a.email: a for a in applicants}
    proposals = (
        Proposal.objects.filter(created_by__email__in=by_email)
        .select_related("created_by", "current_version")
        .annotate(versions_made=Count("versions"))
    )
    audits = dict(
        AuditEvent.objects.filter(action="proposal.version", object_type="proposals.proposal")
        .values_list("object_id")
        .annotate(n=Count("pk"))
        .values_list("object_id", "n")
    )
    seen, lost, double, unsubmitted = set(), 0, 0, 0
    for proposal in proposals:
        who = by_email[proposal.created_by.email]
        seen.add(who.email)
        if proposal.versions_made > 1 or audits.get(str(proposal.pk), 0) > 1:
            double += 1
        if proposal.state in EDITABLE or proposal.current_version is None:
            unsubmitted += 1
            continue
        frozen = json.dumps(proposal.current_version.content, ensure_ascii=False)
        if not who.last_text or proposal.draft.get("summary") != who.last_text or who.last_text not in frozen:
            lost += 1
    missing = len(by_email) - len(seen)
    return lost + missing, double, unsubmitted + missing


def _run(database_url: str, folder: Path) -> dict:
    from django.db import connection

    from portal.settings.base import database_from_url
    from tests.factories.proposals import pdf_bytes

    applicants, call_id, draft = _make_data()
    connection.close()
    pdf = pdf_bytes("Technical proposal")
    process, port, log = _start_server(database_url, folder)
    SERVER[:] = [process.pid]
    problems = Problems()
    seconds = {}
    try:
        server = Server(port)
        for _ in range(10):  # warm-up: both workers load their templates
            server.get(None, TRIVIAL)
            server.get(None, "/accounts/login/")
        seconds["log-in"] = _phase("log-in", [lambda a=a: _log_in(server, a, problems) for a in applicants], problems)
        trivial = [lambda a=a: _trivial(server, a, problems) for a in applicants]
        seconds["trivial"] = _phase("trivial", trivial, problems)
        seconds["start"] = _phase(
            "start", [lambda a=a: _start(server, a, call_id, draft, pdf, problems) for a in applicants], problems
        )
        ready = [a for a in applicants if a.proposal_id]
        seconds["trivial, before the saves"] = _phase("trivial", trivial, problems)
        seconds["save"] = _phase(
            "save", [lambda n=n, a=a: _save(server, a, n, draft, problems) for n, a in enumerate(ready)], problems
        )
        seconds["check"] = _phase(
            "check", [lambda n=n, a=a: _check(server, a, n, draft, problems) for n, a in enumerate(ready)], problems
        )
        confirmed = [a for a in ready if a.digest]
        once, twice = confirmed[:-EVERYONE_TWICE], confirmed[-EVERYONE_TWICE:]
        seconds["trivial, before the submissions"] = _phase("trivial", trivial, problems)
        # As a deadline brings them: one Submit each, and one applicant in DOUBLE_CLICK_EVERY clicks twice (the two
        # requests are queued one after the other, so they reach the server at the same moment).
        seconds["submit"] = _phase(
            "submit",
            [
                lambda a=a: _submit(server, a, problems)
                for n, a in enumerate(once)
                for _click in range(2 if n % DOUBLE_CLICK_EVERY == 0 else 1)
            ],
            problems,
        )
        # Everyone clicks twice: each submission is two requests, the second waiting for the first one's row lock.
        seconds["submit, every one twice"] = _phase(
            "submit, every one twice",
            [lambda a=a: _submit(server, a, problems) for a in twice for _click in (1, 2)],
            problems,
        )
        submitted = [a for a in confirmed if a.receipt]
        seconds["receipt"] = _phase("receipt", [lambda a=a: _receipt(server, a, problems) for a in submitted], problems)
    finally:
        _stop(process)
    server_log = log.read_text(errors="replace")
    lost, double, unsubmitted = _verify(applicants)
    return {
        "kept": database_from_url(database_url)["CONN_MAX_AGE"],  # the server's setting, as it read it
        "seconds": seconds,
        "submitters": {"submit": len(once), "submit, every one twice": len(twice)},
        "problems": problems.items,
        "lost": lost,
        "double": double,
        "unsubmitted": unsubmitted,
        "log": server_log,
    }


def main() -> None:
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from tests.benchmarks.bench_sacct import _use_temporary_sqlite
    from tests.benchmarks.results import record

    database_url = os.environ.get("DATABASE_URL", "")
    postgres = database_url.startswith("postgres")
    backend = "PostgreSQL" if postgres else "SQLite"
    with tempfile.TemporaryDirectory(prefix="bench-rush-") as tmp:
        folder = Path(tmp)
        if postgres:
            connection.settings_dict["TEST"]["NAME"] = f"bench_rush_{os.getpid()}"
        else:
            connection = _use_temporary_sqlite(folder)
        setup_test_environment()
        name = connection.creation.create_test_db(verbosity=0)
        try:
            if postgres:
                parts = urlsplit(database_url)
                server_url = parts._replace(path=f"/{name}").geturl()
            else:
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA journal_mode=WAL")
                server_url = f"sqlite:///{name}"
            figures = _run(server_url, folder)
        finally:
            connection.close()
            connection.creation.destroy_test_db(name, verbosity=0)
            teardown_test_environment()
    seconds = figures["seconds"]
    submitters = figures["submitters"]
    kept = figures["kept"]
    # The yardstick is measured three times in the run (the machine's load varies); its mean rate is used.
    trivials = [value for name, value in seconds.items() if name.startswith("trivial")]
    trivial_rate = len(trivials) * APPLICANTS * TRIVIAL_PER_APPLICANT / sum(trivials)
    rates = {
        "log-in": APPLICANTS / seconds["log-in"],
        "save": APPLICANTS * SAVES / seconds["save"],
        "check": APPLICANTS / seconds["check"],
        "submit": submitters["submit"] / seconds["submit"],
        "submit, every one twice": submitters["submit, every one twice"] / seconds["submit, every one twice"],
        "start": APPLICANTS / seconds["start"],
        "receipt": APPLICANTS / seconds["receipt"],
    }
    print(
        f"{backend}, gunicorn {WORKERS} workers x {THREADS} threads, {CONCURRENCY} clients at once, "
        f"database connections kept {kept} s",
        flush=True,
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"  load average at the end: {load}", flush=True)
    print(
        f"  trivial page: {trivial_rate:.1f}/s (runs: "
        f"{', '.join(f'{APPLICANTS * TRIVIAL_PER_APPLICANT / value:.1f}/s' for value in trivials)})",
        flush=True,
    )
    for name, rate in rates.items():
        print(f"  {name}: {rate:.1f}/s ({rate / trivial_rate:.3f}x the trivial page)", flush=True)
    if BUSY:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in BUSY)
        print(f"  the machine's CPU busy during each phase: {shares}", flush=True)
    per_phase = {"trivial": APPLICANTS * TRIVIAL_PER_APPLICANT, "save": APPLICANTS * SAVES, **submitters}
    for name, spent in SPENT:
        if name in per_phase:  # where the CPU went, per page, save or submission (an applicant's Submits)
            # SQLite works inside the server: no database part of its own.
            parts = {part: value for part, value in spent.items() if postgres or part != "database"}
            each = ", ".join(f"{part} {seconds * 1000 / per_phase[name]:.2f}" for part, seconds in parts.items())
            print(f"  CPU ms per {name}: {each}", flush=True)
    errors = figures["problems"]
    for problem in errors[:10]:
        print(f"  problem: {problem}", flush=True)
    if errors or "Traceback" in figures["log"]:
        print(figures["log"][-3000:], flush=True)
    label = f"rush, {APPLICANTS} applicants at {CONCURRENCY} ({backend})"
    record(f"{label}: errors (answers not as expected)", f"{len(errors)}", goal="0", met=not errors)
    record(
        f"{label}: lost / double / not submitted",
        f"{figures['lost']} / {figures['double']} / {figures['unsubmitted']}",
        goal="0 / 0 / 0",
        met=figures["lost"] == figures["double"] == figures["unsubmitted"] == 0,
    )
    labels = {
        "save": "saves (Save draft with the page's script)",
        "submit": f"submissions (the final Submit; 1 applicant in {DOUBLE_CLICK_EVERY} sends it twice at once)",
    }
    for name, text in labels.items():
        ratio = rates[name] / trivial_rate
        record(f"{label}: {text} / trivial page throughput", f"{ratio:.3f}x", goal=f">= {GOAL}x", met=ratio >= GOAL)
    record(
        f"{label}: submissions when every applicant sends the final Submit twice at once / trivial page throughput",
        f"{rates['submit, every one twice'] / trivial_rate:.3f}x",
    )
    both = (APPLICANTS * SAVES + submitters["submit"]) / (seconds["save"] + seconds["submit"]) / trivial_rate
    record(f"{label}: saves and submissions together / trivial page throughput", f"{both:.3f}x")
    record(f"{label}: check and confirmation page / trivial page throughput", f"{rates['check'] / trivial_rate:.3f}x")
    record(f"{label}: a log-in costs (trivial pages)", f"{trivial_rate / rates['log-in']:.1f}x")
    # The throughputs themselves (they depend on the machine): the ratios above fall when the yardstick gets cheaper
    # (kept database connections made the trivial page 2.6-2.8x faster, the submissions 1.8-2.0x).
    record(
        f"{label}: per second: trivial pages / saves / submissions (connections kept {kept} s)",
        f"{trivial_rate:.0f} / {rates['save']:.0f} / {rates['submit']:.0f}",
    )


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    main()
