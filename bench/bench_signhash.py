"""signHash over HTTP (`egov serve`) against the raw signing operation of the same key, for a file key and a SoftHSM
key: latency p50/p99 of one caller, and throughput of several callers.

    .venv/bin/python bench/bench_signhash.py [--calls 300] [--clients 4] [--workers 2]

Each signHash carries one SHA-256 hash covered by a SAD (authorized beforehand, 100 hashes per SAD, not timed),
with a Bearer token checked on every call, the guarded use-counter update, the certificate-status read, the
account lookup at the identity provider and the audit record — all in the measured time. The identity provider
here is a stub on loopback (JWKS, the directory's token, `GET /admin/realms/egov/users/{id}`), so Keycloak's own
time for the account lookup is not in the figures. The raw operation is `SigningKey.sign_digest` in this process,
on the same key, in the same run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ca.authority import CertificateAuthority  # noqa: E402
from ca.keys import SignatureScheme  # noqa: E402
from egov.db import get_database  # noqa: E402
from egov.settings import Settings  # noqa: E402
from signing.remote.directory import DirectoryUser  # noqa: E402
from signing.remote.enrollment import EnrolmentRequest, enroll  # noqa: E402
from tests.support.postgres import free_port  # noqa: E402
from tests.support.server import PkiServer  # noqa: E402
from tests.support.softhsm import create_token  # noqa: E402

SHA256_RSA = "1.2.840.113549.1.1.11"
USER = DirectoryUser(str(uuid.uuid4()), "official", "Bình", "Trần Thị", "001085000002", True, frozenset({"official"}))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdentityProviderStub:
    """Just enough of Keycloak on loopback: realm egov's JWKS, the directory's token, and the user (enabled)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(65537, 2048)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        numbers = self.key.public_key().public_numbers()
        jwks = {"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig",
                          "n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))}]}
        answers = {
            "/realms/egov/protocol/openid-connect/certs": jwks,
            "/realms/egov/protocol/openid-connect/token": {"access_token": "directory", "expires_in": 3600},
            f"/admin/realms/egov/users/{USER.subject}": {"id": USER.subject, "username": USER.username,
                                                         "enabled": True},
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 65536  # headers and body in one segment: no delayed-ACK stall on keep-alive
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps(answers.get(self.path.split("?")[0], {})).encode()
                self.send_response(200 if self.path.split("?")[0] in answers else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "bench"}
        claims = {"iss": f"{self.url}/realms/egov", "aud": "egov-api", "sub": USER.subject, "typ": "Bearer",
                  "iat": now, "exp": now + 3600, "auth_time": now, "acr": "loa2", "preferred_username": "official",
                  "realm_access": {"roles": ["official"]}}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def stop(self) -> None:
        self.server.shutdown()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_figures(key: object, calls: int) -> tuple[float, float, float]:
    scheme = SignatureScheme("sha256")
    digests = [hashlib.sha256(str(n).encode()).digest() for n in range(calls)]
    latencies = []
    for digest in digests:
        start = time.perf_counter()
        key.sign_digest(digest, scheme)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - start)
    return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, 1 / statistics.mean(latencies)


class SignHashLoad:
    def __init__(self, url: str, credential: str, token: str) -> None:
        self.url = url
        self.credential = credential
        self.headers = {"Authorization": f"Bearer {token}"}
        self.local = threading.local()

    def _http(self) -> requests.Session:
        if not hasattr(self.local, "http"):
            self.local.http = requests.Session()
        return self.local.http

    def prepare(self, count: int, tag: str) -> list[tuple[str, str]]:
        """(SAD, hash) pairs: SADs of up to 100 hashes each, authorized now (not timed)."""
        work = []
        hashes_b64 = [base64.b64encode(hashlib.sha256(f"{tag}-{n}".encode()).digest()).decode() for n in range(count)]
        for start in range(0, count, 100):
            chunk = hashes_b64[start:start + 100]
            answer = self._http().post(f"{self.url}/csc/v1/credentials/authorize", headers=self.headers, timeout=60,
                                       json={"credentialID": self.credential, "numSignatures": len(chunk),
                                             "hash": chunk})
            answer.raise_for_status()
            work.extend((answer.json()["SAD"], h) for h in chunk)
        return work

    def sign(self, item: tuple[str, str]) -> float:
        sad, hashed = item
        start = time.perf_counter()
        answer = self._http().post(f"{self.url}/csc/v1/signatures/signHash", headers=self.headers, timeout=60,
                                   json={"credentialID": self.credential, "SAD": sad, "hash": [hashed],
                                         "signAlgo": SHA256_RSA})
        elapsed = time.perf_counter() - start
        if answer.status_code != 200:
            raise RuntimeError(f"signHash failed: {answer.status_code} {answer.text}")
        return elapsed

    def latency(self, calls: int) -> tuple[float, float]:
        latencies = [self.sign(item) for item in self.prepare(calls, f"latency-{time.time()}")]
        return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000

    def throughput(self, calls: int, clients: int) -> float:
        work = self.prepare(calls, f"throughput-{time.time()}")
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(self.sign, work))
        return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    idp = IdentityProviderStub()
    softhsm = create_token(label="egov-bench")
    data_dir = Path(tempfile.mkdtemp(prefix="egov-bench-signhash-"))
    port = free_port()
    env = {
        "EGOV_DATA_DIR": str(data_dir), "EGOV_KEY_PASSPHRASE": "bench-passphrase",
        "EGOV_PKCS11_MODULE": softhsm.module, "EGOV_PKCS11_TOKEN": softhsm.label, "EGOV_PKCS11_PIN": softhsm.pin,
        "EGOV_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "EGOV_KEYCLOAK_URL": idp.url,
        "EGOV_KEYCLOAK_DIRECTORY_SECRET": "stub", "EGOV_LOG_LEVEL": "WARNING",
        "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"],
    }
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("bench:setup")
    credentials = {
        backend: enroll(authority, USER, EnrolmentRequest("official", backend=backend, key_algorithm="rsa-2048"),
                        "bench:setup")
        for backend in ("file", "pkcs11")
    }
    rows = []
    with PkiServer(env, port, workers=args.workers) as server:
        token = idp.token()
        for backend, enrolment in credentials.items():
            key = authority.signing_key(authority.get(enrolment.serial))
            raw_p50, raw_p99, raw_rate = raw_figures(key, args.calls)
            load = SignHashLoad(server.url, enrolment.credential_id, token)
            load.latency(20)  # warm the workers: JWKS, key handles, connections
            p50, p99 = load.latency(args.calls)
            rate = load.throughput(args.calls, args.clients)
            rows.append((backend, raw_p50, raw_p99, raw_rate, p50, p99, rate))
    idp.stop()

    print(f"signHash over HTTP, RSA-2048 PKCS#1 v1.5, {args.calls} calls, egov serve with {args.workers} workers, "
          f"throughput with {args.clients} clients")
    print("| key | raw p50 | raw p99 | raw/s | signHash p50 | signHash p99 | signHash/s | signHash/s ÷ raw/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for backend, raw_p50, raw_p99, raw_rate, p50, p99, rate in rows:
        print(f"| {backend} | {raw_p50:.2f} ms | {raw_p99:.2f} ms | {raw_rate:,.0f} | {p50:.2f} ms | {p99:.2f} ms | "
              f"{rate:,.0f} | {rate / raw_rate:.3f} |")


if __name__ == "__main__":
    main()
