"""The whole platform on one machine (`egov up`): Keycloak, realms, CA, demo credentials, the app and the demo portals,
each server a child in its own process group, all stopped together."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from cryptography import x509

from deploy.keycloak.launcher import KeycloakConfig, KeycloakLauncher, log_tail, stop_process_group
from egov.settings import Settings

if TYPE_CHECKING:
    from idp.realm import DemoUser
    from signing.remote.demo import DemoCredential

Report = Callable[[str], None]
APP_READY_TIMEOUT = 90.0
PORTALS_READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class LocalPorts:
    """Where the servers `egov up` starts listen on 127.0.0.1 (Keycloak's ports come from the settings)."""

    app: int = 8080
    portal_dvc: int = 5001
    portal_motcua: int = 5002

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app}"

    @property
    def portal_dvc_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_dvc}"

    @property
    def portal_motcua_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_motcua}"


@dataclass(frozen=True)
class Endpoint:
    """One line of the table `egov up` prints: a stable key (tests parse it), a Vietnamese and an English label."""

    key: str
    vietnamese: str
    english: str
    server: str  # app | portal-dvc | portal-motcua | keycloak
    path: str

    @property
    def label(self) -> str:
        return f"{self.vietnamese} / {self.english}"


ENDPOINTS = (
    Endpoint("ca", "Trang chủ, trang CA", "home, CA page", "app", "/ca"),
    Endpoint("desk", "Bàn ký số", "signing desk", "app", "/desk/"),
    Endpoint("verify", "Kiểm tra chữ ký", "signature verification", "app", "/verify"),
    Endpoint("openapi", "Mô tả API", "API (OpenAPI)", "app", "/openapi.json"),
    Endpoint("ocsp", "Trạng thái chứng thư", "OCSP (POST, GET /ocsp/…)", "app", "/ocsp"),
    Endpoint("tsa", "Dấu thời gian", "time-stamping, RFC 3161 (POST)", "app", "/tsa"),
    Endpoint("crl-individuals", "CRL cá nhân", "CRL, individuals", "app", "/crl/individuals.crl"),
    Endpoint("crl-organizations", "CRL tổ chức", "CRL, organisations", "app", "/crl/organizations.crl"),
    Endpoint("crl-root", "CRL gốc", "CRL, root", "app", "/crl/root.crl"),
    Endpoint("csc", "Ký số từ xa", "CSC API v1 base", "app", "/csc/v1"),
    Endpoint("healthz", "Còn sống", "liveness", "app", "/healthz"),
    Endpoint("readyz", "Sẵn sàng", "readiness", "app", "/readyz"),
    Endpoint("metrics", "Số liệu", "metrics (Prometheus)", "app", "/metrics"),
    Endpoint("portal-dvc", "Cổng Dịch vụ công", "Public Service Portal (demo)", "portal-dvc", "/"),
    Endpoint("portal-motcua", "Hệ thống Một cửa", "One-Stop Shop System (demo)", "portal-motcua", "/"),
    Endpoint("keycloak", "Đăng nhập một lần", "Keycloak, realm egov", "keycloak", "/realms/egov/account"),
    Endpoint("keycloak-admin", "Quản trị Keycloak", "Keycloak admin console", "keycloak", "/admin/"),
)

# What each demo user is for, keyed by realm role (or `vneid` for the brokered citizen): Vietnamese, English.
DEMO_ROLES = {
    "citizen": ("công dân", "citizen"),
    "official": ("lãnh đạo ký văn bản", "official"),
    "clerk": ("văn thư đóng dấu", "clerk"),
    "auditor": ("kiểm tra nhật ký", "auditor"),
    "vneid": ("công dân qua VNeID", "vneid"),
}


def endpoint_urls(settings: Settings, ports: LocalPorts) -> list[tuple[Endpoint, str]]:
    bases = {"app": settings.public_base_url, "portal-dvc": ports.portal_dvc_url,
             "portal-motcua": ports.portal_motcua_url, "keycloak": settings.keycloak_url}
    return [(endpoint, bases[endpoint.server] + endpoint.path) for endpoint in ENDPOINTS]


class StackError(RuntimeError):
    """`egov up` cannot go on: a port is taken, a server did not start, or a child died; the message says which."""


class ChildExited(StackError):
    """A server we started stopped by itself."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of a GET (redirects not followed), or None when nothing answers."""
    try:
        return requests.get(url, allow_redirects=False, timeout=timeout).status_code
    except requests.RequestException:
        return None


def published_base(certificate: x509.Certificate) -> str | None:
    """The base URL a CA certificate's CRL distribution point was issued for (`…/crl/x.crl` → `…`)."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return None
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and "/crl/" in name.value:
                return name.value.rsplit("/crl/", 1)[0]
    return None


class ChildServer:
    """One server we run as `python -m api.cli …` in its own session (so its process group is all of it and a
    Ctrl-C in the terminal reaches only us), its output in a log file."""

    def __init__(self, name: str, arguments: list[str], environment: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.arguments = arguments
        self.environment = environment
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *self.arguments], env=self.environment,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        """None while it runs."""
        return None if self.process is None else self.process.poll()

    def log_tail(self) -> str:
        return log_tail(self.log_path, f"{self.name}: {self.log_path}")

    def check_alive(self) -> None:
        code = self.exit_code()
        if code is not None:
            raise ChildExited(f"{self.name} đã dừng bất ngờ / stopped unexpectedly (exit code {code})\n"
                              f"{self.log_tail()}")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(0.25)
        raise StackError(f"{self.name}: {what} không sẵn sàng sau / not ready after {timeout:.0f} s\n"
                         f"{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the whole group (gunicorn's workers too), wait, SIGKILL what will not go."""
        if self.process is not None:
            stop_process_group(self.process.pid, timeout)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)


@dataclass
class StartedStack:
    """What `egov up` made or found, for the table it prints."""

    ca_created: int = 0
    root_sha256: str = ""
    exported_to: Path | None = None
    credentials: list[DemoCredential] = field(default_factory=list)
    demo_users: tuple[DemoUser, ...] = ()


class LocalStack:
    """Starts the platform step by step, watches what it started, and stops exactly that (in reverse order)."""

    def __init__(self, settings: Settings, ports: LocalPorts, report: Report, actor: str) -> None:
        self.settings = settings
        self.ports = ports
        self.report = report
        self.actor = actor
        self.launcher = KeycloakLauncher(KeycloakConfig.from_settings(settings))
        self.logs = settings.data_dir / "logs"
        self.started = StartedStack()
        self._children: list[ChildServer] = []
        self._our_keycloak = False

    # -- start ----------------------------------------------------------------------------------------------------

    def start(self) -> StartedStack:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        self._start_keycloak()
        self._apply_realms()
        self._set_up_ca()
        self._enroll_demo_credentials()
        self._start_app()
        self._start_portals()
        return self.started

    def _check_ports(self) -> None:
        wanted = {"app": self.ports.app, "portal-dvc": self.ports.portal_dvc,
                  "portal-motcua": self.ports.portal_motcua}
        if not self.launcher.status().running:
            wanted |= {"Keycloak": self.settings.keycloak_port,
                       "Keycloak management": self.settings.keycloak_management_port}
        if len(set(wanted.values())) < len(wanted):
            raise StackError(f"hai dịch vụ cùng một cổng / two servers on one port: {wanted}")
        busy = [f"{name} :{port}" for name, port in wanted.items() if port_in_use(port)]
        if busy:
            raise StackError("cổng đang bận / ports in use: " + ", ".join(busy)
                             + " (egov up đang chạy? / is egov up already running? see --port, --portal-*-port, "
                               "EGOV_KEYCLOAK_PORT, EGOV_KEYCLOAK_MANAGEMENT_PORT)")

    def _start_keycloak(self) -> None:
        launcher, config = self.launcher, self.launcher.config
        current = launcher.status()
        if current.ready:
            self.report(f"Keycloak: đang chạy, dùng lại / already running, reused (pid {current.pid})")
            return
        if current.running:
            self.report(f"Keycloak: đang khởi động, chờ / starting already, waiting ({config.ready_url})")
            launcher.wait_ready()
            return
        if not (config.home / ".egov-built").exists():
            self.report(f"Keycloak {config.version}: đang tải và dựng (một lần, ~170 MB) / fetching with mvn and "
                        f"building once into {config.cache_dir} …")
            launcher.ensure_distribution()
        self.report(f"Keycloak: đang khởi động / starting on {config.url}, chờ sẵn sàng / waiting for "
                    f"{config.ready_url} (log: {config.log_file}) …")
        self._our_keycloak = True  # before start(): a Ctrl-C while waiting must still stop it
        began = time.monotonic()
        launcher.start()
        self.report(f"Keycloak: sẵn sàng / ready after {time.monotonic() - began:.0f} s")

    def _apply_realms(self) -> None:
        from api.cli.idp import realm_plan
        from idp.realm import admin_client, apply_realms

        settings = self.settings
        self.report("Realm egov, vneid: đang áp dụng / applying …")
        plan = realm_plan(settings, self.ports.portal_dvc_url, self.ports.portal_motcua_url,
                          f"{settings.public_base_url}/desk")
        admin = admin_client(settings.keycloak_url, settings.keycloak_admin, settings.keycloak_admin_secret(),
                             "master")
        applied = apply_realms(plan, admin)
        if applied.created:
            self.report(f"Realm: đã tạo / created {', '.join(applied.created)}")
        if applied.updated:
            self.report(f"Realm: đã có, cập nhật / updated {', '.join(applied.updated)}")
        self.started.demo_users = applied.demo_users

    def _set_up_ca(self) -> None:
        from ca.authority import CertificateAuthority

        authority = CertificateAuthority(self.settings)
        created = authority.init_hierarchy(self.actor)
        self.started.ca_created = len(created)
        self.started.root_sha256 = authority.require_role("root").sha256
        exported = authority.export(self.settings.data_dir / "public")
        self.started.exported_to = exported[0].parent
        published = published_base(authority.require_role("issuing-individuals").certificate)
        if published and published != self.settings.public_base_url:
            self.report(f"Cảnh báo / warning: chứng thư CA trỏ tới / the CA certificates point at {published} "
                        f"(OCSP, CRL): chạy lại với cổng lần đầu / run again on that first port (--port)")

    def _enroll_demo_credentials(self) -> None:
        from ca.authority import CertificateAuthority
        from signing.remote.demo import ensure_demo_credentials
        from signing.remote.directory import KeycloakDirectory

        authority = CertificateAuthority(self.settings)
        directory = KeycloakDirectory.for_settings(self.settings)
        self.started.credentials = ensure_demo_credentials(authority, directory, self.actor)

    def _child_environment(self) -> dict[str, str]:
        # The children read the same settings; these two must agree with ours whatever the caller's environment.
        return {**os.environ, "EGOV_DATA_DIR": str(self.settings.data_dir),
                "EGOV_PUBLIC_BASE_URL": self.settings.public_base_url, "PYTHONUNBUFFERED": "1"}

    def _start_app(self) -> None:
        url = self.settings.public_base_url
        self.report(f"Ứng dụng / app: đang khởi động / starting gunicorn on {self.ports.app_url}, chờ / waiting for "
                    f"/readyz (log: {self.logs / 'app.log'}) …")
        app = ChildServer("egov serve", ["serve", "--host", "127.0.0.1", "--port", str(self.ports.app)],
                          self._child_environment(), self.logs / "app.log").start()
        self._children.append(app)
        app.wait_until(lambda: http_status(f"{self.ports.app_url}/readyz") == 200, APP_READY_TIMEOUT,
                       f"{url}/readyz")

    def _start_portals(self) -> None:
        ports = self.ports
        self.report(f"Cổng demo / demo portals: đang khởi động / starting on :{ports.portal_dvc}, "
                    f":{ports.portal_motcua} …")
        portals = ChildServer(
            "egov idp portals",
            ["idp", "portals", "--portal-dvc", ports.portal_dvc_url, "--portal-motcua", ports.portal_motcua_url],
            self._child_environment(), self.logs / "portals.log",
        ).start()
        self._children.append(portals)
        portals.wait_until(
            lambda: all(http_status(f"{u}/") == 200 for u in (ports.portal_dvc_url, ports.portal_motcua_url)),
            PORTALS_READY_TIMEOUT, "portals")

    # -- run and stop ---------------------------------------------------------------------------------------------

    def supervise(self, interval: float = 0.5) -> None:
        """Block until a child stops by itself (raises ChildExited); a signal ends the wait from outside."""
        while True:
            for child in self._children:
                child.check_alive()
            if self.launcher.pid() is None:
                raise ChildExited(f"Keycloak đã dừng bất ngờ / stopped unexpectedly\n{self.launcher.log_tail()}")
            time.sleep(interval)

    def stop(self) -> None:
        """Stop what we started, newest first; Keycloak only if we started it."""
        for child in reversed(self._children):
            self.report(f"Đang dừng / stopping {child.name} (pid {child.pid}) …")
            child.stop()
        self._children.clear()
        if self._our_keycloak:
            self.report("Đang dừng / stopping Keycloak …")
            self.launcher.stop()
            self._our_keycloak = False


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM ends `egov up` the way Ctrl-C does: as a KeyboardInterrupt that unwinds and stops the children.
    SIGINT is set too: a shell starting us in the background without job control leaves it ignored."""
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """While stopping: a second Ctrl-C must not leave half the children running."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

