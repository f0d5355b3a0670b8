"""Issue 10 §8: styled, translated 400, 403, 404 and 500 pages in production (DEBUG=False), drawn without the
database, the session or the request's context."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from portal.core import errors
from tests.factories import UserFactory

STYLED = '<link rel="stylesheet" href="/static/css/portal.css">'


def _page(response) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


@pytest.mark.django_db
def test_404_is_the_portals_page_in_english_and_chinese(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _page(response)
    assert STYLED in html
    assert "<h1>Page not found</h1>" in html
    assert "Error 404" in html
    assert f'href="{reverse("core:home")}"' in html
    client.cookies["django_language"] = "zh-hant"
    chinese = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert chinese.status_code == 404
    assert "<h1>找不到頁面</h1>" in _page(chinese)
    assert 'lang="zh-Hant-HK"' in _page(chinese)


@pytest.mark.django_db
def test_403_for_a_page_the_user_may_not_see(client):
    client.force_login(UserFactory())
    response = client.get(reverse("audit:log"))
    assert response.status_code == 403
    html = _page(response)
    assert STYLED in html
    assert "<h1>Not allowed</h1>" in html


@pytest.mark.django_db
def test_400_for_a_nul_in_the_query_string(client):
    response = client.get(reverse("calls:list") + "?state=%00")
    assert response.status_code == 400
    html = _page(response)
    assert STYLED in html
    assert "<h1>Bad request</h1>" in html


@pytest.mark.django_db
def test_400_for_a_host_not_allowed(client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.hk"]
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in _page(response)


@pytest.mark.django_db
@pytest.mark.urls("tests.core.error_urls")
def test_500_is_the_portals_page_in_the_readers_language():
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    assert response.status_code == 500
    html = _page(response)
    assert STYLED in html
    assert "<h1>Server error</h1>" in html
    chinese = client.get("/broken/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "<h1>伺服器錯誤</h1>" in _page(chinese)


@pytest.mark.django_db
def test_error_pages_need_no_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        pages = {
            400: errors.bad_request(request, None),
            403: errors.permission_denied(request, None),
            404: errors.page_not_found(request, None),
            500: errors.server_error(request),
        }
    assert {status: page.status_code for status, page in pages.items()} == {400: 400, 403: 403, 404: 404, 500: 500}
    assert all(STYLED in _page(page) for page in pages.values())


@pytest.mark.django_db
def test_csrf_failure_page_is_styled_and_translated(settings):
    client = Client(enforce_csrf_checks=True)
    with translation.override("en"):
        response = client.post(reverse("accounts:login"), {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert "<h1>The form could not be sent</h1>" in _page(response)
    assert STYLED in _page(response)
