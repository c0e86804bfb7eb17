"""Realms as code: realm `egov` (portals, signing desk, API, user directory, step-up) and realm `vneid` brokered in."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError

from egov.settings import DIRECTORY_CLIENT
from idp.otp import base32_secret

EGOV_REALM = "egov"
VNEID_REALM = "vneid"
VNEID_ALIAS = "vneid"
ROLES = ("citizen", "official", "clerk", "ca-operator", "auditor")
ACR_LOA_MAP = {"loa1": 1, "loa2": 2}
STEP_UP_FLOW = "browser-loa"
LOA2_MAX_AGE = 300  # seconds a second factor counts as fresh; signing re-asks after that
LOA1_MAX_AGE = 36000
ID_NUMBER_ATTRIBUTE = "so_dinh_danh"
BROKER_CLIENT = "egov-broker"
API_CLIENT = "egov-api"
SIGNING_DESK_CLIENT = "signing-desk"
# All the signing service may do in Keycloak: read users (enabled, roles, so_dinh_danh), never change anything.
DIRECTORY_ROLES = ("view-users", "query-users")
REALM_MANAGEMENT = "realm-management"

SecretSource = Callable[[str], str]


@dataclass(frozen=True)
class PortalClient:
    """A relying-party web app in realm `egov`: confidential, code flow + PKCE S256, back-channel logout."""

    client_id: str
    name: str
    base_url: str

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"


@dataclass(frozen=True)
class DemoUser:
    realm: str
    username: str
    full_name: tuple[str, str]  # (first, last) as Keycloak stores them
    email: str
    roles: tuple[str, ...]
    password: str = field(repr=False)
    otp_raw: str | None = field(default=None, repr=False)
    id_number: str | None = None

    @property
    def otp_secret(self) -> str | None:
        """Base32, for an authenticator app; None when the user has no OTP credential."""
        return base32_secret(self.otp_raw) if self.otp_raw else None


@dataclass(frozen=True)
class RealmPlan:
    """Everything `apply_realms` makes; secrets come from a stable source so a second apply changes nothing."""

    keycloak_url: str
    portals: tuple[PortalClient, ...]
    signing_desk_url: str
    secret: SecretSource = field(repr=False)  # demo users' passwords and OTP seeds, by name
    client_secrets: SecretSource = field(repr=False)  # a client's secret, by client id

    def client_secret(self, client_id: str) -> str:
        return self.client_secrets(client_id)

    def demo_users(self) -> tuple[DemoUser, ...]:
        def user(realm: str, username: str, first: str, last: str, roles: tuple[str, ...], otp: bool = True,
                 id_number: str | None = None) -> DemoUser:
            return DemoUser(
                realm=realm, username=username, full_name=(first, last), email=f"{username}@demo.egov.vn",
                roles=roles, password=self.secret(f"demo-{realm}-{username}-password"),
                otp_raw=self.secret(f"demo-{realm}-{username}-otp")[:20] if otp else None, id_number=id_number,
            )

        return (
            user(EGOV_REALM, "citizen", "An", "Nguyễn Văn", ("citizen",), id_number="001090000001"),
            user(EGOV_REALM, "official", "Bình", "Trần Thị", ("citizen", "official"), id_number="001085000002"),
            user(EGOV_REALM, "clerk", "Cường", "Lê Văn", ("clerk",), id_number="001080000003"),
            user(EGOV_REALM, "auditor", "Dung", "Phạm Thị", ("auditor",)),
            user(VNEID_REALM, "079199000123", "Hoa", "Võ Thị", (), otp=False, id_number="079199000123"),
        )


@dataclass(frozen=True)
class AppliedRealms:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    demo_users: tuple[DemoUser, ...]


def admin_client(keycloak_url: str, username: str, password: str, realm: str) -> KeycloakAdmin:
    """An admin API client for `realm`, logged in as the master realm's admin (refreshes hit master too)."""
    connection = KeycloakOpenIDConnection(
        server_url=keycloak_url, username=username, password=password, realm_name=realm,
        user_realm_name="master", client_id="admin-cli", verify=True,
    )
    return KeycloakAdmin(connection=connection)


def _mapper(name: str, mapper: str, config: dict[str, str]) -> dict[str, object]:
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "config": config}


def _id_number_mapper() -> dict[str, object]:
    return _mapper(ID_NUMBER_ATTRIBUTE, "oidc-usermodel-attribute-mapper", {
        "user.attribute": ID_NUMBER_ATTRIBUTE, "claim.name": ID_NUMBER_ATTRIBUTE, "jsonType.label": "String",
        "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true",
    })


def _web_client(plan: RealmPlan, client_id: str, name: str, base_url: str) -> dict[str, object]:
    """A server-side web app: confidential, code flow + PKCE S256 only, back-channel logout at /backchannel-logout."""
    attributes = {
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": f"{base_url}/*",
        "backchannel.logout.url": f"{base_url}/backchannel-logout",
        "backchannel.logout.session.required": "true",
        "backchannel.logout.revoke.offline.tokens": "false",
    }
    return {
        "clientId": client_id, "name": name, "enabled": True, "protocol": "openid-connect",
        "publicClient": False, "clientAuthenticatorType": "client-secret", "secret": plan.client_secret(client_id),
        "standardFlowEnabled": True, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False, "frontchannelLogout": False, "consentRequired": False,
        "rootUrl": base_url, "baseUrl": f"{base_url}/", "redirectUris": [f"{base_url}/callback"],
        "webOrigins": [base_url], "attributes": attributes,
        "protocolMappers": [
            _id_number_mapper(),
            _mapper("audience egov-api", "oidc-audience-mapper", {
                "included.client.audience": API_CLIENT, "access.token.claim": "true", "id.token.claim": "false",
            }),
        ],
    }


def _directory_client(plan: RealmPlan) -> dict[str, object]:
    """The signing service's own identity for user lookups: a service account only (client credentials), no
    browser or password flows; what it may read is granted by `ensure_directory_roles`."""
    return {
        "clientId": DIRECTORY_CLIENT, "name": "Tra cứu tài khoản / account directory", "enabled": True,
        "protocol": "openid-connect", "publicClient": False, "clientAuthenticatorType": "client-secret",
        "secret": plan.client_secret(DIRECTORY_CLIENT), "serviceAccountsEnabled": True,
        "standardFlowEnabled": False, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
        "frontchannelLogout": False, "consentRequired": False,
    }


def _user(user: DemoUser) -> dict[str, object]:
    credentials: list[dict[str, object]] = [{"type": "password", "value": user.password, "temporary": False}]
    if user.otp_raw:
        credentials.append({
            "type": "otp", "userLabel": "demo", "secretData": json.dumps({"value": user.otp_raw}),
            "credentialData": json.dumps({"subType": "totp", "digits": 6, "period": 30, "algorithm": "HmacSHA1",
                                          "counter": 0}),
        })
    representation: dict[str, object] = {
        "username": user.username, "enabled": True, "emailVerified": True, "email": user.email,
        "firstName": user.full_name[0], "lastName": user.full_name[1], "credentials": credentials,
        "realmRoles": list(user.roles), "requiredActions": [],
    }
    if user.id_number:
        representation["attributes"] = {ID_NUMBER_ATTRIBUTE: [user.id_number]}
    return representation


def _realm_settings(name: str, display: str) -> dict[str, object]:
    return {
        "realm": name, "enabled": True, "displayName": display, "sslRequired": "external",
        "accessTokenLifespan": 300, "ssoSessionIdleTimeout": 1800, "ssoSessionMaxLifespan": 36000,
        "registrationAllowed": False, "loginWithEmailAllowed": True, "bruteForceProtected": True,
        "otpPolicyType": "totp", "otpPolicyAlgorithm": "HmacSHA1", "otpPolicyDigits": 6, "otpPolicyPeriod": 30,
        "otpPolicyCodeReusable": False, "revokeRefreshToken": False,
    }


def vneid_realm(plan: RealmPlan) -> dict[str, object]:
    broker_endpoint = f"{plan.keycloak_url}/realms/{EGOV_REALM}/broker/{VNEID_ALIAS}/endpoint"
    return {
        **_realm_settings(VNEID_REALM, "VNeID (mô phỏng / simulated)"),
        "clients": [{
            "clientId": BROKER_CLIENT, "name": "Cổng egov-trust / egov-trust broker", "enabled": True,
            "protocol": "openid-connect", "publicClient": False, "secret": plan.client_secret(BROKER_CLIENT),
            "standardFlowEnabled": True, "directAccessGrantsEnabled": False, "redirectUris": [broker_endpoint],
            "attributes": {"pkce.code.challenge.method": "S256",
                           "post.logout.redirect.uris": f"{plan.keycloak_url}/realms/{EGOV_REALM}/*"},
            "protocolMappers": [_id_number_mapper()],
        }],
    }


def egov_realm(plan: RealmPlan) -> dict[str, object]:
    vneid_base = f"{plan.keycloak_url}/realms/{VNEID_REALM}/protocol/openid-connect"
    clients = [_web_client(plan, p.client_id, p.name, p.base_url) for p in plan.portals]
    clients.append(_web_client(plan, SIGNING_DESK_CLIENT, "Bàn ký số / signing desk", plan.signing_desk_url))
    clients.append({
        "clientId": API_CLIENT, "name": "API egov-trust", "enabled": True, "protocol": "openid-connect",
        "bearerOnly": True, "publicClient": False, "standardFlowEnabled": False,
    })
    clients.append(_directory_client(plan))
    return {
        **_realm_settings(EGOV_REALM, "Chính phủ điện tử / e-government"),
        "attributes": {"acr.loa.map": json.dumps(ACR_LOA_MAP)},
        "roles": {"realm": [{"name": role} for role in ROLES]},
        "clients": clients,
        "identityProviders": [{
            "alias": VNEID_ALIAS, "displayName": "VNeID", "providerId": "oidc", "enabled": True,
            "trustEmail": True, "storeToken": False, "firstBrokerLoginFlowAlias": "first broker login",
            "config": {
                "clientId": BROKER_CLIENT, "clientSecret": plan.client_secret(BROKER_CLIENT),
                "clientAuthMethod": "client_secret_post",
                "authorizationUrl": f"{vneid_base}/auth", "tokenUrl": f"{vneid_base}/token",
                "userInfoUrl": f"{vneid_base}/userinfo", "logoutUrl": f"{vneid_base}/logout",
                "jwksUrl": f"{vneid_base}/certs", "issuer": f"{plan.keycloak_url}/realms/{VNEID_REALM}",
                "useJwksUrl": "true", "validateSignature": "true", "pkceEnabled": "true", "pkceMethod": "S256",
                "defaultScope": "openid profile email", "syncMode": "FORCE", "backchannelSupported": "true",
            },
        }],
        "identityProviderMappers": [{
            "name": ID_NUMBER_ATTRIBUTE, "identityProviderAlias": VNEID_ALIAS,
            "identityProviderMapper": "oidc-user-attribute-idp-mapper",
            "config": {"claim": ID_NUMBER_ATTRIBUTE, "user.attribute": ID_NUMBER_ATTRIBUTE, "syncMode": "INHERIT"},
        }],
    }


# The step-up browser flow: cookie SSO (level-aware), the VNeID redirector for kc_idp_hint, then one conditional
# sub-flow per level of assurance; as (depth, provider or sub-flow alias, requirement) the way Keycloak lists it.
# The level conditions carry their configuration: a changed max age rebuilds the flow too.
_LOA1_CONDITION = {"loa-condition-level": "1", "loa-max-age": str(LOA1_MAX_AGE)}
_LOA2_CONDITION = {"loa-condition-level": "2", "loa-max-age": str(LOA2_MAX_AGE)}
_EXPECTED_SIGNATURE = [
    (0, "auth-cookie", "ALTERNATIVE", None), (0, "identity-provider-redirector", "ALTERNATIVE", None),
    (0, f"{STEP_UP_FLOW} forms", "ALTERNATIVE", None),
    (1, f"{STEP_UP_FLOW} loa1", "CONDITIONAL", None),
    (2, "conditional-level-of-authentication", "REQUIRED", _LOA1_CONDITION),
    (2, "auth-username-password-form", "REQUIRED", None),
    (1, f"{STEP_UP_FLOW} loa2", "CONDITIONAL", None),
    (2, "conditional-level-of-authentication", "REQUIRED", _LOA2_CONDITION),
    (2, "auth-otp-form", "REQUIRED", None),
]


def _normalised_signature(admin: KeycloakAdmin) -> list[tuple[int, str, str, dict[str, str] | None]]:
    signature = []
    for e in admin.get_authentication_flow_executions(STEP_UP_FLOW):
        config = admin.get_authenticator_config(e["authenticationConfig"])["config"] \
            if e.get("authenticationConfig") else None
        name = e["displayName"] if e.get("authenticationFlow") else e.get("providerId", "")
        signature.append((e["level"], name, e["requirement"], config))
    return signature


def _set_requirement(admin: KeycloakAdmin, flow: str, execution: dict[str, object], requirement: str) -> None:
    if execution["requirement"] != requirement:
        admin.update_authentication_flow_executions({"id": execution["id"], "requirement": requirement}, flow)


def _add_execution(admin: KeycloakAdmin, flow: str, provider: str, requirement: str,
                   config: dict[str, str] | None) -> None:
    admin.create_authentication_flow_execution({"provider": provider}, flow)
    execution = [e for e in admin.get_authentication_flow_executions(flow)
                 if e.get("providerId") == provider and e["level"] == 0][-1]
    _set_requirement(admin, flow, execution, requirement)
    if config is not None:
        alias = f"{flow} {provider} {config.get('loa-condition-level', '')}".strip().replace(" ", "-")
        admin.create_execution_config(execution["id"], {"alias": alias, "config": config})


def _add_subflow(admin: KeycloakAdmin, parent: str, alias: str, requirement: str) -> None:
    admin.create_authentication_flow_subflow({"alias": alias, "type": "basic-flow", "description": alias}, parent)
    execution = next(e for e in admin.get_authentication_flow_executions(parent)
                     if e.get("authenticationFlow") and e["displayName"] == alias and e["level"] == 0)
    _set_requirement(admin, parent, execution, requirement)


def ensure_step_up_flow(admin: KeycloakAdmin) -> bool:
    """The browser flow with levels of assurance; rebuilt only when it differs. True when it was (re)built."""
    flows = {flow["alias"]: flow for flow in admin.get_authentication_flows()}
    if STEP_UP_FLOW in flows:
        if _normalised_signature(admin) == _EXPECTED_SIGNATURE:
            return False
        admin.update_realm(admin.connection.realm_name, {"browserFlow": "browser"})
        admin.delete_authentication_flow(flows[STEP_UP_FLOW]["id"])
    admin.create_authentication_flow({
        "alias": STEP_UP_FLOW, "providerId": "basic-flow", "topLevel": True, "builtIn": False,
        "description": "Đăng nhập theo mức đảm bảo / browser login with levels of assurance (loa1, loa2)",
    })
    forms, loa1, loa2 = (f"{STEP_UP_FLOW} {part}" for part in ("forms", "loa1", "loa2"))
    _add_execution(admin, STEP_UP_FLOW, "auth-cookie", "ALTERNATIVE", None)
    _add_execution(admin, STEP_UP_FLOW, "identity-provider-redirector", "ALTERNATIVE", None)
    _add_subflow(admin, STEP_UP_FLOW, forms, "ALTERNATIVE")
    _add_subflow(admin, forms, loa1, "CONDITIONAL")
    _add_execution(admin, loa1, "conditional-level-of-authentication", "REQUIRED", _LOA1_CONDITION)
    _add_execution(admin, loa1, "auth-username-password-form", "REQUIRED", None)
    _add_subflow(admin, forms, loa2, "CONDITIONAL")
    _add_execution(admin, loa2, "conditional-level-of-authentication", "REQUIRED", _LOA2_CONDITION)
    _add_execution(admin, loa2, "auth-otp-form", "REQUIRED", None)
    return True


def ensure_id_number_attribute(admin: KeycloakAdmin) -> None:
    """Declare `so_dinh_danh` (12 digits) in the user profile; undeclared attributes are dropped."""
    profile = admin.get_realm_users_profile()
    if any(a["name"] == ID_NUMBER_ATTRIBUTE for a in profile.get("attributes", [])):
        return
    profile["attributes"].append({
        "name": ID_NUMBER_ATTRIBUTE, "displayName": "Số định danh cá nhân / personal identification number",
        "validations": {"pattern": {"pattern": r"^\d{12}$", "error-message": "12 chữ số / 12 digits"}},
        "permissions": {"view": ["admin", "user"], "edit": ["admin"]}, "multivalued": False,
    })
    admin.update_realm_users_profile(profile)


def ensure_directory_roles(admin: KeycloakAdmin) -> bool:
    """The directory's service account holds exactly `realm-management` view-users and query-users: anything else
    (the realm's default roles it was born with, a role granted by hand in the console) is taken away. True when
    something changed."""
    account = admin.get_client_service_account_user(admin.get_client_id(DIRECTORY_CLIENT))["id"]
    management = admin.get_client_id(REALM_MANAGEMENT)
    held = admin.get_all_roles_of_user(account)
    changed = False
    if held.get("realmMappings"):
        admin.delete_realm_roles_of_user(account, held["realmMappings"])
        changed = True
    by_client = held.get("clientMappings") or {}
    for client in by_client.values():
        keep = DIRECTORY_ROLES if client["id"] == management else ()
        extra = [role for role in client["mappings"] if role["name"] not in keep]
        if extra:
            admin.delete_client_roles_of_user(account, client["id"], extra)
            changed = True
    granted = {role["name"] for role in by_client.get(REALM_MANAGEMENT, {}).get("mappings", [])}
    missing = [admin.get_client_role(management, name) for name in DIRECTORY_ROLES if name not in granted]
    if missing:
        admin.assign_client_role(account, management, missing)
        changed = True
    return changed


def _realm_exists(admin: KeycloakAdmin, name: str) -> bool:
    return any(realm["realm"] == name for realm in admin.get_realms())


def _upsert(existing: dict[str, dict[str, object]], key: str, wanted: dict[str, object],
            create: Callable[[dict[str, object]], object], update: Callable[[str, dict[str, object]], object],
            id_field: str | None = "id") -> None:
    """Update in place when it exists (keeps ids, and so users' sessions and links), else create."""
    current = existing.get(str(wanted[key]))
    if current is None:
        create(wanted)
    else:
        update(str(current["id"]), {**wanted, id_field: current["id"]} if id_field else wanted)


def _apply_client(admin: KeycloakAdmin, client: dict[str, object]) -> None:
    mappers = list(client.get("protocolMappers", []))  # type: ignore[call-overload]
    internal_id = admin.get_client_id(str(client["clientId"]))
    if internal_id is None:
        admin.create_client(client)
        return
    admin.update_client(internal_id, {k: v for k, v in client.items() if k != "protocolMappers"})
    existing = {m["name"]: m for m in admin.get_mappers_from_client(internal_id)}
    for mapper in mappers:
        _upsert(existing, "name", mapper, lambda m: admin.add_mapper_to_client(internal_id, m),
                lambda mapper_id, m: admin.update_client_mapper(internal_id, mapper_id, m))


def _apply_realm(admin: KeycloakAdmin, representation: dict[str, object], users: list[dict[str, object]]) -> bool:
    """Create the realm, or bring an existing one up to date in place; demo users are created once, never
    overwritten (their passwords and OTP secrets stay what was printed)."""
    name = str(representation["realm"])
    created = not _realm_exists(admin, name)
    parts = ("clients", "roles", "identityProviders", "identityProviderMappers", "users")
    top_level = {k: v for k, v in representation.items() if k not in parts}
    if created:
        admin.create_realm(top_level)
    else:
        admin.update_realm(name, top_level)
    admin.change_current_realm(name)
    ensure_id_number_attribute(admin)
    roles = representation.get("roles", {}).get("realm", [])  # type: ignore[attr-defined]
    if roles:
        admin.partial_import_realm(name, {"ifResourceExists": "SKIP", "roles": {"realm": roles}})
    for client in representation.get("clients", []):  # type: ignore[attr-defined]
        _apply_client(admin, client)
    providers = {p["alias"]: {**p, "id": p["alias"]} for p in admin.get_idps()}
    for provider in representation.get("identityProviders", []):  # type: ignore[attr-defined]
        _upsert(providers, "alias", provider, admin.create_idp, admin.update_idp, id_field=None)
    for mapper in representation.get("identityProviderMappers", []):  # type: ignore[attr-defined]
        alias = mapper["identityProviderAlias"]
        existing = {m["name"]: m for m in admin.get_idp_mappers(alias)}
        _upsert(existing, "name", mapper, lambda m, alias=alias: admin.add_mapper_to_idp(alias, m),
                lambda mapper_id, m, alias=alias: admin.update_mapper_in_idp(alias, mapper_id, m))
    if users:
        admin.partial_import_realm(name, {"ifResourceExists": "SKIP", "users": users})
    return created


def apply_realms(plan: RealmPlan, admin: KeycloakAdmin) -> AppliedRealms:
    """Create or update realms `vneid` and `egov` idempotently (a second run changes nothing that matters)."""
    created: list[str] = []
    updated: list[str] = []
    demo = plan.demo_users()
    for representation in (vneid_realm(plan), egov_realm(plan)):
        name = str(representation["realm"])
        users = [_user(u) for u in demo if u.realm == name]
        try:
            (created if _apply_realm(admin, representation, users) else updated).append(name)
        except KeycloakError as exc:
            raise RealmError(f"could not apply realm {name}: {exc}") from exc
    admin.change_current_realm(EGOV_REALM)
    ensure_directory_roles(admin)
    ensure_step_up_flow(admin)
    admin.update_realm(EGOV_REALM, {"browserFlow": STEP_UP_FLOW})
    citizen = admin.get_realm_role("citizen")
    default_role = admin.get_realm("egov")["defaultRole"]["name"]
    if "citizen" not in {r["name"] for r in admin.get_composite_realm_roles_of_role(default_role)}:
        admin.add_realm_default_roles([citizen])  # people arriving through VNeID are citizens
    _ensure_ec_key(admin)
    return AppliedRealms(tuple(created), tuple(updated), demo)


def _ensure_ec_key(admin: KeycloakAdmin) -> None:
    """An ES256 signing key next to the default RS256 one, so clients may choose either."""
    realm_id = admin.get_realm(EGOV_REALM)["id"]
    providers = admin.get_components({"parent": realm_id, "type": "org.keycloak.keys.KeyProvider"})
    if any(p["providerId"] == "ecdsa-generated" for p in providers):
        return
    admin.create_component({
        "name": "ecdsa-generated", "providerId": "ecdsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
        "parentId": realm_id, "config": {"priority": ["100"], "ecdsaEllipticCurveKey": ["P-256"],
                                         "active": ["true"], "enabled": ["true"]},
    })


class RealmError(RuntimeError):
    """Keycloak refused part of the realm definition."""
