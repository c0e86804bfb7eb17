"""The whole platform for tests: the real `egov up` in its own session on free loopback ports, what it prints parsed
into a `Stack`, and on the way out Ctrl-C with a check that every process it started is gone.

    with running_stack(tmp_path / "egov") as stack:
        stack.urls["desk"]                 # keys: deploy.local.ENDPOINTS (ca, desk, verify, openapi, ocsp, tsa,
                                           # crl-individuals, csc, healthz, readyz, metrics, portal-dvc, keycloak, …)
        stack.users["citizen"].password    # DemoAccount(username, password, otp_secret, role)
        stack.egov("ca", "list")           # the real `egov` command against this stack's data dir
        stack.stop(); stack.start()        # Ctrl-C, then `egov up` again in the same data dir on the same ports

The first start in a fresh data dir starts Keycloak with a new database: allow minutes, not seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import ENDPOINTS
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "Sẵn sàng / ready"
START_TIMEOUT = 360.0  # a first Keycloak start on 2 busy cores, plus realms, CA and the app
STOP_TIMEOUT = 120.0
PORT_NAMES = ("app", "portal_dvc", "portal_motcua", "keycloak", "keycloak_management")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    otp_secret: str | None  # base32, for idp.otp.totp or an authenticator app; None for the VNeID citizen
    role: str  # citizen | official | clerk | auditor | vneid


@dataclass(frozen=True)
class PrintedCredential:
    credential_id: str
    serial: str
    enrolled_now: bool  # False: the run found it from an earlier run


@dataclass(frozen=True)
class ProcessInfo:
    """A process as /proc shows it; (pid, start_time) names it even after its pid is reused."""

    pid: int
    ppid: int
    session: int
    start_time: int
    command: str


def process_table() -> dict[int, ProcessInfo]:
    """Every live (non-zombie) process on the machine."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, …; starttime is the 20th
        if fields[0] in ("Z", "X"):
            continue
        pid = int(stat.parent.name)
        table[pid] = ProcessInfo(pid, int(fields[1]), int(fields[3]), int(fields[19]), command)
    return table


def descendants(root: int) -> set[ProcessInfo]:
    """`root` and every process below it (the servers it started, their workers, Keycloak's JVM)."""
    table = process_table()
    children: dict[int, list[ProcessInfo]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info)
    found, todo = set(), [table[root]] if root in table else []
    while todo:
        info = todo.pop()
        found.add(info)
        todo += children.get(info.pid, [])
    return found


@dataclass
class Stack:
    """A running `egov up`. `urls` and `users` are what it printed; `output` is everything it printed so far."""

    data_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)
    users: dict[str, DemoAccount] = field(default_factory=dict)
    startup_seconds: float = 0.0
    process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)
    _tracked: set[ProcessInfo] = field(default_factory=set, repr=False)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    @property
    def root_sha256(self) -> str:
        """The root CA's SHA-256 fingerprint as the last run printed it."""
        return re.findall(r"root SHA-256 ([0-9a-f]{64})", self.output)[-1]

    @property
    def credentials(self) -> dict[str, PrintedCredential]:
        """The demo credentials the last run printed, by username (official, clerk)."""
        found = {}
        for line in self.output.rsplit("$ egov up", 1)[-1].splitlines():
            match = re.match(r"\s+(official|clerk)\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+(mới cấp|đã có)", line)
            if match:
                found[match.group(1)] = PrintedCredential(match.group(2), match.group(3), match.group(4) == "mới cấp")
        return found

    def egov(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real `egov` command with this stack's settings (same data dir, Keycloak and public URL)."""
        env = {**os.environ, **self.env, "EGOV_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.ports['app']}"}
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)

    def processes(self) -> set[ProcessInfo]:
        """`egov up` and what runs under it now."""
        return descendants(self.process.pid) if self.process else set()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Stack:
        """Run `egov up` and wait for its ready line; fails with its output if it exits or takes too long."""
        ports = self.ports
        command = [sys.executable, "-m", "api.cli", "up", "--port", str(ports["app"]),
                   "--portal-dvc-port", str(ports["portal_dvc"]), "--portal-motcua-port", str(ports["portal_motcua"])]
        ready = threading.Event()
        began = time.monotonic()
        self._lines.append(f"$ egov up  (run at {time.strftime('%H:%M:%S')})\n")
        self.process = subprocess.Popen(
            command, env={**os.environ, **self.env}, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True,  # like a terminal's foreground job: a Ctrl-C to its group reaches only it
        )
        threading.Thread(target=self._read, args=(self.process, ready), daemon=True).start()
        deadline = began + timeout
        while not ready.wait(0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                reason = f"exited with {self.process.returncode}" if self.process.poll() is not None \
                    else f"not ready after {timeout:.0f} s"
                self.stop(check=False)
                raise AssertionError(f"egov up {reason}:\n{self.output}")
        self.startup_seconds = time.monotonic() - began
        self._parse()
        self._tracked |= self.processes()
        return self

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._lines.append(line)
            if line.startswith(READY_LINE):
                ready.set()

    def _parse(self) -> None:
        run = self.output.rsplit("$ egov up", 1)[-1]
        self.urls = {}
        for endpoint in ENDPOINTS:
            match = re.search(rf"^\s+{re.escape(endpoint.label)}\s+(http\S+)\s*$", run, re.M)
            assert match, f"egov up printed no URL for {endpoint.label!r}:\n{run}"
            self.urls[endpoint.key] = match.group(1)
        self.users = {}
        lines = run.splitlines()
        header = next(i for i, line in enumerate(lines) if "username" in line and "password" in line)
        for line in lines[header + 1:]:
            cells = re.split(r"\s{2,}", line.strip())
            if not line.startswith("  ") or line.strip().startswith("(") or len(cells) != 4:
                break
            username, password, otp, role = cells
            self.users[username] = DemoAccount(username, password, None if otp == "-" else otp,
                                               role.rsplit(" / ", 1)[-1])

    def stop(self, timeout: float = STOP_TIMEOUT, check: bool = True) -> None:
        """Ctrl-C (SIGINT to its process group), then `wait_for_exit`; with `check`, exit code 0 is required."""
        process = self.process
        if process is None:
            return
        self._tracked |= self.processes()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        code = self.wait_for_exit(timeout, check=check)
        if check:
            assert code == 0, f"egov up did not exit 0 after Ctrl-C (exit code {code}):\n{self.output[-6000:]}"

    def wait_for_exit(self, timeout: float = STOP_TIMEOUT, check: bool = True) -> int | None:
        """Wait until `egov up` ends (after `stop()`, or by itself when a child died), then kill whatever it started
        that still runs; with `check`, leftovers fail the test. Returns its exit code (None: it had to be killed)."""
        process = self.process
        if process is None:
            return None
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        time.sleep(0.2)  # let the reader take the last lines
        leftovers = self._leftovers()
        for info in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)
        if code is None:
            process.wait(timeout=30)
        self.process = None
        self._tracked = set()
        if check:
            assert code is not None, f"egov up still ran {timeout:.0f} s later (now killed):\n{self.output[-6000:]}"
            described = "\n".join(f"  {p.pid} {p.command[:160]}" for p in sorted(leftovers, key=lambda p: p.pid))
            assert not leftovers, f"still running after egov up stopped (now killed):\n{described}"
        return code

    def _leftovers(self) -> set[ProcessInfo]:
        """Tracked processes still alive, and anything alive in one of their sessions (each server has its own)."""
        names = {(p.pid, p.start_time) for p in self._tracked}
        sessions = {p.session for p in self._tracked}
        return {p for p in process_table().values() if (p.pid, p.start_time) in names or p.session in sessions}


def stack_env(data_dir: Path, ports: Mapping[str, int], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        "EGOV_DATA_DIR": str(data_dir),
        "EGOV_KEY_PASSPHRASE": "test-passphrase-not-for-production",
        "EGOV_KEYCLOAK_PORT": str(ports["keycloak"]),
        "EGOV_KEYCLOAK_MANAGEMENT_PORT": str(ports["keycloak_management"]),
        "EGOV_KEYCLOAK_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "EGOV_KEYCLOAK_START_TIMEOUT": "300",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


@contextlib.contextmanager
def running_stack(data_dir: Path, env: Mapping[str, str] | None = None, **ports: int) -> Iterator[Stack]:
    """`egov up` in `data_dir` until the block ends. Ports not given (app, portal_dvc, portal_motcua, keycloak,
    keycloak_management) are free loopback ports; `env` adds or overrides EGOV_* settings (to start again in a
    data dir used before, pass the first stack's `env`: Keycloak keeps its first admin password)."""
    unknown = set(ports) - set(PORT_NAMES)
    assert not unknown, f"unknown ports {unknown}; known: {PORT_NAMES}"
    chosen = {name: ports.get(name) or free_port() for name in PORT_NAMES}
    stack = Stack(data_dir, chosen, stack_env(data_dir, chosen, env))
    try:
        yield stack.start()
    finally:
        stack.stop()
