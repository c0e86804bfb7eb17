"""A signing-desk world: the session's real Keycloak with the realm's `signing-desk` client pointed at our own
`egov serve` (its own data dir and CA), credentials enrolled with the real `egov ca enroll` for the official
(personal) and the clerk (the organisation's seal), a second official without a credential, and a headless user
agent that logs in through Keycloak's real forms and drives the desk's pages."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import func, select

from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.settings import Settings
from idp.otp import totp
from idp.realm import SIGNING_DESK_CLIENT
from signing.desk_models import DeskDocumentRecord, DeskSessionRecord
from tests.conftest import settings_env_for
from tests.signing.remote.conftest import enroll
from tests.support.headless import HeadlessBrowser
from tests.support.postgres import free_port
from tests.support.server import PkiServer
from tests.support.softhsm import SoftHsmToken
from tests.support.sso import SsoWorld, run_egov

SECOND_OFFICIAL = "official-desk-2"
AGENCY = "Ủy ban nhân dân tỉnh Bình Phước"
TOTP_PERIOD = 30


class _Page(HTMLParser):
    """What a test reads off a desk page: the CSRF token, rows of the tables, links by class, ids present."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.csrf: str | None = None
        self.rows: dict[str, list[dict[str, str]]] = {}
        self.links: dict[str, list[str]] = {}
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "input" and values.get("name") == "csrf_token":
            self.csrf = values.get("value")
        elif tag == "table":
            self._table = values.get("id")
            self.rows.setdefault(self._table or "", [])
        elif tag == "tr" and self._table and "data-document-id" in values:
            self.rows[self._table].append(values)
        elif tag == "a":
            for name in values.get("class", "").split():
                self.links.setdefault(name, []).append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None


@dataclass
class DeskPage:
    response: requests.Response
    parsed: _Page

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    def document_ids(self, table: str = "documents") -> list[int]:
        return [int(row["data-document-id"]) for row in self.parsed.rows.get(table, [])]

    def statuses(self) -> dict[int, str]:
        return {int(r["data-document-id"]): r.get("data-status", "") for r in self.parsed.rows.get("documents", [])}


def read_page(response: requests.Response) -> DeskPage:
    parsed = _Page()
    if "html" in response.headers.get("Content-Type", ""):
        parsed.feed(response.text)
    return DeskPage(response, parsed)


@dataclass
class DeskWorld:
    sso: SsoWorld
    env: dict[str, str]
    settings: Settings
    authority: CertificateAuthority
    server: PkiServer
    second_official_password: str = field(repr=False, default="")
    _last_window: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def password(self, username: str) -> str:
        return self.second_official_password if username == SECOND_OFFICIAL else self.sso.user(username).password

    def otp(self, username: str) -> str:
        """A TOTP code Keycloak has not seen: a new 30 s window for each code (other tests may have just spent the
        current one, and Keycloak refuses a code twice)."""
        secret = self.sso.user(username).otp_secret
        assert secret
        window = int(time.time() // TOTP_PERIOD)
        if self._last_window.get(username) is None or self._last_window[username] >= window:
            time.sleep((window + 1) * TOTP_PERIOD - time.time() + 1)
        self._last_window[username] = int(time.time() // TOTP_PERIOD)
        return totp(secret)

    def browser(self) -> DeskBrowser:
        return DeskBrowser(self)

    def count(self, model: type, *conditions: object) -> int:
        with self.authority.database.transaction() as session:
            return session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one()

    def documents(self) -> int:
        return self.count(DeskDocumentRecord)

    def sessions_of(self, subject: str) -> int:
        return self.count(DeskSessionRecord, DeskSessionRecord.subject == subject)


class DeskBrowser:
    """One person's user agent: Keycloak's cookies and the desk's."""

    def __init__(self, world: DeskWorld) -> None:
        self.world = world
        self.agent = HeadlessBrowser()
        self.username: str | None = None

    @property
    def http(self) -> requests.Session:
        return self.agent.http

    def url(self, path: str) -> str:
        return urljoin(self.world.url, path)

    def get(self, path: str = "/desk/") -> DeskPage:
        return read_page(self.http.get(self.url(path), timeout=60))

    def login(self, username: str) -> DeskPage:
        self.username = username
        navigation = self.agent.open(self.url("/desk/login"), username=username,
                                     password=self.world.password(username))
        return read_page(navigation.response)

    def post(self, path: str, data: dict[str, object] | None = None, files: list | None = None,
             csrf: bool = True) -> requests.Response:
        fields: dict[str, object] = dict(data or {})
        if csrf:
            fields["csrf_token"] = self.get().parsed.csrf
        return self.http.post(self.url(path), data=fields, files=files, allow_redirects=False, timeout=120)

    def follow(self, response: requests.Response, otp: bool = False) -> DeskPage:
        """Follow a redirect through Keycloak (answering its forms) back to the desk."""
        assert response.is_redirect, (response.status_code, response.text[:2000])
        username = self.username
        navigation = self.agent.open(urljoin(response.url, response.headers["Location"]), username=username,
                                     password=self.world.password(username) if username else None,
                                     otp=self.world.otp(username) if otp and username else None)
        return read_page(navigation.response)

    def upload(self, files: list[tuple[str, bytes]], content_type: str = "application/pdf") -> requests.Response:
        return self.post("/desk/upload", files=[("documents", (name, data, content_type)) for name, data in files])

    def approve(self, document_ids: list[int], action: str = "approve") -> DeskPage:
        answer = self.post(f"/desk/{action}", {"document": [str(i) for i in document_ids]})
        if not answer.is_redirect:
            return read_page(answer)
        return self.follow(answer, otp=True)


def _second_official(sso: SsoWorld) -> str:
    """An official of another office (no credential), so one official's documents can be tried by another."""
    admin = sso.admin()
    password = secrets.token_urlsafe(16)
    user_id = admin.get_user_id(SECOND_OFFICIAL)
    if user_id is None:
        user_id = admin.create_user({
            "username": SECOND_OFFICIAL, "enabled": True, "email": f"{SECOND_OFFICIAL}@demo.egov.vn",
            "emailVerified": True, "firstName": "Giang", "lastName": "Đỗ Thị", "requiredActions": [],
        })
    admin.set_user_password(user_id, password, temporary=False)
    admin.assign_realm_roles(user_id, [admin.get_realm_role("official")])
    return password


@pytest.fixture(scope="session")
def desk(sso: SsoWorld, softhsm: SoftHsmToken, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    """On SQLite, or on PostgreSQL in the suite's second pass (`settings_env_for`)."""
    data_dir: Path = tmp_path_factory.mktemp("desk")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **settings_env_for(data_dir, softhsm),
        "EGOV_PUBLIC_BASE_URL": url,
        **{k: v for k, v in sso.env.items() if k.startswith("EGOV_KEYCLOAK_")},
    }
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("test:setup")
    authority.export(data_dir / "public")
    dvc, motcua = (p.base_url for p in sso.plan.portals)
    applied = run_egov(sso.env, "idp", "apply", "--signing-desk", f"{url}/desk", "--portal-dvc", dvc,
                       "--portal-motcua", motcua)
    assert applied.returncode == 0, f"egov idp apply failed:\n{applied.stdout}\n{applied.stderr}"
    # `egov idp apply` ran on the SSO world's data dir (whose secrets the portals use); the desk and the
    # directory lookups read their client secrets from this data dir: the same ones, then.
    secrets_dir = data_dir / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for source in (sso.settings.data_dir / "secrets").glob("keycloak-client-*"):
        (secrets_dir / source.name).write_text(source.read_text())
        os.chmod(secrets_dir / source.name, 0o600)
    assert (secrets_dir / f"keycloak-client-{SIGNING_DESK_CLIENT}").exists()
    enroll(env, "--user", "official", "--profile", "official", "--backend", "file", "--key-algorithm", "rsa-2048",
           "--title", "Chủ tịch", "--org-name", AGENCY)
    enroll(env, "--user", "clerk", "--profile", "organisation", "--backend", "file", "--key-algorithm", "rsa-2048",
           "--org-name", AGENCY, "--mst", "3800123456")
    password = _second_official(sso)
    server = PkiServer(env, port)
    server.authority = authority
    with server:
        yield DeskWorld(sso, env, settings, authority, server, password)


def content_disposition_name(response: requests.Response) -> str:
    """The file name of an attachment: RFC 6266 `filename*` (UTF-8) when given, else plain `filename`."""
    from urllib.parse import unquote

    header = response.headers.get("Content-Disposition", "")
    assert header.startswith("attachment"), header
    encoded = re.search(r"filename\*=UTF-8''([^;]+)", header)
    if encoded:
        return unquote(encoded.group(1))
    plain = re.search(r'filename="?([^";]+)"?', header)
    assert plain, header
    return plain.group(1)
