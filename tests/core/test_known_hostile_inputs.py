"""Issue 10 §6: the hostile inputs that gave a server error, one by one."""

import pytest
from django.urls import reverse

from portal.accounts.enums import Role
from portal.core.params import int_param
from portal.proposals import services
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, open_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(db):
    organisation = OrganisationFactory(name="University of Hong Kong")
    applicant = MembershipFactory(organisation=organisation).user
    return services.proposal_create(call=open_call(), organisation=organisation, user=applicant), applicant


def test_nul_in_a_draft_field_is_removed_and_the_rest_kept(client, draft):
    proposal, applicant = draft
    client.force_login(applicant)
    response = client.post(
        reverse("proposals:edit", args=[proposal.pk]),
        {"action": "save", "title": "Cantonese\x00 LLM", "summary": "\x00\x00"},
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.draft["title"] == "Cantonese LLM"
    assert proposal.draft["summary"] == ""
    page = client.get(reverse("proposals:edit", args=[proposal.pk]))
    assert page.status_code == 200
    assert 'value="Cantonese LLM"' in page.content.decode()


def test_nul_in_the_proposal_list_query_is_a_400(client, draft):
    _proposal, applicant = draft
    client.force_login(applicant)
    assert client.get(reverse("proposals:dashboard") + "?state=%00").status_code == 400
    assert client.get(reverse("proposals:dashboard") + "?st%00ate=x").status_code == 400


@pytest.mark.parametrize("call", ["abc", "-1", "0", "1e3", "99999999999999999999999", "\uff11\uff12", "\u00b2"])
def test_open_data_with_a_call_that_is_not_an_id_is_a_404(client, call):
    client.force_login(UserFactory(role=Role.SECRETARIAT))
    assert client.get(reverse("reports:open_data", args=["csv"]), {"call": call}).status_code == 404


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), (" 7 ", 7), ("", None), ("abc", None), ("0", None), ("-3", None), ("²", None), ("1" * 20, None)],
)
def test_int_param_reads_only_a_positive_id(text, value):
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    query["id"] = text
    assert int_param(query, "id") == value


def test_money_of_1e30_is_refused_and_the_edit_page_still_shows(client, draft):
    """Today the edit page itself failed once 1e30 was saved in the draft."""
    proposal, applicant = draft
    client.force_login(applicant)
    url = reverse("proposals:edit", args=[proposal.pk])
    assert client.post(url, {"action": "save", "other_funding": "1e30"}).status_code == 302
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="1e30"' in page.content.decode()
    budget = client.get(reverse("proposals:budget", args=[proposal.pk]), {"other_funding": "1e30"})
    assert budget.status_code == 200
    assert budget.json()["problems"] == {"other_funding": "Enter an amount in HK$."}
    check = client.post(url, {"action": "submit", "other_funding": "1e30"})
    assert "Ensure this value is less than or equal to 999999999999.99." in check.content.decode()


@pytest.mark.parametrize("value", ["\u00b2", "99999999999999999999999"])
def test_odd_digits_in_ids_typed_into_forms_are_not_ids(client, draft, value):
    proposal, applicant = draft
    client.force_login(applicant)
    url = reverse("proposals:edit", args=[proposal.pk])
    response = client.post(url, {"action": "save", "remove_attachment": value, "co1_organisation": value})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.draft["co1_organisation"] == value


def test_a_draft_field_too_long_to_keep_is_shown_again_with_an_error_and_the_rest_saved(client, draft):
    proposal, applicant = draft
    client.force_login(applicant)
    typed = "長" * 20001

    response = client.post(
        reverse("proposals:edit", args=[proposal.pk]), {"action": "save", "title": typed, "summary": "Kept"}
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert typed in page
    assert "This is longer than 20,000 characters and was not saved: shorten it. The rest is saved." in page
    proposal.refresh_from_db()
    assert (proposal.draft.get("title", ""), proposal.draft["summary"]) == ("", "Kept")


def test_a_call_page_with_a_huge_row_count_builds_no_more_rows_than_allowed(client):
    client.force_login(UserFactory(role=Role.SECRETARIAT))

    response = client.post(
        reverse("calls:manage_create"),
        {"pools-TOTAL_FORMS": "99999999999999999999999", "pools-INITIAL_FORMS": "0", "allocation-tiers": "NaN"},
    )

    assert response.status_code == 400
    assert len(response.context["forms"].pools.forms) <= 60
    assert "A tier threshold is a score between 0 and 5." in response.content.decode()
