"""A remote-signing world: the real Keycloak (realm egov with its demo users), an initialised CA whose keys are in
files and in the session's SoftHSM token, credentials enrolled with the real `egov ca enroll`, and the real
`egov serve` answering the CSC API. Tokens come from real logins (loa2 with the user's TOTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.settings import Settings
from idp.otp import totp
from tests.conftest import settings_env_for
from tests.support.headless import LoginFormError
from tests.support.postgres import free_port
from tests.support.server import PkiServer
from tests.support.softhsm import SoftHsmToken
from tests.support.sso import SsoWorld, run_egov

# Inside the 300 s token lifetime and the 300 s step-up freshness, with a minute to spare for the test using it.
# Every loa2 login spends a TOTP code; fewer logins, fewer chances to meet Keycloak's brute-force guard.
TOKEN_REUSE_SECONDS = 240
LOCKOUT_WAIT_SECONDS = 70  # Keycloak locks an account for a minute after failures less than a second apart


class Tokens:
    """Access tokens from real logins at a demo portal (audience egov-api), kept for a while: each loa2 login spends
    a TOTP code, and Keycloak refuses a code twice."""

    def __init__(self, sso: SsoWorld) -> None:
        self.sso = sso
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._last_code: dict[str, str] = {}

    def _fresh_code(self, username: str) -> str:
        secret = self.sso.user(username).otp_secret
        assert secret
        while (code := totp(secret)) == self._last_code.get(username):
            time.sleep(1)
        self._last_code[username] = code
        return code

    def get(self, username: str, acr: str = "loa2", fresh: bool = False) -> str:
        known = self._tokens.get((username, acr))
        if known is not None and not fresh and time.monotonic() - known[1] < TOKEN_REUSE_SECONDS:
            return known[0]
        for attempt in range(2):
            otp = self._fresh_code(username) if acr == "loa2" else None
            try:
                _, _, session = self.sso.login("portal-dvc", username, path="/step-up" if acr == "loa2" else "/login",
                                               otp=otp)
                break
            except LoginFormError:
                # Seen once in many runs: a fresh TOTP code refused, then the helper's retries trip the guard.
                if attempt:
                    raise
                time.sleep(LOCKOUT_WAIT_SECONDS)
        assert session.access.acr == acr
        self._tokens[(username, acr)] = (session.access_token, time.monotonic())
        return session.access_token

    def subject(self, username: str) -> str:
        return self.sso.admin().get_user_id(username)


@dataclass
class CscWorld:
    sso: SsoWorld
    env: dict[str, str]
    settings: Settings
    authority: CertificateAuthority
    server: PkiServer
    tokens: Tokens
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (credential ID, serial)

    @property
    def url(self) -> str:
        return self.server.url

    def credential(self, name: str) -> str:
        return self.credentials[name][0]

    def serial(self, name: str) -> str:
        return self.credentials[name][1]

    def post(self, endpoint: str, body: object, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(f"{self.url}/csc/v1/{endpoint}", json=body, headers=headers, timeout=60)


def enroll(env: dict[str, str], *args: str) -> tuple[str, str]:
    """`egov ca enroll …` for real; returns (credential ID, certificate serial)."""
    result = run_egov(env, "ca", "enroll", *args, "--actor", "test:operator", timeout=120)
    assert result.returncode == 0, f"egov ca enroll {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    return lines["credential"].strip(), lines["certificate"].split()[0]


# (name, username, enroll options)
ENROLMENTS = (
    ("official-rsa", "official", ("--profile", "official", "--backend", "file", "--key-algorithm", "rsa-2048",
                                  "--title", "Chủ tịch", "--org-name", "Ủy ban nhân dân tỉnh Bình Phước")),
    ("official-ec-hsm", "official", ("--profile", "official", "--backend", "pkcs11", "--key-algorithm", "ec-p256")),
    ("official-to-revoke", "official", ("--profile", "official", "--backend", "file", "--key-algorithm", "ec-p256")),
    ("official-to-suspend", "official", ("--profile", "official", "--backend", "file", "--key-algorithm", "ec-p256")),
    ("clerk-seal", "clerk", ("--profile", "organisation", "--backend", "file", "--key-algorithm", "rsa-2048",
                             "--org-name", "Ủy ban nhân dân tỉnh Bình Phước", "--mst", "3800123456")),
)


@pytest.fixture(scope="module")
def csc(sso: SsoWorld, softhsm: SoftHsmToken, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CscWorld]:
    data_dir: Path = tmp_path_factory.mktemp("csc")
    port = free_port()
    env = {
        **settings_env_for(data_dir, softhsm),
        "EGOV_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **{k: v for k, v in sso.env.items() if k.startswith("EGOV_KEYCLOAK_")},
    }
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("test:setup")
    credentials = {name: enroll(env, "--user", username, *options) for name, username, options in ENROLMENTS}
    server = PkiServer(env, port)
    server.authority = authority
    with server:
        yield CscWorld(sso, env, settings, authority, server, Tokens(sso), credentials)
