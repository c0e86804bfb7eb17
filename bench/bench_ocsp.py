"""OCSP answers per second: our responder (`egov serve`) against `openssl ocsp -index … -port …`, same certificates,
same load from wrk; then the time and peak memory to build a CRL with 100,000 revoked entries.

    .venv/bin/python bench/bench_ocsp.py [--duration 10] [--connections 32] [--workers 2]

Both responders answer the same RFC 5019-style requests (one SHA-1 CertID, no nonce) for the same certificates
with the same delegated responder key (RSA-2048). openssl's responder listens on every interface and has no
option to bind to loopback, so when run as root the whole benchmark moves into a private network namespace
(loopback only). Prints answers/s for both and the ratio; the goal is ours ≥ 1.5 × openssl's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NAMESPACE_FLAG = "EGOV_BENCH_IN_NAMESPACE"
LUA = r"""
-- Posts the DER OCSP requests given after `--` (a path, then request files), round robin.
local requests, n = {}, 0
-- wrk first probes the address with a bare connect; openssl's single-process responder then spins forever on
-- that empty connection. Take the address without probing.
function wrk.resolve(host, service)
  wrk.addrs = { wrk.lookup(host, service)[1] }
end
function init(args)
  local path = args[1]
  for i = 2, #args do
    local f = assert(io.open(args[i], "rb"))
    local body = f:read("*a")
    f:close()
    requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "application/ocsp-request"}, body)
  end
end
function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def enter_namespace() -> None:
    """Re-run this script in a new network namespace with only loopback up (openssl binds to *)."""
    if os.environ.get(NAMESPACE_FLAG) or os.geteuid() != 0 or not shutil.which("unshare"):
        return
    os.environ[NAMESPACE_FLAG] = "1"
    script = 'ip link set lo up && exec "$0" "$@"'
    os.execvp("unshare", ["unshare", "--net", "sh", "-c", script, sys.executable, *sys.argv])


def wait_for(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def wait_for_responder(
    url: str, issuer: Path, cert: Path, chain: Path, log: Path, process: subprocess.Popen, timeout: float = 30
) -> None:
    """openssl's responder serves one connection at a time: probe with real OCSP requests, not bare connects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"openssl ocsp exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            openssl_status(url, issuer, cert, chain, timeout=5)
            return
        except (RuntimeError, subprocess.TimeoutExpired):
            time.sleep(0.2)
    raise RuntimeError(f"no OCSP responder at {url}:\n{log.read_text(errors='replace')}")


def wrk(url: str, path: str, requests_files: list[Path], lua: Path, duration: int, connections: int) -> dict:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), url, "--", path,
         *map(str, requests_files)],
        capture_output=True, text=True, check=True,
    )
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    return {
        "answers_per_s": rate,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "p99": p99.group(1) if p99 else "?",
    }


def openssl_status(url: str, issuer: Path, cert: Path, chain: Path, timeout: float = 30) -> str:
    out = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(cert), "-url", url, "-CAfile", str(chain),
         "-no_nonce"], capture_output=True, text=True, timeout=timeout,
    )
    text = out.stdout + out.stderr
    if "Response verify OK" not in text:
        raise RuntimeError(f"{url} gave an answer openssl does not verify:\n{text}")
    return re.search(r": (good|revoked|unknown)", text).group(1)


def openssl_index_line(certificate, record) -> str:  # noqa: ANN001 - cryptography certificate, CertificateRecord
    """One line of openssl ca's index.txt: status, expiry, revocation, serial, file, subject."""
    expiry = certificate.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    subject = "/" + "/".join(f"{a.rfc4514_attribute_name}={a.value}" for a in certificate.subject)
    serial = format(certificate.serial_number, "X")
    serial = serial if len(serial) % 2 == 0 else "0" + serial
    if record.status == "revoked":
        revoked = record.status_changed_at.strftime("%y%m%d%H%M%SZ") + f",{record.revocation_reason}"
        return f"R\t{expiry}\t{revoked}\t{serial}\tunknown\t{subject}"
    return f"V\t{expiry}\t\t{serial}\tunknown\t{subject}"


def build_fixture(work: Path, port: int, certificates: int) -> dict:
    """A throwaway CA whose certificates point at our server, N certificates (every tenth revoked), their OCSP
    requests, and openssl's index of the same certificates."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from ca.authority import CertificateAuthority, IssuanceRequest
    from ca.names import PersonSubject
    from egov.db import get_database
    from egov.settings import Settings

    env = {
        "EGOV_DATA_DIR": str(work / "data"),
        "EGOV_KEY_PASSPHRASE": "bench-only-throwaway",
        "EGOV_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "EGOV_LOG_LEVEL": "WARNING",
        "EGOV_SUBSCRIBER_KEY_ALGORITHM": "rsa-2048",
    }
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("bench")
    certs_dir = work / "certs"
    authority.export(certs_dir)
    issuer = authority.require_role("issuing-individuals")
    issuer_cert = issuer.certificate
    lines, request_files, nonce_files, leaves = [], [], [], []
    for number in range(certificates):
        subject = PersonSubject(f"Nguyễn Văn Thử {number}", f"0011900{number:05d}")
        issued = authority.issue(IssuanceRequest("official", subject, key_spec="ec-p256"), actor="bench")
        record = issued.record
        if number % 10 == 9:
            record = authority.revoke(issued.serial, "keyCompromise", actor="bench")
        lines.append(openssl_index_line(issued.certificate, record))
        builder = ocsp.OCSPRequestBuilder().add_certificate(issued.certificate, issuer_cert, hashes.SHA1())
        path = work / "requests" / f"{number}.der"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(builder.build().public_bytes(serialization.Encoding.DER))
        request_files.append(path)
        with_nonce = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False).build()
        path = work / "requests-nonce" / f"{number}.der"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(with_nonce.public_bytes(serialization.Encoding.DER))
        nonce_files.append(path)
        leaf = work / "leaves" / f"{number}.pem"
        leaf.parent.mkdir(exist_ok=True)
        leaf.write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
        leaves.append(leaf)
    (work / "index.txt").write_text("\n".join(lines) + "\n")
    # openssl's responder needs the responder key as a file: export the throwaway one (deleted with `work`).
    responder = authority.require_role("ocsp-individuals")
    key = authority.signing_key(responder)._private_key  # noqa: SLF001 - benchmark-only, throwaway CA
    (work / "ocsp-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {"env": env, "certs": certs_dir, "requests": request_files, "nonce_requests": nonce_files,
            "leaves": leaves}


def stop(process: subprocess.Popen) -> None:
    """Stop a server we started, with its workers when it leads its own process group."""
    if process.poll() is not None:
        return
    group = os.getpgid(process.pid) == process.pid

    def send(sig: int) -> None:
        os.killpg(process.pid, sig) if group else process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


def start_openssl(work: Path, certs: Path, extra: list[str]) -> tuple[subprocess.Popen, str, Path]:
    port, log = free_port(), work / f"openssl-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        ["openssl", "ocsp", "-index", str(work / "index.txt"), "-port", str(port),
         "-rsigner", str(certs / "ocsp-individuals.pem"), "-rkey", str(work / "ocsp-key.pem"),
         "-CA", str(certs / "issuing-individuals.pem"), "-nmin", "60", *extra],
        # Not a new session: with -multi openssl makes its own process group, which a session leader cannot.
        stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}", log


def measure_ocsp(args: argparse.Namespace, work: Path) -> dict:
    """Load each responder in turn for `rounds` interleaved rounds and keep each one's best, so that other work on
    the machine weighs on all of them alike. Every responder must first answer good and revoked correctly.

    openssl's responder is started afresh for each round: a connection closed before sending a request (wrk
    closes its idle ones at the end of a run) makes its process spin on it for ever."""
    fixture = build_fixture(work, free_port(), args.certificates)
    certs = fixture["certs"]
    chain, issuer = certs / "chain-individuals.pem", certs / "issuing-individuals.pem"
    good, revoked = fixture["leaves"][0], fixture["leaves"][9]
    lua = work / "post.lua"
    lua.write_text(LUA)
    ours_url = fixture["env"]["EGOV_PUBLIC_BASE_URL"]
    ours = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", ours_url.rsplit(":", 1)[1],
         "--workers", str(args.workers), "--threads", str(args.threads)],
        cwd=REPO, env={**os.environ, **fixture["env"]}, stdout=subprocess.DEVNULL,
        stderr=work.joinpath("ours.log").open("wb"), start_new_session=True,
    )
    best: dict[str, dict] = {}

    def keep(label: str, figures: dict) -> None:
        rounds = best.get(label, {}).get("rounds", []) + [figures["answers_per_s"]]
        if label not in best or figures["answers_per_s"] > best[label]["answers_per_s"]:
            best[label] = figures
        best[label]["rounds"] = rounds

    try:
        wait_for(f"{ours_url}/ca/root.crt")
        assert openssl_status(f"{ours_url}/ocsp", issuer, good, chain) == "good"
        assert openssl_status(f"{ours_url}/ocsp", issuer, revoked, chain) == "revoked"
        wrk(ours_url, "/ocsp", fixture["requests"], lua, 2, args.connections)  # warm-up: pre-signs every answer
        for _round in range(args.rounds):
            keep("ours", wrk(ours_url, "/ocsp", fixture["requests"], lua, args.duration, args.connections))
            keep("ours, with nonce", wrk(ours_url, "/ocsp", fixture["nonce_requests"], lua, args.duration,
                                         args.connections))
            for label, extra in (("openssl", []), ("openssl -multi 2", ["-multi", "2"])):
                peer, url, log = start_openssl(work, certs, extra)
                try:
                    wait_for_responder(f"{url}/", issuer, good, chain, log, peer)
                    assert openssl_status(f"{url}/", issuer, revoked, chain) == "revoked"
                    keep(label, wrk(url, "/", fixture["requests"], lua, args.duration, args.connections))
                finally:
                    stop(peer)
        return best
    finally:
        stop(ours)


CRL_CHILD = r"""
import json, sys, time, tracemalloc
from egov.settings import Settings
from ca.authority import CertificateAuthority
from ca.crl import CrlPublisher
from egov.db import get_database


def high_water_mib():
    # VmHWM is this process's own peak (ru_maxrss would carry the forking parent's peak across exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


settings = Settings.from_env(json.loads(sys.argv[1]))
authority = CertificateAuthority(settings, get_database(settings))
publisher = CrlPublisher(authority)
publisher.issuer("issuing-organizations")
authority.signing_key(publisher.issuer("issuing-organizations"))
before = high_water_mib()
started = time.perf_counter()
published = publisher.publish("issuing-organizations", actor="bench")
elapsed = time.perf_counter() - started
peak = high_water_mib()
tracemalloc.start()
publisher.publish("issuing-organizations", actor="bench")
python_peak = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps({"seconds": elapsed, "entries": published.entries, "bytes": len(published.der),
                  "peak_rss_mib": peak, "rss_before_mib": before, "python_peak_mib": python_peak}))
"""


def measure_crl(entries: int, work: Path) -> dict:
    """Insert `entries` revoked certificates of the organisations CA, then time `CrlPublisher.publish` in a fresh
    process (database read, building, signing through the key backend, storing) and read its peak RSS."""
    import hashlib

    from sqlalchemy import insert

    from ca.authority import CertificateAuthority
    from ca.models import CertificateRecord
    from egov.db import get_database
    from egov.settings import Settings

    env = {"EGOV_DATA_DIR": str(work / "crl-data"), "EGOV_KEY_PASSPHRASE": "bench-only-throwaway"}
    settings = Settings.from_env(env)
    authority = CertificateAuthority(settings, get_database(settings))
    authority.init_hierarchy("bench")
    issuer = authority.require_role("issuing-organizations")
    now = datetime.now(UTC)
    reasons = ["keyCompromise", "superseded", "cessationOfOperation", "affiliationChanged", "unspecified"]
    rows = []
    for number in range(entries):
        serial = format((number + 1) * 0x9E3779B97F4A7C15 % (1 << 150) | (1 << 150), "x")
        rows.append({
            "serial": serial, "issuer_id": issuer.id, "profile": "organization", "subject": f"CN=Org {number}",
            "common_name": f"Org {number}", "not_before": now, "not_after": now.replace(year=now.year + 3),
            "der": b"\x30\x00", "sha256": hashlib.sha256(serial.encode()).hexdigest(), "status": "revoked",
            "status_changed_at": now, "revocation_reason": reasons[number % len(reasons)], "created_at": now,
            "invalidity_date": now if number % 7 == 0 else None,
        })
    with authority.database.transaction() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(insert(CertificateRecord), rows[start:start + 10_000])
    authority.database.dispose()
    out = subprocess.run([sys.executable, "-c", CRL_CHILD, json.dumps(env)], cwd=REPO, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per responder and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each responder's best counts")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="our gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (egov serve's default; 1: sync "
                        "workers, a connection per request)")
    parser.add_argument("--certificates", type=int, default=100)
    parser.add_argument("--crl-entries", type=int, default=100_000)
    parser.add_argument("--skip-crl", action="store_true")
    args = parser.parse_args()
    enter_namespace()
    work = Path(tempfile.mkdtemp(prefix="egov-bench-"))
    try:
        results = measure_ocsp(args, work)
        ours, peer = results["ours"]["answers_per_s"], results["openssl"]["answers_per_s"]
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; best of {args.rounds} "
              f"interleaved rounds of wrk -t2 -c{args.connections} -d{args.duration}s; "
              f"{args.certificates} certificates, one SHA-1 CertID per request, no nonce; our workers: {args.workers}"
              f" × {args.threads} thread(s)")
        for label, figures in results.items():
            rounds = " / ".join(f"{rate:.0f}" for rate in figures["rounds"])
            print(f"  {label:<18} {figures['answers_per_s']:>9.0f} answers/s   p99 {figures['p99']:>8}   "
                  f"non-2xx {figures['non_2xx']}  {figures['socket_errors']}  (rounds: {rounds})")
        multi = results["openssl -multi 2"]["answers_per_s"]
        if not peer or not multi:
            raise SystemExit("openssl's responder answered nothing: see the note on wrk's probe in this file")
        print(f"ratio ours/openssl: {ours / peer:.2f} (goal ≥ 1.5); ours/openssl -multi 2: {ours / multi:.2f}")
        if not args.skip_crl:
            crl = measure_crl(args.crl_entries, work)
            print(f"CRL with {crl['entries']} revoked entries: built, signed and stored in {crl['seconds']:.2f} s, "
                  f"{crl['bytes'] / 1e6:.1f} MB DER; peak RSS {crl['peak_rss_mib']:.0f} MiB "
                  f"(process before: {crl['rss_before_mib']:.0f} MiB), peak Python allocations "
                  f"{crl['python_peak_mib']:.0f} MiB")
    finally:
        if not os.environ.get("EGOV_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
