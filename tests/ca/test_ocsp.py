"""The OCSP responder (RFC 6960 / RFC 5019): statuses, CertID hashes, nonces, refusals, pre-signed answers."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.names import OrganizationSubject, PersonSubject
from ca.ocsp import OcspResponder
from tests.support.pki import pkilint_tool

SUBJECT = PersonSubject("Lê Văn Tám", "001190012345", title="Giám đốc Sở")


@pytest.fixture
def responder(authority: CertificateAuthority) -> OcspResponder:
    return OcspResponder(authority)


@pytest.fixture
def leaf(authority: CertificateAuthority) -> x509.Certificate:
    return authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate


@pytest.fixture
def parsing(sqlite_authority: CertificateAuthority) -> OcspResponder:
    """For what does not depend on the database (parsing, refusals, encoding): SQLite only, to keep the suite quick."""
    return OcspResponder(sqlite_authority)


def issuer_of(authority: CertificateAuthority, role: str = "issuing-individuals") -> x509.Certificate:
    return authority.require_role(role).certificate


def request_for(
    certificate: x509.Certificate, issuer: x509.Certificate, algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def answer(responder: OcspResponder, request: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(responder.respond(request).der)


def check_signature(response: ocsp.OCSPResponse, authority: CertificateAuthority, role: str) -> None:
    """Signed by the delegated responder of that CA, whose certificate is in the response, named by its key hash
    (ResponderID byKey, RFC 5019 §2.2.3)."""
    responder_cert = authority.require_role(role).certificate
    assert response.certificates == [responder_cert]
    assert response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
        responder_cert.public_key()).digest
    responder_cert.public_key().verify(
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
    )


def test_good_certificate_is_good_signed_by_the_delegated_responder(authority, responder, leaf):
    response = answer(responder, request_for(leaf, issuer_of(authority)))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == leaf.serial_number
    check_signature(response, authority, "ocsp-individuals")
    validity = response.next_update_utc - response.this_update_utc
    assert validity == authority.settings.ocsp_validity


def test_certid_hash_is_matched_and_echoed(sqlite_authority, parsing):
    authority = sqlite_authority
    leaf = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    for algorithm in (hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        response = answer(parsing, request_for(leaf, issuer_of(authority), algorithm))
        assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert response.hash_algorithm.name == algorithm.name
        expected = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer_of(authority), algorithm).build()
        assert response.issuer_key_hash == expected.issuer_key_hash
        assert response.issuer_name_hash == expected.issuer_name_hash


def test_revoked_answer_states_time_and_reason_in_the_very_next_answer(authority, responder, leaf):
    request = request_for(leaf, issuer_of(authority))
    assert answer(responder, request).certificate_status == ocsp.OCSPCertStatus.GOOD
    record = authority.revoke(format(leaf.serial_number, "x"), "keyCompromise", actor="test")
    response = answer(responder, request)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    assert response.revocation_time_utc == record.status_changed_at.replace(microsecond=0)


def test_unspecified_reason_is_left_out(authority, responder, leaf):
    authority.revoke(format(leaf.serial_number, "x"), "unspecified", actor="test")
    response = answer(responder, request_for(leaf, issuer_of(authority)))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED and response.revocation_reason is None


def test_suspension_shows_certificate_hold_until_released(authority, responder, leaf):
    request = request_for(leaf, issuer_of(authority), hashes.SHA256())
    serial = format(leaf.serial_number, "x")
    authority.suspend(serial, actor="test")
    held = answer(responder, request)
    assert held.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert held.revocation_reason == x509.ReasonFlags.certificate_hold
    authority.release(serial, actor="test")
    assert answer(responder, request).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_status_change_seen_by_a_responder_of_another_process(authority, leaf):
    """Two responders stand for two worker processes: both cached `good`; one status change, both see it."""
    first, second = OcspResponder(authority), OcspResponder(authority)
    request = request_for(leaf, issuer_of(authority))
    assert first.respond(request).der == second.respond(request).der  # the same pre-signed answer
    authority.revoke(format(leaf.serial_number, "x"), "superseded", actor="test")
    for responder in (second, first):
        assert answer(responder, request).certificate_status == ocsp.OCSPCertStatus.REVOKED


def test_answers_without_nonce_are_pre_signed_and_reused(authority, responder, leaf):
    request = request_for(leaf, issuer_of(authority))
    first, second = responder.respond(request), responder.respond(request)
    assert first.der == second.der and first.cacheable


def test_nonce_is_echoed_and_answer_signed_fresh(authority, responder, leaf):
    nonce = bytes(range(16))
    result = responder.respond(request_for(leaf, issuer_of(authority), nonce=nonce))
    response = ocsp.load_der_ocsp_response(result.der)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert not result.cacheable
    check_signature(response, authority, "ocsp-individuals")


def test_oversized_nonce_is_malformed(sqlite_authority, parsing):
    leaf = sqlite_authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    response = answer(parsing, request_for(leaf, issuer_of(sqlite_authority), nonce=b"n" * 33))
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_serial_never_issued_is_unknown(authority, responder, leaf):
    issuer = issuer_of(authority)
    cert_id = asn1_ocsp.CertId.load(_cert_id_der(leaf, issuer))
    cert_id["serial_number"] = 0x1234567
    request = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump()
    response = answer(responder, request)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    check_signature(response, authority, "ocsp-individuals")


def _cert_id_der(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    request = asn1_ocsp.OCSPRequest.load(request_for(leaf, issuer))
    return request["tbs_request"]["request_list"][0]["req_cert"].dump()


def test_serial_of_the_other_ca_asked_of_this_issuer_is_unknown(authority, responder, leaf):
    seal = authority.issue(IssuanceRequest("organization", OrganizationSubject("Sở Tư pháp", tax_code="0101234567")),
                           actor="test").certificate
    cert_id = asn1_ocsp.CertId.load(_cert_id_der(leaf, issuer_of(authority)))
    cert_id["serial_number"] = seal.serial_number  # issued, but by the organisations CA
    request = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump()
    assert answer(responder, request).certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_organisations_ca_is_answered_by_its_own_responder(authority, responder):
    seal = authority.issue(IssuanceRequest("organization", OrganizationSubject("Sở Tư pháp", tax_code="0101234567")),
                           actor="test").certificate
    response = answer(responder, request_for(seal, issuer_of(authority, "issuing-organizations")))
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    check_signature(response, authority, "ocsp-organizations")


def test_foreign_issuer_is_unauthorized(sqlite_authority, parsing):
    authority, responder = sqlite_authority, parsing
    leaf = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Some Other CA")])
    now = datetime.now(UTC)
    foreign = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    response = answer(responder, request_for(leaf, foreign))
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    # The root CA has no responder here either: its issuing CAs are checked through the root's CRL.
    intermediate = issuer_of(authority)
    response = answer(responder, request_for(intermediate, authority.require_role("root").certificate))
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_garbage_and_truncated_requests_are_malformed(sqlite_authority, parsing):
    for garbage in (b"", b"\x00", b"\x30\x03\x02\x01", b"\x30\x80" + b"\x00" * 10, b"hello" * 50, os.urandom(300)):
        assert parsing.respond(garbage).status == "malformed_request", garbage
    leaf = sqlite_authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    request = request_for(leaf, issuer_of(sqlite_authority), hashes.SHA256(), nonce=b"12345678")
    for cut in range(1, len(request)):
        assert parsing.respond(request[:cut]).status == "malformed_request", cut


def test_several_certificates_in_one_request(authority, responder, leaf):
    other = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    authority.revoke(format(other.serial_number, "x"), "superseded", actor="test")
    issuer = issuer_of(authority)
    request = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [
        {"req_cert": asn1_ocsp.CertId.load(_cert_id_der(leaf, issuer))},
        {"req_cert": asn1_ocsp.CertId.load(_cert_id_der(other, issuer))},
    ]}}).dump()
    response = answer(responder, request)
    statuses = {single.serial_number: single.certificate_status for single in response.responses}
    assert statuses == {leaf.serial_number: ocsp.OCSPCertStatus.GOOD, other.serial_number: ocsp.OCSPCertStatus.REVOKED}


def test_pkilint_finds_nothing_in_good_revoked_and_nonce_answers(sqlite_authority, parsing, tmp_path: Path):
    authority, responder = sqlite_authority, parsing
    leaf = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    issuer = issuer_of(authority)
    revoked = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    authority.revoke(format(revoked.serial_number, "x"), "keyCompromise", actor="test",
                     invalidity_date=datetime.now(UTC) - timedelta(days=1))
    for name, request in {
        "good": request_for(leaf, issuer),
        "revoked": request_for(revoked, issuer, hashes.SHA256()),
        "nonce": request_for(leaf, issuer, nonce=b"0123456789abcdef"),
    }.items():
        path = tmp_path / f"{name}.der"
        path.write_bytes(responder.respond(request).der)
        result = subprocess.run([pkilint_tool("lint_ocsp_response"), "lint", "-s", "INFO", str(path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_hand_encoded_answers_are_what_asn1crypto_encodes(sqlite_authority, parsing):
    """Answers are assembled from DER pieces for speed; re-encoding every field with asn1crypto gives the same
    bytes, for each kind of status, with and without nonce."""
    authority = sqlite_authority
    issuer = issuer_of(authority)
    leaves = {name: authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
              for name in ("good", "revoked", "held", "unspecified")}
    authority.revoke(format(leaves["revoked"].serial_number, "x"), "keyCompromise", actor="test")
    authority.suspend(format(leaves["held"].serial_number, "x"), actor="test")
    authority.revoke(format(leaves["unspecified"].serial_number, "x"), "unspecified", actor="test")
    unknown_id = asn1_ocsp.CertId.load(_cert_id_der(leaves["good"], issuer))
    unknown_id["serial_number"] = 0xABCDEF
    requests_der = [request_for(cert, issuer, algorithm, nonce) for cert in leaves.values()
                    for algorithm, nonce in ((hashes.SHA1(), None), (hashes.SHA256(), b"nonce-12345678"))]
    requests_der.append(asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": unknown_id}]}}).dump())
    for request in requests_der:
        raw = parsing.respond(request).der
        response = asn1_ocsp.OCSPResponse.load(raw)
        response.native  # noqa: B018 - parse every field
        assert response.dump(force=True) == raw


def test_before_the_ca_exists_the_answer_is_try_later(settings):
    from egov.db import get_database

    responder = OcspResponder(CertificateAuthority(settings, get_database(settings)))
    assert responder.respond(b"\x30\x03\x02\x01\x00").status == "try_later"
