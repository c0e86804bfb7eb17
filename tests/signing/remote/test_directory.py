"""The account directory against the real Keycloak: client egov-directory's service account reads users (enabled,
realm roles, so_dinh_danh) and can change nothing; a wrong secret fails closed."""

from __future__ import annotations

import pytest
import requests

from idp.realm import DIRECTORY_CLIENT, EGOV_REALM
from signing.remote.directory import KeycloakDirectory, UnknownUser
from signing.remote.errors import AccountDisabled, DirectoryUnavailable
from tests.support.sso import SsoWorld

pytestmark = pytest.mark.keycloak


def service_account_token(sso: SsoWorld, secret: str | None = None) -> requests.Response:
    return requests.post(
        f"{sso.settings.keycloak_url}/realms/{EGOV_REALM}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": DIRECTORY_CLIENT,
              "client_secret": secret or sso.settings.keycloak_directory_client_secret()},
        timeout=10,
    )


def test_service_account_finds_a_user_with_id_number_roles_and_enabled(sso: SsoWorld):
    directory = KeycloakDirectory.for_settings(sso.settings)
    official = directory.find("official")
    assert official.subject == sso.admin().get_user_id("official")
    assert official.enabled and {"citizen", "official"} <= official.roles and "clerk" not in official.roles
    assert official.id_number == "001085000002" and official.full_name == "Trần Thị Bình"
    directory.require_enabled(official.subject)
    with pytest.raises(UnknownUser):
        directory.find("nobody-by-this-name")


def test_disabling_an_account_is_seen_at_the_next_lookup(sso: SsoWorld):
    directory = KeycloakDirectory.for_settings(sso.settings)
    auditor = directory.find("auditor")
    admin = sso.admin()
    admin.update_user(auditor.subject, {"enabled": False})
    try:
        with pytest.raises(AccountDisabled):
            directory.require_enabled(auditor.subject)
        assert directory.find("auditor").enabled is False
    finally:
        admin.update_user(auditor.subject, {"enabled": True})
    directory.require_enabled(auditor.subject)


def test_service_account_token_cannot_change_users_or_clients(sso: SsoWorld):
    answer = service_account_token(sso)
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    admin_api = f"{sso.settings.keycloak_url}/admin/realms/{EGOV_REALM}"
    subject = sso.admin().get_user_id("citizen")
    assert requests.get(f"{admin_api}/users/{subject}", headers=headers, timeout=10).status_code == 200
    writes = [
        requests.put(f"{admin_api}/users/{subject}", json={"firstName": "Kẻ gian"}, headers=headers, timeout=10),
        requests.put(f"{admin_api}/users/{subject}/reset-password", headers=headers, timeout=10,
                     json={"type": "password", "value": "taken-over", "temporary": False}),
        requests.post(f"{admin_api}/users", json={"username": "intruder", "enabled": True}, headers=headers,
                      timeout=10),
        requests.post(f"{admin_api}/clients", json={"clientId": "intruder", "publicClient": True}, headers=headers,
                      timeout=10),
    ]
    assert [w.status_code for w in writes] == [403, 403, 403, 403]
    assert requests.get(f"{admin_api}/clients", headers=headers, timeout=10).status_code == 403  # not even a read
    master = requests.get(f"{sso.settings.keycloak_url}/admin/realms/master/users", headers=headers, timeout=10)
    assert master.status_code in (401, 403)
    admin = sso.admin()
    assert admin.get_user(subject)["firstName"] == sso.user("citizen").full_name[0]
    assert admin.get_user_id("intruder") is None and admin.get_client_id("intruder") is None


def test_wrong_secret_fails_closed(sso: SsoWorld):
    assert service_account_token(sso, secret="not-the-secret").status_code == 401
    directory = KeycloakDirectory(sso.settings.keycloak_url, DIRECTORY_CLIENT, lambda: "not-the-secret")
    with pytest.raises(DirectoryUnavailable):
        directory.find("official")
    with pytest.raises(DirectoryUnavailable):
        directory.require_enabled(sso.admin().get_user_id("official"))


def test_password_grant_is_refused_to_the_directory_client(sso: SsoWorld):
    citizen = sso.user("citizen")
    answer = requests.post(
        f"{sso.settings.keycloak_url}/realms/{EGOV_REALM}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": DIRECTORY_CLIENT,
              "client_secret": sso.settings.keycloak_directory_client_secret(), "username": citizen.username,
              "password": citizen.password, "scope": "openid"},
        timeout=10,
    )
    assert answer.status_code in (400, 401) and "access_token" not in answer.json()
