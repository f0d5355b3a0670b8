"""The preferred language is applied at log-in and can be changed in the profile; forms summarise their errors."""

import pytest
from django.conf import settings
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_switches_to_the_preferred_language(client):
    user = UserFactory(email="chan@example.hk", preferred_language="zh-hant")
    response = client.post(
        reverse("accounts:login"), {"username": "chan@example.hk", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    html = client.get(reverse("accounts:profile")).content.decode()
    assert '<html lang="zh-Hant-HK">' in html
    assert user.email in html


def test_profile_changes_the_preferred_language_and_the_interface(client):
    user = UserFactory(full_name="Dr Chan", preferred_language="en")
    client.force_login(user)
    response = client.post(
        reverse("accounts:profile"), {"full_name": "Dr Chan Tai Man", "preferred_language": "zh-hant"}
    )
    assert response.url == reverse("accounts:profile")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    user.refresh_from_db()
    assert (user.full_name, user.preferred_language) == ("Dr Chan Tai Man", "zh-hant")
    audit = AuditEvent.objects.get(action="user.profile_changed")
    # The chain keeps that the name was corrected, never the name (it cannot be erased from the chain).
    assert audit.after == {"full_name": "(corrected)", "preferred_language": "zh-hant"}
    assert "Chan" not in str(audit.before) + audit.object_repr + audit.actor_repr


def test_profile_with_errors_has_a_summary_linked_to_the_field(client):
    client.force_login(UserFactory())
    response = client.post(reverse("accounts:profile"), {"full_name": "", "preferred_language": "fr"})
    html = response.content.decode()
    assert 'id="error-summary"' in html
    assert '<a href="#id_full_name">Full name: This field is required.</a>' in html
    assert '<a href="#id_preferred_language">' in html


def test_login_and_signup_errors_have_a_summary(client):
    html = client.post(reverse("accounts:login"), {"username": "x@example.hk", "password": "wrong"}).content.decode()
    assert 'id="error-summary"' in html
    assert "The email address or password is not correct." in html
    html = client.post(reverse("accounts:signup"), {"email": "not-an-email"}).content.decode()
    assert 'id="error-summary"' in html
    assert '<a href="#id_full_name">' in html
    assert '<a href="#id_consent">' in html
