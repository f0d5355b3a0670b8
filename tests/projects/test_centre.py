"""The centre's side (issue 11 point 6): Slurm limits as sacctmgr commands or JSON, changes since the last export,
and the read-only API with per-client tokens."""

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from portal.accounts.enums import Role
from portal.allocations.models import AwardHours
from portal.audit.models import AuditEvent
from portal.projects.centre import centre_client_create, centre_client_revoke, token_hash
from portal.projects.models import CentreApiClient, SlurmLimitExport
from portal.projects.versions import award_version_record
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import UserFactory
from tests.factories.allocations import usage

from .conftest import locked_project

pytestmark = pytest.mark.django_db


def limits(*options: str) -> str:
    out = io.StringIO()
    call_command("slurm_limits", *options, stdout=out)
    return out.getvalue()


@pytest.fixture
def projects(call):
    return {
        "aiss-0007": locked_project(
            call, account="aiss-0007", hours={("h800", "2026Q3"): 500, ("h800", "2026Q4"): 1200}
        ),
        "aiss-0012": locked_project(call, account="aiss-0012", hours={("h800", "2026Q3"): 800}),
    }


def test_sacctmgr_lines_give_the_quarters_hours_in_minutes(projects):
    assert limits("--quarter", "2026Q4") == (
        "sacctmgr -i modify account name=aiss-0007 set GrpTRESMins=gres/gpu=72000\n"
        "sacctmgr -i modify account name=aiss-0012 set GrpTRESMins=gres/gpu=0\n"
    )
    export = SlurmLimitExport.objects.get()
    assert export.limits["aiss-0007"] == {
        "minutes": 72000,
        "proposal": projects["aiss-0007"].reference,
        "pools": {"h800": 1200},
    }
    assert AuditEvent.objects.filter(action="centre.slurm_limits_export").count() == 1


def test_json_format(projects):
    document = json.loads(limits("--quarter", "2026Q3", "--format", "json"))
    assert document == {
        "quarter": "2026Q3",
        "changes_only": False,
        "limits": [
            {
                "account": "aiss-0007",
                "proposal": projects["aiss-0007"].reference,
                "quarter": "2026Q3",
                "gpu_hours": 500,
                "minutes": 30000,
                "pools": {"h800": 500},
            },
            {
                "account": "aiss-0012",
                "proposal": projects["aiss-0012"].reference,
                "quarter": "2026Q3",
                "gpu_hours": 800,
                "minutes": 48000,
                "pools": {"h800": 800},
            },
        ],
    }


def test_changes_give_only_what_changed_since_the_last_export(projects, call):
    limits("--quarter", "2026Q3")
    assert limits("--quarter", "2026Q3", "--changes") == ""
    # A claw-back takes 100 hours from aiss-0012; aiss-0007's project ends; a new project starts.
    AwardHours.objects.filter(award__proposal=projects["aiss-0012"]).update(gpu_hours=700, reclaimed=100)
    Proposal.objects.filter(pk=projects["aiss-0007"].pk).update(state=ProposalState.COMPLETED)
    locked_project(call, account="aiss-0020", hours={("h800", "2026Q3"): 50})

    assert limits("--quarter", "2026Q3", "--changes") == (
        "sacctmgr -i modify account name=aiss-0007 set GrpTRESMins=gres/gpu=0\n"
        "sacctmgr -i modify account name=aiss-0012 set GrpTRESMins=gres/gpu=42000\n"
        "sacctmgr -i modify account name=aiss-0020 set GrpTRESMins=gres/gpu=3000\n"
    )
    assert limits("--quarter", "2026Q3", "--changes") == ""
    assert SlurmLimitExport.objects.count() == 4


def test_bad_quarter_is_refused_in_one_line(projects):
    with pytest.raises(CommandError, match=r"^--quarter must look like 2026Q1, not '2026-3'$"):
        limits("--quarter", "2026-3")
    with pytest.raises(CommandError, match="invalid choice: 'yaml'"):
        limits("--format", "yaml")
    assert SlurmLimitExport.objects.count() == 0


# ---- The API ------------------------------------------------------------------------------------------------------


@pytest.fixture
def secretariat(db):
    return UserFactory(role=Role.SECRETARIAT, full_name="Ms Chan Siu Ming")


@pytest.fixture
def token(secretariat):
    _client, token = centre_client_create(name="AISC Slurm controller", actor=secretariat)
    return token


def get(client, path, token=None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(path, params, headers=headers)


def test_token_is_stored_hashed_and_every_use_audited(client, token, projects):
    stored = CentreApiClient.objects.get()
    assert stored.token_hash == token_hash(token)
    assert token not in stored.token_hash
    assert stored.token_hint == token[:9]

    response = get(client, "/api/centre/limits", token, quarter="2026Q3")

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "account": "aiss-0007",
                "proposal": projects["aiss-0007"].reference,
                "quarter": "2026Q3",
                "gpu_hours": 500,
                "minutes": 30000,
                "pools": {"h800": 500},
            },
            {
                "account": "aiss-0012",
                "proposal": projects["aiss-0012"].reference,
                "quarter": "2026Q3",
                "gpu_hours": 800,
                "minutes": 48000,
                "pools": {"h800": 800},
            },
        ],
        "count": 2,
    }
    event = AuditEvent.objects.filter(action="centre.api_use").get()
    assert (event.actor_repr, event.after) == (
        "API client: AISC Slurm controller",
        {"request": "/api/centre/limits?quarter=2026Q3"},
    )
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.parametrize("bad", [None, "aiss_wrong", "not-even-ours"])
def test_no_or_wrong_token_is_refused(client, token, projects, bad):
    assert get(client, "/api/centre/awards", bad).status_code == 401
    assert not AuditEvent.objects.filter(action="centre.api_use").exists()


def test_revoked_token_stops_working(client, token, secretariat, projects):
    centre_client_revoke(client=CentreApiClient.objects.get(), actor=secretariat)
    assert get(client, "/api/centre/awards", token).status_code == 401
    assert AuditEvent.objects.filter(action="centre.api_client_revoke").count() == 1


def test_awards_paginated(client, token, call, projects, django_assert_max_num_queries):
    # The same queries for 2 projects as for a page of 50: the token's use (7, with its audit record), then the
    # count, the page, its awards, their hours and their versions.
    award = projects["aiss-0007"].awards.get()
    award_version_record(
        award=award, kind="lock", reason="Run locked", actor=None, now=datetime(2025, 12, 20, tzinfo=UTC)
    )
    with django_assert_max_num_queries(16):
        assert get(client, "/api/centre/awards", token).json()["count"] == 2
    for n in range(60):
        locked_project(call, account=f"aiss-1{n:03d}", hours={("h800", "2026Q3"): 10})
    with django_assert_max_num_queries(16):
        first = get(client, "/api/centre/awards", token).json()
    second = get(client, "/api/centre/awards", token, page=2).json()
    assert first["count"] == second["count"] == 62
    assert len(first["items"]) == 50
    assert len(second["items"]) == 12
    assert first["items"][0] == {
        "account": "aiss-0007",
        "proposal": projects["aiss-0007"].reference,
        "title": projects["aiss-0007"].title,
        "call": call.reference,
        "state": "active",
        "subsidy_rate": "0.700",
        "subsidy": "29750.00",
        "hours": [
            {"pool": "h800", "quarter": "2026Q3", "gpu_hours": 500},
            {"pool": "h800", "quarter": "2026Q4", "gpu_hours": 1200},
        ],
        "versions": [
            {
                "run": award.run_id,
                "number": 1,
                "kind": "lock",
                "made_at": "2025-12-20T00:00:00Z",
                "gpu_hours": 1700,
                "subsidy": "29750.00",
            }
        ],
    }
    assert second["items"][-1]["account"] == "aiss-1059"


def test_usage_summaries(client, token, projects):
    usage(projects["aiss-0007"], quarter="2026Q3", hours=12)
    usage(projects["aiss-0012"], quarter="2026Q3", hours=3)
    body = get(client, "/api/centre/usage", token, account="aiss-0007").json()
    assert body == {"items": [{"account": "aiss-0007", "quarter": "2026Q3", "gpu_hours": "12.00"}], "count": 1}
    assert get(client, "/api/centre/usage", token, quarter="Q3").status_code == 400


def test_openapi_schema_describes_the_three_reads(client):
    response = client.get("/api/centre/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "AISS portal: the compute centre's API"
    assert sorted(schema["paths"]) == ["/api/centre/awards", "/api/centre/limits", "/api/centre/usage"]
    assert all(list(operations) == ["get"] for operations in schema["paths"].values())
    assert schema["components"]["securitySchemes"] == {"CentreToken": {"type": "http", "scheme": "bearer"}}


# ---- The secretariat's page -----------------------------------------------------------------------------------------


def test_secretariat_creates_and_revokes_a_client_on_the_page(client, secretariat):
    client.force_login(secretariat)
    page = reverse("projects:centre_clients")
    response = client.post(page, {"name": "AISC <b>Slurm</b>"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    created = CentreApiClient.objects.get()
    html = response.content.decode()
    assert "AISC &lt;b&gt;Slurm&lt;/b&gt;" in html
    assert "<b>Slurm</b>" not in html
    token = html.split('<code id="new-token">')[1].split("</code>")[0]
    assert token_hash(token) == created.token_hash
    assert token not in client.get(page).content.decode()

    response = client.post(reverse("projects:centre_client_revoke", args=[created.pk]), follow=True)
    created.refresh_from_db()
    assert created.revoked_by == secretariat
    assert "is revoked" in response.content.decode()


def test_blank_name_refused_with_the_reason_by_the_field(client, secretariat):
    client.force_login(secretariat)
    response = client.post(reverse("projects:centre_clients"), {"name": "  "})
    assert response.status_code == 422
    assert 'id="name-error"' in response.content.decode()
    assert not CentreApiClient.objects.exists()


@pytest.mark.parametrize("role", [Role.APPLICANT, Role.COMMITTEE_CHAIR, Role.AUDITOR, Role.REVIEWER])
def test_only_the_secretariat_manages_clients(client, role, token):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("projects:centre_clients")).status_code == 403
    pk = CentreApiClient.objects.get().pk
    assert client.post(reverse("projects:centre_client_revoke", args=[pk])).status_code == 403
    assert CentreApiClient.objects.get().revoked_at is None


@pytest.mark.parametrize("count", [1, 15])
def test_clients_page_query_count(client, secretariat, count, django_assert_max_num_queries):
    for n in range(count):
        centre_client_create(name=f"client {n}", actor=secretariat)
    client.force_login(secretariat)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("projects:centre_clients"))
    assert response.content.decode().count("<code>aiss_") == count


def test_active_projects_without_an_account_are_left_out(projects, call):
    other = locked_project(call, account="aiss-0099", hours={("h800", "2026Q3"): 10})
    Proposal.objects.filter(pk=other.pk).update(account_code=None)
    assert limits("--quarter", "2026Q3").splitlines() == [
        "sacctmgr -i modify account name=aiss-0007 set GrpTRESMins=gres/gpu=30000",
        "sacctmgr -i modify account name=aiss-0012 set GrpTRESMins=gres/gpu=48000",
    ]
