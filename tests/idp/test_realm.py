"""Realm `egov` as code against the real Keycloak: the directory client is a service account holding exactly
`realm-management` view-users and query-users, and applying again keeps it so."""

from __future__ import annotations

import pytest

from idp.realm import (
    DIRECTORY_CLIENT,
    DIRECTORY_ROLES,
    REALM_MANAGEMENT,
    admin_client,
    apply_realms,
    ensure_directory_roles,
)
from signing.remote.directory import KeycloakDirectory
from tests.support.sso import SsoWorld

pytestmark = pytest.mark.keycloak


def held_roles(sso: SsoWorld) -> tuple[list[str], dict[str, set[str]]]:
    admin = sso.admin()
    account = admin.get_client_service_account_user(admin.get_client_id(DIRECTORY_CLIENT))["id"]
    held = admin.get_all_roles_of_user(account)
    return ([r["name"] for r in held.get("realmMappings", [])],
            {name: {r["name"] for r in c["mappings"]} for name, c in (held.get("clientMappings") or {}).items()})


def test_directory_client_has_no_login_flows_only_a_service_account(sso: SsoWorld):
    admin = sso.admin()
    client = admin.get_client(admin.get_client_id(DIRECTORY_CLIENT))
    assert client["name"] == "Tra cứu tài khoản / account directory"
    assert client["serviceAccountsEnabled"] is True and client["publicClient"] is False
    assert not (client["standardFlowEnabled"] or client["implicitFlowEnabled"] or client["directAccessGrantsEnabled"])
    secret = admin.get_client_secrets(client["id"])["value"]
    assert secret == sso.plan.client_secret(DIRECTORY_CLIENT) == sso.settings.keycloak_directory_client_secret()


def test_directory_service_account_holds_exactly_view_and_query_users(sso: SsoWorld):
    assert held_roles(sso) == ([], {REALM_MANAGEMENT: set(DIRECTORY_ROLES)})


def test_apply_takes_back_what_was_granted_by_hand_and_a_second_apply_changes_nothing(sso: SsoWorld):
    admin = sso.admin()
    client_id = admin.get_client_id(DIRECTORY_CLIENT)
    account = admin.get_client_service_account_user(client_id)["id"]
    management = admin.get_client_id(REALM_MANAGEMENT)
    admin.assign_client_role(account, management, [admin.get_client_role(management, "manage-users")])
    admin.assign_realm_roles(account, [admin.get_realm_role("official")])
    admin.delete_client_roles_of_user(account, management, [admin.get_client_role(management, "query-users")])
    settings = sso.settings
    master = admin_client(settings.keycloak_url, settings.keycloak_admin, settings.keycloak_admin_secret(), "master")
    apply_realms(sso.plan, master)
    assert held_roles(sso) == ([], {REALM_MANAGEMENT: set(DIRECTORY_ROLES)})
    apply_realms(sso.plan, master)
    assert ensure_directory_roles(sso.admin()) is False
    assert held_roles(sso) == ([], {REALM_MANAGEMENT: set(DIRECTORY_ROLES)})
    assert sso.admin().get_client_id(DIRECTORY_CLIENT) == client_id  # updated in place, same secret
    assert KeycloakDirectory.for_settings(settings).find("official").enabled
