"""The time-stamping authority (RFC 3161 / RFC 5816): tokens, serial numbers, and refusals with failInfo."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives.serialization import Encoding

from ca.authority import CertificateAuthority
from ca.tsa import TimeStampAuthority
from egov.db import Database
from tests.support.pki import openssl, write_pem

DOCUMENT = "Quyết định số 123/QĐ-UBND về việc phê duyệt".encode()


@pytest.fixture
def tsa(authority: CertificateAuthority) -> TimeStampAuthority:
    return TimeStampAuthority(authority)


@pytest.fixture
def sqlite_tsa(sqlite_authority: CertificateAuthority) -> TimeStampAuthority:
    """For what does not depend on the database: SQLite only, to keep the suite quick."""
    return TimeStampAuthority(sqlite_authority)


def query(
    data: bytes = DOCUMENT, algorithm: str = "sha256", nonce: int | None = 0x1F2E3D4C5B6A, cert_req: bool = True,
    policy: str | None = None, imprint: bytes | None = None, extensions: list | None = None,
) -> bytes:
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": imprint if imprint is not None else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        request["nonce"] = nonce
    if policy is not None:
        request["req_policy"] = policy
    if extensions is not None:
        request["extensions"] = extensions
    return tsp.TimeStampReq(request).dump()


def token_info(answer_der: bytes) -> tuple[tsp.TimeStampResp, cms.SignedData, tsp.TSTInfo]:
    response = tsp.TimeStampResp.load(answer_der)
    signed = response["time_stamp_token"]["content"]
    return response, signed, signed["encap_content_info"]["content"].parsed


def refusal(answer_der: bytes) -> tuple[str, set[str], list[str]]:
    # asn1crypto's TimeStampResp insists on a token, which a rejection has not: read the status field alone.
    status = tsp.PKIStatusInfo.load(core.Sequence.load(answer_der)[0].dump())
    return status["status"].native, status["fail_info"].native, status["status_string"].native


def verify_with_openssl(authority: CertificateAuthority, tmp_path: Path, answer_der: bytes, data: bytes,
                        request_der: bytes | None = None) -> str:
    data_file, reply = tmp_path / "document.bin", tmp_path / "reply.tsr"
    data_file.write_bytes(data)
    reply.write_bytes(answer_der)
    root = write_pem(tmp_path / "root.pem", [authority.require_role("root").certificate])
    untrusted = write_pem(tmp_path / "untrusted.pem", [authority.require_role(role).certificate
                                                       for role in ("tsa", "issuing-organizations")])
    source = ["-data", str(data_file)]
    if request_der is not None:
        request_file = tmp_path / "request.tsq"
        request_file.write_bytes(request_der)
        source = ["-queryfile", str(request_file)]
    result = openssl("ts", "-verify", *source, "-in", str(reply), "-CAfile", str(root), "-untrusted", str(untrusted))
    return result.stdout + result.stderr


def test_token_states_policy_imprint_nonce_accuracy_time_and_verifies_with_openssl(authority, tsa, tmp_path):
    request = query()
    before = datetime.now(UTC).replace(microsecond=0)
    answer = tsa.respond(request)
    assert answer.granted
    response, signed, info = token_info(answer.der)
    assert response["status"]["status"].native == "granted"
    assert info["policy"].native == authority.settings.tsa_policy_oid
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(DOCUMENT).digest()
    assert info["nonce"].native == 0x1F2E3D4C5B6A
    assert info["accuracy"]["seconds"].native == 1
    assert before <= info["gen_time"].native <= datetime.now(UTC) + timedelta(seconds=1)
    assert info["serial_number"].native == answer.serial
    assert "Verification: OK" in verify_with_openssl(authority, tmp_path, answer.der, DOCUMENT)
    assert "Verification: OK" in verify_with_openssl(authority, tmp_path, answer.der, DOCUMENT, request)


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_sha384_and_sha512_imprints_are_accepted(authority, sqlite_tsa, tmp_path, algorithm):
    answer = sqlite_tsa.respond(query(algorithm=algorithm))
    assert answer.granted
    _, _, info = token_info(answer.der)
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == algorithm
    assert "Verification: OK" in verify_with_openssl(sqlite_tsa.authority, tmp_path, answer.der, DOCUMENT)


def test_signing_certificate_v2_names_the_tsa_certificate(sqlite_authority, sqlite_tsa):
    _, signed, _ = token_info(sqlite_tsa.respond(query()).der)
    tsa_der = sqlite_authority.require_role("tsa").certificate.public_bytes(Encoding.DER)
    attributes = {a["type"].native: a["values"][0] for a in signed["signer_infos"][0]["signed_attrs"]}
    ess = attributes["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert "hash_algorithm" not in ess.native or ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert attributes["content_type"].native == "tst_info"


def test_cert_req_decides_whether_certificates_travel_with_the_token(sqlite_authority, sqlite_tsa):
    tsa_der = sqlite_authority.require_role("tsa").certificate.public_bytes(Encoding.DER)
    _, with_certs, _ = token_info(sqlite_tsa.respond(query(cert_req=True)).der)
    assert tsa_der in [c.chosen.dump() for c in with_certs["certificates"]]
    _, without, _ = token_info(sqlite_tsa.respond(query(cert_req=False)).der)
    assert not without["certificates"]


def test_without_nonce_the_token_has_none(sqlite_tsa):
    _, _, info = token_info(sqlite_tsa.respond(query(nonce=None)).der)
    assert info["nonce"].native is None


def test_serial_numbers_are_unique_and_increasing_across_instances_and_threads(authority):
    """Two TSAs with their own database engines stand for two processes."""
    other = CertificateAuthority(authority.settings, Database(authority.database.url))
    tsas = [TimeStampAuthority(authority), TimeStampAuthority(other)]
    serials: list[int] = []
    lock = threading.Lock()

    def stamp(tsa: TimeStampAuthority) -> None:
        for _ in range(5):
            answer = tsa.respond(query())
            with lock:
                serials.append(answer.serial)

    threads = [threading.Thread(target=stamp, args=(tsas[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.database.dispose()
    assert len(set(serials)) == 20 and sorted(serials) == list(range(min(serials), min(serials) + 20))
    assert tsas[0].respond(query()).serial == max(serials) + 1


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (query(algorithm="sha1"), "bad_alg"),
        (query(algorithm="md5"), "bad_alg"),
        (query(imprint=b"\x00" * 20), "bad_data_format"),
        (query(policy="1.2.3.4.5"), "unaccepted_policy"),
        (query(extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]),
         "unaccepted_extensions"),
        (b"", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (b"garbage" * 30, "bad_data_format"),
    ],
    ids=["sha1", "md5", "imprint-length", "policy", "extension", "empty", "truncated", "text"],
)
def test_refusals_carry_pki_status_rejection_and_fail_info(sqlite_tsa, request_der, fail_info):
    answer = sqlite_tsa.respond(request_der)
    assert not answer.granted
    status, fail_infos, text = refusal(answer.der)
    assert status == "rejection" and fail_infos == {fail_info} and text


def test_truncated_and_random_requests_are_rejected_never_raised(sqlite_tsa):
    request = query()
    for cut in range(1, len(request)):
        assert refusal(sqlite_tsa.respond(request[:cut]).der)[0] == "rejection"
    for _ in range(50):
        assert refusal(sqlite_tsa.respond(os.urandom(64)).der)[0] == "rejection"


def test_our_own_policy_may_be_requested(sqlite_authority, sqlite_tsa):
    assert sqlite_tsa.respond(query(policy=sqlite_authority.settings.tsa_policy_oid)).granted


def test_before_the_ca_exists_requests_are_rejected_with_system_failure(settings):
    from egov.db import get_database

    tsa = TimeStampAuthority(CertificateAuthority(settings, get_database(settings)))
    assert refusal(tsa.respond(query()).der)[:2] == ("rejection", {"system_failure"})
