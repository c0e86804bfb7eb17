"""The Keycloak launcher: JDK choice, HTTPS fetch with checksum, status, and a start after a crash."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import signal
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from deploy.keycloak import launcher as launcher_module
from deploy.keycloak.launcher import KeycloakConfig, KeycloakError, KeycloakLauncher, _artifact_path, find_java
from tests.support.sso import SsoWorld, run_egov

FAKE_VERSION = "26.99.0-test"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_newest_jdk_of_at_least_17_is_chosen():
    chosen = find_java()
    majors = {home: launcher_module._java_major(home) for home in Path("/usr/lib/jvm").iterdir()}
    assert launcher_module._java_major(chosen) == max(m for m in majors.values() if m)
    assert launcher_module._java_major(chosen) >= 17


@pytest.fixture
def repository(tmp_path: Path):
    """A Maven-layout repository on loopback holding a tiny stand-in distribution and its .sha1."""
    root = tmp_path / "repo"
    artifact = root / _artifact_path(FAKE_VERSION)
    artifact.parent.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"keycloak-{FAKE_VERSION}/bin/kc.sh")
        script = b"#!/bin/sh\nexit 0\n"
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    artifact.write_bytes(buffer.getvalue())
    Path(f"{artifact}.sha1").write_text(hashlib.sha1(buffer.getvalue()).hexdigest())
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fake_launcher(tmp_path: Path, url: str) -> KeycloakLauncher:
    return KeycloakLauncher(KeycloakConfig(version=FAKE_VERSION, http_port=1, management_port=2,
                                           state_dir=tmp_path / "state", cache_dir=tmp_path / "cache",
                                           maven_repository=url))


def test_without_maven_the_artifact_comes_over_https_and_its_checksum_is_verified(
        tmp_path: Path, repository, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(launcher_module.shutil, "which", lambda name: None)
    archive = fake_launcher(tmp_path, repository[1])._fetch_archive()
    assert archive.read_bytes() == (repository[0] / _artifact_path(FAKE_VERSION)).read_bytes()


def test_an_archive_that_does_not_match_the_published_checksum_is_refused_and_removed(
        tmp_path: Path, repository, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(launcher_module.shutil, "which", lambda name: None)
    sha1 = repository[0] / (_artifact_path(FAKE_VERSION) + ".sha1")
    sha1.write_text("0" * 40 + "  keycloak-quarkus-dist.tar.gz\n")
    with pytest.raises(KeycloakError, match="checksum mismatch"):
        fake_launcher(tmp_path, repository[1])._fetch_archive()
    assert not list((tmp_path / "cache").rglob("*.tar.gz"))


@pytest.mark.keycloak
def test_status_says_ready_with_health_on_the_management_port(sso: SsoWorld):
    result = run_egov(sso.env, "idp", "status")
    assert result.returncode == 0 and "ready" in result.stdout
    config = sso.launcher.config
    assert requests.get(config.ready_url, timeout=5).status_code == 200
    assert config.ready_url.startswith(f"http://127.0.0.1:{config.management_port}/")


@pytest.mark.keycloak
def test_a_crash_and_a_stale_h2_lock_do_not_stop_the_next_start(sso: SsoWorld):
    launcher = sso.launcher
    pid = launcher.status().pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # a crash: no clean shutdown
    while launcher._alive(pid):
        time.sleep(0.1)
    stale = launcher.config.h2_dir / "keycloakdb.lock.db"
    stale.write_text("#FileLock\nid=stale\nmethod=file\n")
    assert run_egov(sso.env, "idp", "status").returncode == 3

    started = run_egov(sso.env, "idp", "up")
    assert started.returncode == 0, started.stderr
    assert not stale.exists()
    assert sso.admin().get_realm("egov")["browserFlow"] == "browser-loa"  # the dev-file database survived


def test_keycloak_settings_have_safe_defaults_and_refuse_bad_values(tmp_path: Path):
    from egov.settings import Settings, SettingsError

    settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path)})
    assert settings.keycloak_url == "http://localhost:8180" and settings.keycloak_version.startswith("26.")
    assert "keycloak_admin_password" not in repr(settings)
    secret = settings.keycloak_admin_secret()
    assert secret == Settings.from_env({"EGOV_DATA_DIR": str(tmp_path)}).keycloak_admin_secret()  # kept
    assert (tmp_path / "secrets" / "keycloak-admin-password").stat().st_mode & 0o077 == 0
    assert Settings.from_env({"EGOV_KEYCLOAK_PORT": "9000"}).keycloak_url == "http://localhost:9000"
    for bad in ({"EGOV_KEYCLOAK_VERSION": "25.0.6"}, {"EGOV_KEYCLOAK_URL": "localhost:8180"},
                {"EGOV_KEYCLOAK_PORT": "http"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)
