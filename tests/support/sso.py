"""A running SSO world for tests and benchmarks: a real Keycloak started through `egov idp up`, the realms applied
with `egov idp apply`, and both demo portals serving on free loopback ports (Keycloak calls their back-channel)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from api.cli.idp import realm_plan
from deploy.keycloak.launcher import KeycloakConfig, KeycloakLauncher
from egov.settings import Settings
from idp.demo_portals import PORTALS, Portal, PortalServer, PortalSession
from idp.jwks import JwksCache, http_json
from idp.oidc import ProviderEndpoints
from idp.realm import EGOV_REALM, DemoUser, RealmPlan, admin_client
from idp.sessions import LoggedOutSessions
from idp.tokens import TokenVerifier
from tests.support.headless import HeadlessBrowser, Navigation

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_egov(env: dict[str, str], *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


class CountingFetch:
    """The JWKS fetch of a verifier under test, counting what reached Keycloak."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, url: str) -> dict:
        self.calls += 1
        return dict(http_json(url))


@dataclass
class SsoWorld:
    env: dict[str, str]
    settings: Settings
    launcher: KeycloakLauncher
    plan: RealmPlan
    endpoints: ProviderEndpoints
    servers: dict[str, PortalServer] = field(default_factory=dict)
    first_apply_output: str = ""

    @property
    def issuer(self) -> str:
        return self.endpoints.issuer

    def user(self, username: str) -> DemoUser:
        return next(u for u in self.plan.demo_users() if u.username == username)

    def portal(self, client_id: str) -> Portal:
        return self.servers[client_id].portal

    def url(self, client_id: str, path: str = "/") -> str:
        return self.portal(client_id).client.base_url + path

    def admin(self, realm: str = EGOV_REALM):  # noqa: ANN201
        settings = self.settings
        return admin_client(settings.keycloak_url, settings.keycloak_admin, settings.keycloak_admin_secret(), realm)

    def verifier(self, *, refetch_interval: float = 30.0, **options: object) -> tuple[TokenVerifier, CountingFetch]:
        fetch = CountingFetch()
        keys = JwksCache(self.endpoints.jwks_uri, refetch_interval=refetch_interval, fetch=fetch)
        options.setdefault("sessions", LoggedOutSessions())
        return TokenVerifier(self.issuer, ("portal-dvc", "portal-motcua", "egov-api"), keys, **options), fetch

    def login(self, client_id: str, username: str, browser: HeadlessBrowser | None = None,
              path: str = "/login", otp: str | None = None) -> tuple[HeadlessBrowser, Navigation, PortalSession]:
        """Drive a real login at a portal; returns the browser, what it saw, and the portal session it made."""
        browser = browser or HeadlessBrowser()
        portal = self.portal(client_id)
        before = set(portal.sessions)
        user = self.user(username)
        navigation = browser.open(self.url(client_id, path), username=user.username, password=user.password, otp=otp)
        assert navigation.response.status_code == 200, navigation.response.text[:2000]
        created = [portal.sessions[k] for k in set(portal.sessions) - before]
        assert len(created) == 1, f"no portal session after login; forms: {navigation.forms}"
        return browser, navigation, created[0]


@contextlib.contextmanager
def running_sso(data_dir: Path) -> Iterator[SsoWorld]:
    """Keycloak on free ports with its state under `data_dir`; everything is stopped on the way out."""
    env = {
        "EGOV_DATA_DIR": str(data_dir),
        "EGOV_KEY_PASSPHRASE": "test-passphrase-not-for-production",
        "EGOV_KEYCLOAK_PORT": str(free_port()),
        "EGOV_KEYCLOAK_MANAGEMENT_PORT": str(free_port()),
        "EGOV_KEYCLOAK_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        # Configured rather than generated: servers over other data dirs copy EGOV_KEYCLOAK_* and look users up too.
        "EGOV_KEYCLOAK_DIRECTORY_SECRET": secrets.token_urlsafe(24),
        "EGOV_KEYCLOAK_START_TIMEOUT": "300",
    }
    settings = Settings.from_env({**os.environ, **env})
    launcher = KeycloakLauncher(KeycloakConfig.from_settings(settings))
    servers: dict[str, PortalServer] = {}
    try:
        started = run_egov(env, "idp", "up")
        assert started.returncode == 0, f"egov idp up failed:\n{started.stdout}\n{started.stderr}"
        ports = {client_id: free_port() for client_id, _, _ in PORTALS}
        urls = {client_id: f"http://127.0.0.1:{port}" for client_id, port in ports.items()}
        applied = run_egov(env, "idp", "apply", "--portal-dvc", urls["portal-dvc"],
                           "--portal-motcua", urls["portal-motcua"])
        assert applied.returncode == 0, f"egov idp apply failed:\n{applied.stdout}\n{applied.stderr}"
        plan = realm_plan(settings, urls["portal-dvc"], urls["portal-motcua"], None)
        endpoints = ProviderEndpoints.discover(f"{settings.keycloak_url}/realms/{EGOV_REALM}")
        for client, (client_id, _, english) in zip(plan.portals, PORTALS, strict=True):
            others = tuple((p.name, f"{p.base_url}/login") for p in plan.portals if p != client)
            portal = Portal(client, english, plan.client_secret(client_id), endpoints, links=others)
            servers[client_id] = PortalServer(portal, ports[client_id]).start()
        yield SsoWorld(env, settings, launcher, plan, endpoints, servers, applied.stdout)
    finally:
        for server in servers.values():
            server.stop()
        group = launcher.status().pid
        run_egov(env, "idp", "down", timeout=120)
        launcher.stop()
        assert group is None or not launcher._alive(group), "Keycloak processes left behind"
