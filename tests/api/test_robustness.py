"""Whatever arrives at the public endpoints (random bytes, truncated DER, huge bodies, wrong methods), the answer is
the protocol's own error or a 4xx problem, never a 500, and the server keeps answering."""

from __future__ import annotations

import base64
import hashlib
import random
import urllib.parse
from pathlib import Path

import pytest
import requests
from asn1crypto import core, ocsp, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp

from ca.authority import IssuanceRequest
from ca.names import PersonSubject
from tests.support.server import PkiServer

RANDOM = random.Random(20261123)


def ocsp_request(server: PkiServer) -> bytes:
    issued = server.authority.issue(IssuanceRequest("official", PersonSubject("Đỗ Văn Hùng", "001190012345")),
                                    actor="test")
    issuer = x509.load_pem_x509_certificate((server.certs / "issuing-individuals.pem").read_bytes())
    return (x509_ocsp.OCSPRequestBuilder().add_certificate(issued.certificate, issuer, hashes.SHA256())
            .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False).build()
            .public_bytes(serialization.Encoding.DER))


def timestamp_request() -> bytes:
    return tsp.TimeStampReq({"version": "v1", "nonce": 42, "cert_req": True, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(b"x").digest()}}).dump()


def samples(valid: bytes) -> list[bytes]:
    """Random bytes of many sizes, every truncation of a valid request, and bit flips in it."""
    bodies = [b""] + [RANDOM.randbytes(size) for size in (1, 2, 3, 16, 100, 1000, 5000, 60000)]
    bodies += [valid[:cut] for cut in range(1, len(valid))]
    for _ in range(40):
        flipped = bytearray(valid)
        flipped[RANDOM.randrange(len(flipped))] ^= 1 << RANDOM.randrange(8)
        bodies.append(bytes(flipped))
    bodies += [b"\x30\x84\xff\xff\xff\xff", b"\x30\x80" + b"\x30\x80" * 500, b"\x30" + b"\x82\xff\xff" + valid]
    return bodies


def post(url: str, body: bytes, content_type: str) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=30)


def ocsp_status(response: requests.Response) -> str:
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/ocsp-response"
    return ocsp.OCSPResponse.load(response.content)["response_status"].native


def tsa_status(response: requests.Response) -> str:
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/timestamp-reply"
    return tsp.PKIStatusInfo.load(core.Sequence.load(response.content)[0].dump())["status"].native


def is_problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("https://") and problem["title"]
    assert "Traceback" not in response.text
    return problem


def test_fuzzed_ocsp_requests_get_ocsp_errors_never_500(server: PkiServer):
    valid = ocsp_request(server)
    assert ocsp_status(post(server.ocsp_url, valid, "application/ocsp-request")) == "successful"
    outcomes = set()
    for body in samples(valid):
        response = post(server.ocsp_url, body, "application/ocsp-request")
        outcomes.add(ocsp_status(response))
    assert outcomes <= {"successful", "malformed_request", "unauthorized"} and "malformed_request" in outcomes
    # The same through RFC 5019 GET, base64 and URL-encoded, and plain garbage in the path.
    # (gunicorn itself refuses request lines over 4094 bytes with a 400.)
    for body in samples(valid)[::7]:
        encoded = urllib.parse.quote(base64.b64encode(body).decode(), safe="")
        response = requests.get(f"{server.ocsp_url}/{encoded}", timeout=30)
        if len(encoded) > 4000:
            assert response.status_code == 400
        else:
            assert ocsp_status(response) in {"successful", "malformed_request", "unauthorized"}
    for path in ("%%%", "not-base64!", "AAAA", "////", "a" * 3000, "%00%ff", "..%2f..%2fetc%2fpasswd"):
        response = requests.get(f"{server.ocsp_url}/{path}", timeout=30)
        assert response.status_code < 500
        if response.status_code == 200:
            assert ocsp_status(response) == "malformed_request"


def test_fuzzed_timestamp_requests_get_rejections_never_500(server: PkiServer):
    valid = timestamp_request()
    assert tsa_status(post(server.tsa_url, valid, "application/timestamp-query")) == "granted"
    outcomes = {tsa_status(post(server.tsa_url, body, "application/timestamp-query")) for body in samples(valid)}
    assert outcomes <= {"granted", "rejection"} and "rejection" in outcomes


@pytest.mark.parametrize("size", [70 * 1024, 3 * 1024 * 1024])
def test_huge_bodies_are_refused_with_413(server: PkiServer, size: int):
    body = RANDOM.randbytes(size)
    for url, content_type in ((server.ocsp_url, "application/ocsp-request"),
                              (server.tsa_url, "application/timestamp-query")):
        is_problem(post(url, body, content_type), 413)
        # Without a Content-Length (chunked), the limit holds as well.
        chunked = requests.post(url, data=iter([body[i:i + 65536] for i in range(0, size, 65536)]),
                                headers={"Content-Type": content_type}, timeout=30)
        is_problem(chunked, 413)


def test_random_bytes_and_wrong_methods_elsewhere_are_4xx_problems(server: PkiServer):
    is_problem(requests.get(f"{server.url}/crl/nobody.crl", timeout=10), 404)
    is_problem(requests.get(f"{server.url}/ca/nobody.crt", timeout=10), 404)
    is_problem(requests.get(f"{server.url}/no/such/page", timeout=10), 404)
    is_problem(requests.get(server.tsa_url, timeout=10), 405)
    is_problem(requests.post(server.crl_url("individuals"), data=RANDOM.randbytes(500), timeout=10), 405)
    is_problem(requests.put(server.ocsp_url, data=RANDOM.randbytes(500), timeout=10), 405)
    response = requests.get(f"{server.url}/crl/{'x' * 2000}.crl", timeout=10)
    assert 400 <= response.status_code < 500


def test_server_is_alive_and_logged_no_traceback_after_the_fuzzing(server: PkiServer, tmp_path: Path):
    assert server.alive()
    assert ocsp_status(post(server.ocsp_url, ocsp_request(server), "application/ocsp-request")) == "successful"
    assert tsa_status(post(server.tsa_url, timestamp_request(), "application/timestamp-query")) == "granted"
    assert requests.get(server.crl_url("organizations"), timeout=10).status_code == 200
    assert "Traceback" not in server.log()
