"""The real web server for tests: `egov serve` in a subprocess on a free loopback port, stopped afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.settings import Settings, reset_settings
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


class PkiServer:
    """`egov serve` (gunicorn, several workers) with the given EGOV_* environment.

    `url` is what the certificates' AIA and CDP URLs point at when the CA was initialised with
    EGOV_PUBLIC_BASE_URL set to it (the `pki_server` fixture does that). `certs` holds the CA certificates as
    PEM (`root.pem`, `issuing-individuals.pem`, `tsa.pem`, `ocsp-individuals.pem`, `chain-individuals.pem`, …).
    """

    def __init__(
        self, env: dict[str, str], port: int | None = None, workers: int = 2, log_dir: Path | None = None
    ) -> None:
        self.env = dict(env)
        self.port = port or free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = (log_dir or Path(self.env["EGOV_DATA_DIR"])) / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.authority: CertificateAuthority | None = None
        self.certs: Path = Path(self.env["EGOV_DATA_DIR"]) / "public"

    @property
    def ocsp_url(self) -> str:
        return f"{self.url}/ocsp"

    @property
    def tsa_url(self) -> str:
        return f"{self.url}/tsa"

    def crl_url(self, slug: str = "individuals") -> str:
        return f"{self.url}/crl/{slug}.crl"

    def start(self, timeout: float = 60) -> PkiServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env={**os.environ, **self.env}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops every worker
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"egov serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                # /readyz also wants Keycloak; the PKI endpoints need only the database and the CA.
                if requests.get(f"{self.url}/ca/root.crt", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"egov serve did not become ready in {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def egov(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run the real `egov` command with this server's settings (e.g. `egov ca revoke …`)."""
        result = subprocess.run([sys.executable, "-m", "api.cli", *args], env={**os.environ, **self.env},
                                capture_output=True, text=True, cwd=REPO, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"egov {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> PkiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_pki_server(env: dict[str, str], workers: int = 2) -> PkiServer:
    """Point EGOV_PUBLIC_BASE_URL in `env` at a free loopback port, initialise the CA there (so the certificates'
    AIA and CDP URLs lead to this server), export the CA certificates, and start `egov serve` on that port."""
    port = free_port()
    env["EGOV_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    reset_settings()
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("test:setup")
    server = PkiServer(env, port, workers=workers)
    server.authority = authority
    authority.export(server.certs)
    return server.start()
