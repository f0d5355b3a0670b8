import pytest
from django.conf import settings
from django.urls import reverse


@pytest.mark.django_db
def test_home_page_in_traditional_chinese(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    html = client.get(reverse("core:home")).content.decode()
    assert '<html lang="zh-Hant-HK">' in html
    assert "人工智能資助計劃平台" in html
    assert "跳至主要內容" in html


@pytest.mark.django_db
def test_language_switch_sets_the_cookie(client):
    response = client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"


@pytest.mark.django_db
def test_pages_need_no_cdn(client):
    html = client.get(reverse("accounts:signup")).content.decode()
    assert "cdn" not in html.lower()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html


@pytest.mark.django_db
def test_privacy_statement_page(client):
    assert "Purpose of collection" in client.get(reverse("core:pics")).content.decode()


def test_production_settings_refuse_to_start_without_secret_key_and_hosts():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings.production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR
    )
    assert result.returncode == 1
    assert "DJANGO_SECRET_KEY must be set in production." in result.stderr
    env["DJANGO_SECRET_KEY"] = "x" * 50
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR
    )
    assert "DJANGO_ALLOWED_HOSTS must be set in production." in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "target"), [("applicant", "proposals:dashboard"), ("reviewer", "reviews:my_assignments")]
)
def test_home_sends_each_role_to_its_work(client, role, target):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=role))
    assert client.get(reverse("core:home")).url == reverse(target)


@pytest.mark.django_db
def test_pagination_keeps_the_filters(client):
    from portal.notifications.models import Notification
    from tests.factories import UserFactory

    user = UserFactory()
    Notification.objects.bulk_create(Notification(user=user, message=f"n{i}") for i in range(60))
    client.force_login(user)
    html = client.get(reverse("notifications:list"), {"q": "x"}).content.decode()
    assert 'href="?q=x&amp;page=2"' in html


@pytest.mark.django_db
def test_call_title_follows_the_language():
    from django.utils import translation

    from tests.factories import open_call

    call = open_call(title="AISS 2027 Batch 1", title_zh="人工智能資助計劃 2027 第一批")
    with translation.override("zh-hant"):
        assert call.local_title == "人工智能資助計劃 2027 第一批"
    with translation.override("en"):
        assert call.local_title == "AISS 2027 Batch 1"


def test_server_threads_keep_their_database_connection_unless_told_not_to(settings):
    """Persistent connections by default (checked before reuse); DATABASE_CONN_MAX_AGE=0 opens one per request."""
    import os
    import subprocess
    import sys

    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings.dev"

    def read(**extra):
        command = [sys.executable, "manage.py", "shell", "--no-imports", "-c", code]
        result = subprocess.run(command, capture_output=True, text=True, env={**env, **extra}, cwd=settings.BASE_DIR)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert read() == ["60", "True"]
    assert read(DATABASE_CONN_MAX_AGE="0") == ["0", "True"]
    assert read(DATABASE_URL="postgres://u@db/aiss?conn_max_age=5") == ["5", "True"]
