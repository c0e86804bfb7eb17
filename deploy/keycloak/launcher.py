"""The Keycloak launcher: fetch the pinned distribution from Maven Central, verify it, run it on loopback, stop it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from egov.settings import Settings

ARTIFACT = "org.keycloak:keycloak-quarkus-dist"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MINIMUM_JAVA = 17
# Options baked into the optimized server image by `kc.sh build`; `start --optimized` must not repeat them.
BUILD_OPTIONS = ("--db=dev-file", "--health-enabled=true")
LOG_TAIL_LINES = 80


class KeycloakError(RuntimeError):
    """The launcher could not fetch, start or stop Keycloak; the message says why (with the log tail if any)."""


@dataclass(frozen=True)
class KeycloakConfig:
    """Where and how one Keycloak instance runs: its ports, its state directory, the shared distribution cache."""

    version: str
    http_port: int
    management_port: int
    state_dir: Path
    cache_dir: Path
    admin_user: str = "admin"
    admin_password: str = field(default="", repr=False)
    java_home: str = ""
    start_timeout: float = 180.0
    maven_repository: str = "https://repo.maven.apache.org/maven2"

    @classmethod
    def from_settings(cls, settings: Settings) -> KeycloakConfig:
        return cls(
            version=settings.keycloak_version,
            http_port=settings.keycloak_port,
            management_port=settings.keycloak_management_port,
            state_dir=settings.data_dir / "keycloak",
            cache_dir=settings.keycloak_cache_dir,
            admin_user=settings.keycloak_admin,
            admin_password=settings.keycloak_admin_secret(),
            java_home=settings.java_home,
            start_timeout=float(settings.keycloak_start_timeout),
            maven_repository=settings.maven_repository,
        )

    @property
    def url(self) -> str:
        """The one host name used everywhere: `iss`, form actions and cookies all follow it."""
        return f"http://localhost:{self.http_port}"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/health/ready"

    @property
    def home(self) -> Path:
        return self.cache_dir / self.version / f"keycloak-{self.version}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "keycloak.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "keycloak.log"

    @property
    def h2_dir(self) -> Path:
        return self.state_dir / "data" / "h2"


@dataclass(frozen=True)
class KeycloakStatus:
    running: bool
    ready: bool
    pid: int | None
    url: str


def _artifact_path(version: str) -> str:
    return f"org/keycloak/keycloak-quarkus-dist/{version}/keycloak-quarkus-dist-{version}.tar.gz"


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 - Maven Central publishes SHA-1 next to every artifact
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _published_sha1(text: str) -> str:
    match = re.match(r"\s*([0-9a-fA-F]{40})\b", text)
    if not match:
        raise KeycloakError(f"the published checksum is not a SHA-1: {text[:80]!r}")
    return match.group(1).lower()


def _download(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:  # noqa: S310 - https only
        shutil.copyfileobj(response, out, 1 << 20)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time fetches and builds into the shared cache (tests and CI share it on one machine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_java(preferred: str = "") -> Path:
    """JAVA_HOME of the newest JDK >= 17 on this machine (or the one configured), Keycloak 26 recommends 21+."""
    candidates: list[Path] = [Path(preferred)] if preferred else []
    if not preferred:
        for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm")):
            if root.is_dir():
                candidates += sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        if os.environ.get("JAVA_HOME"):
            candidates.append(Path(os.environ["JAVA_HOME"]))
    best: tuple[int, Path] | None = None
    for home in candidates:
        major = _java_major(home)
        if major is not None and major >= MINIMUM_JAVA and (best is None or major > best[0]):
            best = (major, home)
    if best is None:
        wanted = preferred or "/usr/lib/jvm/*"
        raise KeycloakError(f"no JDK >= {MINIMUM_JAVA} found ({wanted}); install one (scripts/bootstrap does)")
    return best[1]


def _java_major(home: Path) -> int | None:
    if not (home / "bin" / "java").exists():
        return None
    release = home / "release"
    text = release.read_text(errors="replace") if release.exists() else ""
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.M)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def process_group_alive(group: int) -> bool:
    """Whether any process of process group `group` still runs, zombies aside (a group leader's children too)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(group) and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            return True
    return False


def stop_process_group(group: int, timeout: float = 60.0) -> None:
    """SIGTERM the whole group and wait until every process of it is gone; SIGKILL what will not go."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(group, os.WNOHANG)  # reap the leader if it is our child
            if not process_group_alive(group):
                return
            time.sleep(0.1)


def log_tail(path: Path, title: str, lines: int = LOG_TAIL_LINES) -> str:
    """The end of a server's log, for error messages."""
    if not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join([f"--- {title} (tail) ---", *text[-lines:]])


class KeycloakLauncher:
    """Fetches, starts, checks and stops one Keycloak instance described by a `KeycloakConfig`."""

    def __init__(self, config: KeycloakConfig) -> None:
        self.config = config

    # -- distribution ---------------------------------------------------------------------------------------------

    def ensure_distribution(self) -> Path:
        """The unpacked, built distribution in the cache; fetched and verified first if missing."""
        config = self.config
        home = config.home
        marker = home / ".egov-built"
        if marker.exists():
            return home
        with _locked(config.cache_dir / ".lock"):
            if marker.exists():
                return home
            archive = self._fetch_archive()
            self._unpack(archive, home)
            self._build(home)
            marker.write_text(" ".join(BUILD_OPTIONS) + "\n")
        return home

    def _fetch_archive(self) -> Path:
        config = self.config
        downloads = config.cache_dir / config.version
        downloads.mkdir(parents=True, exist_ok=True)
        archive = downloads / f"keycloak-quarkus-dist-{config.version}.tar.gz"
        checksum_url = f"{config.maven_repository}/{_artifact_path(config.version)}.sha1"
        if not archive.exists():
            if shutil.which("mvn"):
                self._fetch_with_maven(downloads)
            else:
                self._fetch_over_https(archive)
        expected = self._expected_sha1(checksum_url)
        actual = _sha1(archive)
        if actual != expected:
            archive.unlink()
            raise KeycloakError(f"checksum mismatch for {archive.name}: published {expected}, got {actual}; removed")
        return archive

    def _fetch_with_maven(self, downloads: Path) -> None:
        config = self.config
        command = [
            "mvn", "-B", "-q", "-C", f"{DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={ARTIFACT}:{config.version}:tar.gz", f"-DoutputDirectory={downloads}",
        ]
        if config.maven_repository != "https://repo.maven.apache.org/maven2":
            command.append(f"-DremoteRepositories=egov::default::{config.maven_repository}")
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise KeycloakError(f"mvn could not fetch {ARTIFACT}:{config.version}:\n{result.stdout}\n{result.stderr}")

    def _fetch_over_https(self, archive: Path) -> None:
        url = f"{self.config.maven_repository}/{_artifact_path(self.config.version)}"
        partial = archive.with_suffix(".part")
        try:
            _download(url, partial)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise KeycloakError(f"could not download {url}: {exc}") from exc
        partial.rename(archive)

    def _expected_sha1(self, checksum_url: str) -> str:
        local = Path.home() / ".m2" / "repository" / (_artifact_path(self.config.version) + ".sha1")
        if local.exists():
            return _published_sha1(local.read_text())
        try:
            with urllib.request.urlopen(checksum_url, timeout=60) as response:  # noqa: S310 - https only
                return _published_sha1(response.read().decode("ascii", "replace"))
        except OSError as exc:
            raise KeycloakError(f"could not fetch the published checksum {checksum_url}: {exc}") from exc

    @staticmethod
    def _unpack(archive: Path, home: Path) -> None:
        if home.exists():
            shutil.rmtree(home)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=home.parent))
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="tar")  # keeps the execute bits, refuses paths outside
            (staging / home.name).rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _build(self, home: Path) -> None:
        result = subprocess.run(
            [str(home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS], env=self._environment(),
            capture_output=True, text=True, timeout=900,
        )
        if result.returncode != 0:
            raise KeycloakError(f"kc.sh build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")

    # -- process --------------------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_", "JAVA_OPTS"))}
        environment["JAVA_HOME"] = str(find_java(self.config.java_home))
        return environment

    def start(self) -> KeycloakStatus:
        """Start Keycloak in the background and wait until it is ready; the log tail is in the error on failure."""
        config = self.config
        current = self.status()
        if current.running:
            if not current.ready:
                self.wait_ready()
            return self.status()
        home = self.ensure_distribution()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        (config.state_dir / "tmp").mkdir(exist_ok=True)
        self._clear_stale_locks()
        environment = self._environment()
        # The dev-file database lives in this instance's state dir, not in the shared distribution.
        environment["JAVA_OPTS_APPEND"] = f"-Dkc.db-url-path={config.state_dir} -Djava.io.tmpdir={config.state_dir}/tmp"
        environment["KC_BOOTSTRAP_ADMIN_USERNAME"] = config.admin_user
        environment["KC_BOOTSTRAP_ADMIN_PASSWORD"] = config.admin_password
        command = [
            str(home / "bin" / "kc.sh"), "start", "--optimized", "--http-enabled=true",
            "--http-host=127.0.0.1", f"--http-port={config.http_port}", f"--hostname={config.url}",
            f"--http-management-port={config.management_port}", "--cache=local",
        ]
        with config.log_file.open("ab") as log:
            process = subprocess.Popen(
                command, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=config.state_dir,
            )
        config.pid_file.write_text(str(process.pid))
        try:
            self.wait_ready(process)
        except KeycloakError:
            self.stop()
            raise
        return self.status()

    def wait_ready(self, process: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise KeycloakError(f"Keycloak exited with code {process.returncode}\n{self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.5)
        raise KeycloakError(f"Keycloak not ready after {self.config.start_timeout:.0f} s\n{self.log_tail()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.config.ready_url, timeout=2) as response:  # noqa: S310 - loopback
                return response.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.config.log_file, "Keycloak log", lines)

    def _pid(self) -> int | None:
        """Our Keycloak's pid, only if that process is alive and really is our Keycloak (pids get reused)."""
        try:
            pid = int(self.config.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        if "keycloak" not in cmdline or f"--http-port={self.config.http_port}" not in cmdline:
            return None
        return pid

    def pid(self) -> int | None:
        """Our Keycloak's process (group) id while it runs; unlike `status`, no readiness request."""
        return self._pid()

    def status(self) -> KeycloakStatus:
        pid = self._pid()
        return KeycloakStatus(running=pid is not None, ready=pid is not None and self._ready(), pid=pid,
                              url=self.config.url)

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM our process group and wait; SIGKILL only if it will not go. False when nothing was running."""
        pid = self._pid()
        if pid is None:
            self.config.pid_file.unlink(missing_ok=True)
            return False
        stop_process_group(pid, timeout)
        self.config.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _alive(group: int) -> bool:
        """Whether any process of the group led by `group` still runs (kc.sh forks the JVM: both must be gone)."""
        with contextlib.suppress(ChildProcessError):
            os.waitpid(group, os.WNOHANG)  # reap kc.sh if we started it in this process
        return process_group_alive(group)

    def _clear_stale_locks(self) -> None:
        """A crash leaves data/h2/*.lock.db behind and the next start then fails; nobody else uses our state dir."""
        if self._pid() is not None:
            return
        for lock in self.config.h2_dir.glob("*.lock.db"):
            lock.unlink(missing_ok=True)
