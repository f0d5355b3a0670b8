"""Allocation pages: who may see and do what, what they show, and a constant number of queries."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import F
from django.urls import reverse

from portal.allocations import selectors, services
from portal.allocations.models import AllocationRun, AwardHours
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.allocations import allocatable_proposal, lock, usage

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SAMPLE = Path(settings.BASE_DIR) / "tests" / "data" / "sacct-sample.txt"


def run_for(call, officer, capture, n, policy="rank") -> AllocationRun:
    for i in range(n):
        allocatable_proposal(call, hours={("h800", "2026Q1"): 300_000}, score=f"{4 - i / 10:.2f}")
    with capture(execute=True):
        run = services.allocation_run_start(call=call, policy=policy, actor=officer)
    run.refresh_from_db()
    return run


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_call_page_starts_run_and_shows_it(client, call, officer, django_capture_on_commit_callbacks):
    allocatable_proposal(call)
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("allocations:call", args=[call.pk]), {"policy": "optimal"})

    run = AllocationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("allocations:run", args=[run.pk])
    page = text(client.get(response["Location"]))
    assert f"Run #{run.pk}: Optimal" in page
    assert "Funded in full." in page
    status = client.get(reverse("allocations:run_status", args=[run.pk])).json()
    assert status == {
        "status": "succeeded",
        "status_display": "Finished",
        "progress": 100,
        "stage": "Finished",
        "finished": True,
    }


def test_run_page_shows_progress_while_queued(client, call, officer):
    allocatable_proposal(call)
    client.force_login(officer)
    run = services.allocation_run_start(call=call, policy="rank", actor=officer)  # not committed: stays queued

    page = text(client.get(reverse("allocations:run", args=[run.pk])))

    assert '<progress id="run-meter" class="w-100" max="100" value="0">0%</progress>' in page
    assert "Queued: Waiting for a worker" in page


def test_failed_run_page_names_last_good_run(client, call, officer, django_capture_on_commit_callbacks):
    good = run_for(call, officer, django_capture_on_commit_callbacks, 1)
    bad = AllocationRun.objects.create(call=call, policy="optimal", inputs={"pools": {}}, started_by=officer)
    services.allocation_run_execute(run_id=bad.pk)
    client.force_login(officer)

    page = text(client.get(reverse("allocations:run", args=[bad.pk])))

    assert "This run failed" in page
    assert f'The last good run is kept: <a href="/allocations/runs/{good.pk}/">#{good.pk} (Rank order)</a>' in page


def test_pages_forbidden_to_applicants_and_auditor_read_only(
    client, call, officer, auditor, django_capture_on_commit_callbacks
):
    run = run_for(call, officer, django_capture_on_commit_callbacks, 1)
    client.force_login(UserFactory())
    for url in (reverse("allocations:index"), reverse("allocations:run", args=[run.pk])):
        assert client.get(url).status_code == 403
    client.force_login(auditor)
    page = text(client.get(reverse("allocations:run", args=[run.pk])))
    assert "Lock the allocation" not in page
    assert "Adjust" not in page
    assert client.post(reverse("allocations:run_lock", args=[run.pk])).status_code == 404
    assert client.post(reverse("allocations:call", args=[call.pk]), {"policy": "rank"}).status_code == 404


def test_adjust_page_requires_reason_and_ties_errors_to_fields(
    client, call, officer, django_capture_on_commit_callbacks
):
    run = run_for(call, officer, django_capture_on_commit_callbacks, 1)
    award = run.awards.get()
    cell = award.hours.get()
    client.force_login(officer)
    url = reverse("allocations:award_adjust", args=[award.pk])

    response = client.post(url, {f"cell_{cell.pk}": "400000", "reason": ""})

    assert response.status_code == 422
    page = text(response)
    assert f'id="id_cell_{cell.pk}_error"' in page or f'id="id_cell_{cell.pk}-error"' in page
    assert "Ensure this value is less than or equal to 300000." in page
    assert "This field is required." in page

    response = client.post(url, {f"cell_{cell.pk}": "250000", "reason": "Technical advice"})
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.share == Decimal("0.833333")


def test_lock_pages_propose_then_approve_with_the_totals(
    client, call, officer, chair, django_capture_on_commit_callbacks
):
    run = run_for(call, officer, django_capture_on_commit_callbacks, 2)
    url = reverse("allocations:run_lock", args=[run.pk])
    client.force_login(officer)
    page = text(client.get(reverse("allocations:run", args=[run.pk])))
    assert "Check the totals and propose the lock" in page

    page = text(client.get(url))
    assert '<dt class="col-sm-4">GPU-hours awarded</dt> <dd class="col-sm-8">600,000</dd>' in page
    assert '<dt class="col-sm-4">Subsidy committed</dt> <dd class="col-sm-8">HK$10,500,000.00</dd>' in page
    assert (
        "I have checked these totals (2 projects funded, 600,000 GPU-hours, subsidy HK$10,500,000.00) and the awards"
        " past a soft limit." in page
    )
    fingerprint = services.lock_fingerprint(services.lock_totals(run))
    response = client.post(url, {"action": "propose", "confirmed": fingerprint})
    assert response.status_code == 422
    assert "Confirm that you have checked the totals." in text(response)
    assert client.post(url, {"action": "approve", "confirmed": fingerprint, "checked": "on"}).status_code == 404

    response = client.post(url, {"action": "propose", "confirmed": fingerprint, "checked": "on"}, follow=True)
    assert "The lock is proposed; an approving official is asked to approve it." in text(response)
    run.refresh_from_db()
    assert (run.lock_proposed_by, run.locked_at) == (officer, None)

    client.force_login(chair)
    page = text(client.get(reverse("allocations:run", args=[run.pk])))
    assert "Check the totals and approve the lock" in page
    response = client.post(url, {"action": "approve", "confirmed": "stale", "checked": "on"}, follow=True)
    assert (
        "The allocation was not locked: The awards changed after the totals were shown to you; check the new totals"
        " and confirm again." in text(response)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "approve", "confirmed": fingerprint, "checked": "on"}, follow=True)
    assert "The allocation is locked and the projects are told." in text(response)
    run.refresh_from_db()
    assert run.locked_by == chair
    assert Proposal.objects.filter(state=ProposalState.ACTIVE).count() == 2


def test_lock_page_sends_back_with_reason(client, call, officer, chair, django_capture_on_commit_callbacks):
    run = run_for(call, officer, django_capture_on_commit_callbacks, 1)
    services.allocation_lock_propose(
        run=run, actor=officer, confirmed=services.lock_fingerprint(services.lock_totals(run))
    )
    client.force_login(chair)
    url = reverse("allocations:run_lock", args=[run.pk])

    response = client.post(url, {"action": "cancel", "reason": ""})
    assert response.status_code == 422
    assert "This field is required." in text(response)
    response = client.post(url, {"action": "cancel", "reason": "Recheck the tiers."}, follow=True)

    assert "The proposed lock is withdrawn; the awards can be adjusted again." in text(response)
    run.refresh_from_db()
    assert run.lock_proposed_at is None


def test_compare_page_side_by_side(client, call, officer, django_capture_on_commit_callbacks):
    rank = run_for(call, officer, django_capture_on_commit_callbacks, 5)
    with django_capture_on_commit_callbacks(execute=True):
        optimal = services.allocation_run_repeat(run=rank, actor=officer, policy="optimal")
    client.force_login(officer)

    page = text(client.get(reverse("allocations:compare", args=[call.pk]), {"runs": [rank.pk, optimal.pk]}))

    assert f'<a href="/allocations/runs/{rank.pk}/">#{rank.pk}</a> Rank order' in page
    assert f'<a href="/allocations/runs/{optimal.pk}/">#{optimal.pk}</a> Optimal' in page
    assert '<th scope="row">Projects funded</th> <td class="num">4 / 5</td>' in page
    assert "AISC H800, 2026Q1: GPU-hours (capacity used)" in page
    fourth = Proposal.objects.get(review_consensus__score=Decimal("3.70"))  # 1,170,000 - 3 x 300,000 left
    assert (
        f'<th scope="row"> {fourth.reference} <br> <span class="small">{fourth.title} · {fourth.organisation.name}'
        '</span> </th> <td class="num">3.70</td> <td class="num">300,000</td> <td> <strong>270,000</strong> (90.0%) '
        '<br> <span class="small">Cut to 90.0% of its request by the capacity of AISC H800 in 2026Q1.</span> </td>'
    ) in page


@pytest.mark.parametrize("size", [2, 6])
def test_run_page_query_count_constant(
    client, call, officer, django_capture_on_commit_callbacks, django_assert_max_num_queries, size
):
    run = run_for(call, officer, django_capture_on_commit_callbacks, size)
    client.force_login(officer)
    url = reverse("allocations:run", args=[run.pk])
    # 10, one for the second factor's device, two for conflicts of interest (the proposals withheld from this
    # official, and whether they may propose the lock of this run's awards) and three for a page of awards (the
    # count of pages, the organisations that this page's reasons name, when one does, the awards past a soft limit).
    # The first view sums the run's awards and keeps the totals (six more); later ones read them kept.
    with django_assert_max_num_queries(22):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(url).status_code == 200


def capacity_row(page: str, quarter: str) -> str:
    return re.search(rf"<th scope=\"row\">AISC H800</th> <td>{quarter}</td> (.*?)</tr>", page).group(1)


def test_run_page_totals_kept_until_an_award_changes(client, call, officer, django_capture_on_commit_callbacks):
    """The run's totals are kept between views, and a change to its awards, however made, is in the next view."""
    run = run_for(call, officer, django_capture_on_commit_callbacks, 2)
    client.force_login(officer)
    url = reverse("allocations:run", args=[run.pk])
    first = text(client.get(url))
    assert capacity_row(first, "2026Q1").startswith('<td class="num">600,000</td>')
    assert capacity_row(text(client.get(url)), "2026Q1") == capacity_row(first, "2026Q1")

    # No save(), no service: only the database's triggers can tell.
    AwardHours.objects.filter(award__run=run).update(gpu_hours=F("gpu_hours") - 100_000)
    again = text(client.get(url))
    assert capacity_row(again, "2026Q1").startswith('<td class="num">400,000</td>')
    fresh = selectors.run_summaries(runs=[run])[0]
    assert fresh.cells == {("h800", "2026Q1"): Decimal(400_000)}
    assert selectors.RunSummary.from_totals(run, fresh.totals()) == fresh


def test_run_page_shows_a_page_of_awards_at_a_time(
    client, call, officer, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("portal.allocations.views.RUN_PAGE_SIZE", 2)
    run = run_for(call, officer, django_capture_on_commit_callbacks, 5)
    client.force_login(officer)
    url = reverse("allocations:run", args=[run.pk])
    awards = list(run.awards.order_by("-score", "proposal__reference"))
    first, last = text(client.get(url)), text(client.get(url, {"page": "3"}))
    assert "Page 1 of 3" in first
    assert "Page 3 of 3" in last
    assert f'id="award-{awards[0].pk}"' in client.get(url).content.decode()
    assert f'id="award-{awards[4].pk}"' in client.get(url, {"page": "3"}).content.decode()
    assert f'id="award-{awards[4].pk}"' not in client.get(url).content.decode()


@pytest.mark.parametrize("size", [1, 4])
def test_call_page_query_count_constant(
    client, call, officer, django_capture_on_commit_callbacks, django_assert_num_queries, size
):
    for _ in range(size):
        run_for(call, officer, django_capture_on_commit_callbacks, 1)
    client.force_login(officer)
    with django_assert_num_queries(10):
        assert client.get(reverse("allocations:call", args=[call.pk])).status_code == 200


@pytest.mark.parametrize("size", [1, 4])
def test_compare_page_query_count_constant(
    client, call, officer, django_capture_on_commit_callbacks, django_assert_num_queries, size
):
    runs = [run_for(call, officer, django_capture_on_commit_callbacks, 1) for _ in range(size)]
    client.force_login(officer)
    url, query = reverse("allocations:compare", args=[call.pk]), {"runs": [r.pk for r in runs]}
    # The first view sums the runs' awards and keeps their totals, all at once (seven more: the generation, the kept
    # totals, and keeping them in a transaction, then whether the change log needs folding).
    with django_assert_num_queries(18):
        client.get(url, query)
    with django_assert_num_queries(11):  # 9, the second factor's device, the proposals withheld (conflicts)
        response = client.get(url, query)
    assert text(response).count('<td class="num">4.00</td>') == size


@pytest.mark.parametrize("size", [1, 3])
def test_pool_page_capacity_and_query_count(
    client, call, officer, chair, django_capture_on_commit_callbacks, django_assert_num_queries, size
):
    run = run_for(call, officer, django_capture_on_commit_callbacks, size)
    lock(call, run, proposer=officer, approver=chair)
    proposal = run.awards.first().proposal
    proposal.refresh_from_db()
    usage(proposal, quarter="2026Q1", hours=1_000)
    client.force_login(officer)
    with django_assert_num_queries(8):
        response = client.get(reverse("allocations:pool", args=["h800"]))
    page = text(response)
    awarded = f"{size * 300_000:,}"
    free = f"{1_170_000 - size * 300_000:,}"
    assert (
        f'<th scope="row">2026Q1</th> <td class="num">1,300,000</td> <td class="num">130,000</td> '
        f'<td class="num">1,170,000</td> <td class="num">{awarded}</td> <td class="num">{free}</td> '
        '<td class="num">1,000</td> <td class="num">0.1%</td>'
    ) in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page


def test_usage_upload_forbidden_to_committee(client):
    from portal.accounts.enums import Role

    client.force_login(UserFactory(role=Role.COMMITTEE_MEMBER))
    assert client.get(reverse("allocations:usage_upload")).status_code == 403


def test_project_page_awarded_used_balance_burn_rate(client, call, officer, chair, django_capture_on_commit_callbacks):
    run = run_for(call, officer, django_capture_on_commit_callbacks, 1)
    lock(call, run, proposer=officer, approver=chair)
    proposal = run.awards.get().proposal
    proposal.refresh_from_db()
    usage(proposal, quarter="2026Q1", hours=30_000)
    member = MembershipFactory(organisation=proposal.organisation).user
    client.force_login(member)

    page = text(client.get(reverse("projects:project", args=[proposal.pk])))

    assert '<th scope="row">2026Q1</th> <td class="num">300,000</td> <td class="num">30,000</td>' in page
    assert 'Remaining balance</dt> <dd class="col-sm-8"> 270,000 (120,000 of it released)' in page
    assert "Burn rate" in page
    assert 'role="img"' in page
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("projects:project", args=[proposal.pk])).status_code == 404


def test_call_page_each_run_funded_and_subsidy_from_its_own_awards(
    client, call, officer, django_capture_on_commit_callbacks
):
    from django.db.models import Sum

    from portal.core.templatetags.portal import hkd

    first = run_for(call, officer, django_capture_on_commit_callbacks, 3)
    second = run_for(call, officer, django_capture_on_commit_callbacks, 2, policy="optimal")
    client.force_login(officer)

    page = text(client.get(reverse("allocations:call", args=[call.pk])))

    for run in (first, second):
        funded = run.awards.filter(share__gt=0).count()
        subsidy = run.awards.aggregate(total=Sum("subsidy"))["total"]
        assert funded > 0
        row = re.search(rf'href="{reverse("allocations:run", args=[run.pk])}".*?</tr>', page).group(0)
        assert f'<td class="num">{funded}</td> <td class="num">{hkd(subsidy)}</td>' in row


def test_the_organisations_a_reason_names_are_found_by_id(db):
    """The run page reads the names of the organisations its page of reasons names (an organisation cap)."""
    from portal.allocations import explain
    from portal.allocations.models import Award

    organisation = OrganisationFactory(name="Harbour Robotics Lab")
    award = Award(reason=f"org_cap org-{organisation.pk} h800", soft_limits=[f"org_cap org-{organisation.pk} a100"])
    assert explain.named_organisations([award]) == {organisation.pk}
    assert explain.named_organisations([Award(reason="capacity h800 2026Q2", soft_limits=[])]) == set()
