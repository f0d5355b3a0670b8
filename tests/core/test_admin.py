import pytest
from django.urls import reverse

from tests.factories import UserFactory, open_call

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    [
        "calls_call_changelist",
        "calls_resourcepool_changelist",
        "calls_quarter_changelist",
        "proposals_proposal_changelist",
        "allocations_callallocationsettings_changelist",
        "allocations_clawbackcheckpoint_changelist",
        "allocations_usageimport_changelist",
    ],
)
def test_admin_lists_open_for_superuser(client, name):
    open_call()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse(f"admin:{name}")).status_code == 200


def test_admin_call_change_page(client):
    call = open_call()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "Reasonableness of the compute request" in html
