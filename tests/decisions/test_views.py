from decimal import Decimal

import pytest
from django.urls import reverse

from portal.accounts.enums import Role
from portal.proposals.enums import ProposalState as S
from tests.factories import UserFactory

from .conftest import advance, make_submitted

pytestmark = pytest.mark.integration


def test_detail_shows_the_buttons_of_the_table_for_the_secretariat(client, submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    client.force_login(secretariat)
    html = client.get(reverse("proposals:detail", args=[proposal.pk])).content.decode()
    assert f'href="{reverse("decisions:screen", args=[proposal.pk])}"' in html
    assert f'href="{reverse("decisions:clarify", args=[proposal.pk])}"' in html
    assert reverse("decisions:decide", args=[proposal.pk]) not in html


def test_screen_page_is_refused_to_a_committee_member(client, submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    client.force_login(member)
    assert client.get(reverse("decisions:screen", args=[proposal.pk])).status_code == 403


def test_screen_page_is_not_found_for_an_applicant_of_another_organisation(client, submitted, users):
    client.force_login(users["outsider"])
    assert client.get(reverse("decisions:screen", args=[submitted.pk])).status_code == 404


def test_screen_page_records_an_eligible_proposal(client, submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    client.force_login(secretariat)
    url = reverse("decisions:screen", args=[proposal.pk])
    page = client.get(url)
    form = page.context["form"]
    data = {name: "yes" for name in form.fields if name.startswith("item_")}
    response = client.post(url, data)
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.state == S.IN_REVIEW


def test_screen_page_shows_the_error_when_ineligible_without_reasons(client, submitted, secretariat, member):
    proposal = advance(submitted, S.SCREENING, secretariat=secretariat, member=member)
    client.force_login(secretariat)
    url = reverse("decisions:screen", args=[proposal.pk])
    form = client.get(url).context["form"]
    data = {name: "no" for name in form.fields if name.startswith("item_")}
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["reasons"] == ["Tell the applicant why the proposal is ineligible."]


def test_step_page_for_a_row_taken_elsewhere_is_not_found(client, submitted, secretariat):
    client.force_login(secretariat)
    assert client.get(reverse("decisions:transition", args=[submitted.pk, "approve"])).status_code == 404


def test_decide_page_refuses_the_recommender(client, submitted, secretariat, chair):
    proposal = advance(submitted, S.RECOMMENDED, secretariat=secretariat, member=chair)
    client.force_login(chair)
    assert client.get(reverse("decisions:decide", args=[proposal.pk])).status_code == 403


def test_recommend_page_records_a_recommendation(client, submitted, secretariat, member):
    proposal = advance(submitted, S.REVIEWED, secretariat=secretariat, member=member)
    client.force_login(member)
    url = reverse("decisions:recommend", args=[proposal.pk])
    form = client.get(url).context["form"]
    data = {name: field.initial for name, field in form.fields.items() if name.startswith("hours_")}
    data.update(recommended="yes", subsidy_rate="85", rate_reason="", conditions="Open weights.")
    response = client.post(url, data)
    assert response.context["form"].errors["rate_reason"] == ["Give a reason for a subsidy rate above the call's 70%."]
    data["rate_reason"] = "Public-good model."
    assert client.post(url, data).status_code == 302
    proposal.refresh_from_db()
    assert proposal.state == S.RECOMMENDED
    assert proposal.recommendations.get().subsidy_rate == Decimal("0.850")


def test_bulk_decision_page_approves_the_selected(client, call, organisation, applicant, secretariat, member, chair):
    proposals = [
        advance(make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=member)
        for _ in range(2)
    ]
    client.force_login(chair)
    response = client.post(
        reverse("decisions:bulk_decide"), {"proposals": [p.pk for p in proposals], "decision": "approve", "reason": ""}
    )
    assert response.status_code == 302
    assert [p.state for p in type(proposals[0]).objects.filter(pk__in=[p.pk for p in proposals])] == [S.APPROVED] * 2


def test_diff_page_is_for_officials_only(client, submitted, secretariat, applicant):
    client.force_login(applicant)
    assert client.get(reverse("decisions:diff", args=[submitted.pk, 1, 1])).status_code == 403
    client.force_login(secretariat)
    response = client.get(reverse("decisions:diff", args=[submitted.pk, 1, 1]))
    assert response.status_code == 200
    assert response.context["changes"] == []


@pytest.mark.parametrize("size", [1, 4])
def test_queue_query_count_is_constant(
    client, size, call, organisation, applicant, secretariat, member, django_assert_num_queries
):
    for _ in range(size):
        make_submitted(call, organisation, applicant)
        advance(make_submitted(call, organisation, applicant), S.RECOMMENDED, secretariat=secretariat, member=member)
    officer = UserFactory(role=Role.AUDITOR)
    client.force_login(officer)
    with django_assert_num_queries(11):
        response = client.get(reverse("decisions:queue"))
    assert len(response.context["screening"]) == size
    assert len(response.context["deciding"]) == size
