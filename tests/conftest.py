"""Shared fixtures: settings over a temporary data dir, the database on SQLite and a real PostgreSQL, a real
SoftHSM2 token, an initialised CA, and a runner for the real `egov` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ca.authority import CertificateAuthority
from egov.db import Database, forget_databases, get_database
from egov.settings import Settings, reset_settings
from tests.support.postgres import PostgresServer, shared_server, stop_shared_server
from tests.support.server import PkiServer, start_pki_server
from tests.support.softhsm import SoftHsmToken, create_token
from tests.support.sso import SsoWorld, running_sso

REPO = Path(__file__).resolve().parent.parent
TEST_PASSPHRASE = "test-passphrase-not-for-production"


@pytest.fixture(scope="session")
def softhsm() -> SoftHsmToken:
    return create_token()


@pytest.fixture(scope="session")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoWorld]:
    """One real Keycloak for the whole test session (started and stopped through `egov idp`), realms applied, and
    both demo portals serving on free loopback ports so Keycloak can call their back-channel logout endpoints."""
    with running_sso(tmp_path_factory.mktemp("sso")) as world:
        yield world


# Where the service-level tests keep their data: `--egov-database=postgres` (the suite's second pass in
# scripts/test) gives every data dir made by `settings_env_for` its own database on a real PostgreSQL.
SERVICE_DATABASE = {"kind": "sqlite"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--egov-database", choices=("sqlite", "postgres"), default="sqlite",
                     help="database of the servers the tests start: SQLite (default) or a real PostgreSQL")


def pytest_configure(config: pytest.Config) -> None:
    SERVICE_DATABASE["kind"] = config.getoption("--egov-database")


def pytest_report_header(config: pytest.Config) -> str:
    return f"egov-trust service database: {config.getoption('--egov-database')}"


def pytest_unconfigure(config: pytest.Config) -> None:
    forget_databases()
    stop_shared_server()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster (Debian's binaries, installed by scripts/bootstrap), shared by the session."""
    yield shared_server()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs twice: on the SQLite default and on a real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'egov.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    with server.fresh_database() as url:
        yield url
        forget_databases()


@pytest.fixture
def settings_env(tmp_path: Path, softhsm: SoftHsmToken) -> dict[str, str]:
    """The EGOV_* environment of one test: its own data dir, SQLite, file keys, the session's SoftHSM token."""
    return settings_env_for(tmp_path / "data", softhsm)


def settings_env_for(data_dir: Path, softhsm: SoftHsmToken) -> dict[str, str]:
    """The EGOV_* environment over `data_dir` (for fixtures of a wider scope than one test); in the PostgreSQL
    pass its database is a fresh one on the shared cluster instead of SQLite in the data dir."""
    env = {
        "EGOV_DATA_DIR": str(data_dir),
        "EGOV_KEY_PASSPHRASE": TEST_PASSPHRASE,
        "EGOV_PKCS11_MODULE": softhsm.module,
        "EGOV_PKCS11_TOKEN": softhsm.label,
        "EGOV_PKCS11_PIN": softhsm.pin,
        "EGOV_PUBLIC_BASE_URL": "http://127.0.0.1:8080",
    }
    if SERVICE_DATABASE["kind"] == "postgres":
        env["EGOV_DATABASE_URL"] = shared_server().create_database()
    return env


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return Settings.from_env(settings_env)


@pytest.fixture
def authority(settings_env: dict[str, str], database_url: str) -> CertificateAuthority:
    """An initialised CA (root, issuing CAs, TSA, OCSP responders) on SQLite and on PostgreSQL."""
    settings_env["EGOV_DATABASE_URL"] = database_url
    settings = Settings.from_env(settings_env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("test:setup")
    return authority


@pytest.fixture
def sqlite_authority(settings: Settings) -> CertificateAuthority:
    """An initialised CA on the SQLite default only (for tests whose subject is not the database)."""
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("test:setup")
    return authority


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


EgovRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def egov(settings_env: dict[str, str]) -> EgovRunner:
    """Run the real `egov` command in a subprocess with this test's settings."""

    def run(*args: str, check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **settings_env, **(env or {})}
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", *args], env=environment, capture_output=True, text=True,
            cwd=REPO, timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"egov {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def pki_server(settings_env: dict[str, str]) -> Iterator[PkiServer]:
    """The real `egov serve` on a free loopback port over an initialised CA whose certificates' AIA (OCSP,
    caIssuers) and CDP URLs point at it; CA certificates as PEM in `pki_server.certs`. Stopped afterwards.
    Sets EGOV_PUBLIC_BASE_URL in `settings_env`, so the `egov` fixture and settings built later agree."""
    server = start_pki_server(settings_env)
    try:
        yield server
    finally:
        server.stop()


def database_of(authority: CertificateAuthority) -> Database:
    return authority.database
