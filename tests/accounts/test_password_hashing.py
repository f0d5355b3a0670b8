"""Issue 14 point 6: passwords are hashed with Argon2id in production settings; a person whose password was hashed
with PBKDF2 still logs in, and the hash is upgraded to Argon2 then. (The tests' own settings use a fast hasher.)"""

import importlib

from django.contrib.auth.hashers import identify_hasher, make_password
from django.urls import reverse

from tests.accounts.helpers import PASSWORD
from tests.factories.accounts import UserFactory


def _production_hashers() -> list[str]:
    return importlib.import_module("portal.settings.base").PASSWORD_HASHERS


def test_production_hashes_new_passwords_with_argon2(settings):
    settings.PASSWORD_HASHERS = _production_hashers()
    encoded = make_password("a-long-passphrase-1")
    assert encoded.startswith("argon2$argon2id$")
    assert identify_hasher(encoded).algorithm == "argon2"


def test_an_old_pbkdf2_hash_still_logs_in_and_is_upgraded(client, settings, db):
    settings.PASSWORD_HASHERS = _production_hashers()
    user = UserFactory()
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
