"""GET /api/v1/certificates/{serial}: good, on hold, revoked (through the real `egov ca` command), with links."""

from __future__ import annotations

import hashlib

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ca.authority import IssuanceRequest
from ca.names import PersonSubject
from tests.support.server import PkiServer

CITIZEN = PersonSubject("Trần Văn Bảo", "001095000777", "Sở Tư pháp tỉnh Bình Phước", "Bình Phước", "Chuyên viên")


def status(server: PkiServer, serial: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/certificates/{serial}", timeout=30)


def issue(server: PkiServer) -> str:
    assert server.authority is not None
    return server.authority.issue(IssuanceRequest(profile="official", subject=CITIZEN), "test:setup").serial


def test_new_certificate_is_good_with_subject_issuer_validity_and_links(api_server):
    serial = issue(api_server)
    response = status(api_server, serial)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["serial"] == serial and body["status"] == "good" and body["revoked_at"] is None
    assert body["identifier"] == "CCCD:001095000777" and "Trần Văn Bảo" in body["subject"]
    assert "egov-trust Individuals CA" in body["issuer"] and body["profile"] == "official"
    assert body["not_before"].endswith("+07:00") and body["not_after"] > body["not_before"]
    links = body["links"]
    assert links["ocsp"] == [f"{api_server.url}/ocsp"] and links["crl"] == [f"{api_server.url}/crl/individuals.crl"]
    pem = requests.get(links["pem"], timeout=30)
    assert pem.status_code == 200
    certificate = x509.load_pem_x509_certificate(pem.content)
    assert hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest() == body["sha256"]
    assert requests.get(links["crl"][0], timeout=30).status_code == 200


def test_status_follows_egov_ca_suspend_and_revoke(api_server):
    serial = issue(api_server)
    api_server.egov("ca", "suspend", serial, check=True)
    held = status(api_server, serial).json()
    assert held["status"] == "suspended" and held["revocation_reason"] == "certificateHold"
    api_server.egov("ca", "revoke", serial, "--reason", "keyCompromise", check=True)
    revoked = status(api_server, serial).json()
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "keyCompromise"
    assert revoked["revoked_at"].endswith("+07:00") and revoked["status_vi"] == "đã thu hồi"


def test_serial_is_accepted_in_upper_case_and_with_colons(api_server):
    serial = issue(api_server)
    spaced = ":".join(serial.upper()[i:i + 2] for i in range(0, len(serial), 2))
    assert status(api_server, spaced).json()["serial"] == serial


def test_unknown_serial_is_404_and_malformed_is_400(api_server):
    unknown = status(api_server, "abcdef0123456789")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"] == "application/problem+json"
    malformed = status(api_server, "not-a-serial")
    assert malformed.status_code == 400 and malformed.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{api_server.url}/api/v1/certificates/xyz/pem", timeout=30).status_code == 400
