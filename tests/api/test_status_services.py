"""The public status and time services through the real server and the openssl command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ca.authority import IssuanceRequest
from ca.names import PersonSubject
from tests.support.pki import openssl, write_pem
from tests.support.server import PkiServer

SUBJECT = PersonSubject("Trần Thị Bích Ngọc", "079190004321", title="Phó Chủ tịch")


@pytest.fixture
def leaf(pki_server: PkiServer, tmp_path: Path) -> tuple[str, Path]:
    """An official's certificate from the individuals CA: its serial and PEM file."""
    issued = pki_server.authority.issue(IssuanceRequest("official", SUBJECT), actor="test")
    return issued.serial, write_pem(tmp_path / "leaf.pem", [issued.certificate])


def ocsp_status(server: PkiServer, cert: Path, *extra: str) -> str:
    """`openssl ocsp` against the server: the status line, after checking the response signature."""
    result = openssl(
        "ocsp", "-issuer", str(server.certs / "issuing-individuals.pem"), "-cert", str(cert),
        "-url", server.ocsp_url, "-CAfile", str(server.certs / "chain-individuals.pem"), *extra,
    )
    output = result.stdout + result.stderr
    assert "Response verify OK" in output, output
    return output


def test_openssl_ocsp_sees_good_then_revoked_right_after_egov_ca_revoke(pki_server, leaf, egov):
    serial, cert = leaf
    assert f"{cert}: good" in ocsp_status(pki_server, cert)
    egov("ca", "revoke", serial, "--reason", "keyCompromise", check=True)
    output = ocsp_status(pki_server, cert)
    assert f"{cert}: revoked" in output and "Reason: keyCompromise" in output


def test_openssl_verify_with_the_served_crl_rejects_revoked_and_accepts_good(pki_server, leaf, egov, tmp_path):
    serial, revoked_cert = leaf
    good = pki_server.authority.issue(IssuanceRequest("official", SUBJECT), actor="test")
    good_cert = write_pem(tmp_path / "good.pem", [good.certificate])
    egov("ca", "revoke", serial, "--reason", "affiliationChanged", check=True)
    response = requests.get(pki_server.crl_url("individuals"), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pkix-crl"
    crl = tmp_path / "individuals.crl"
    crl.write_bytes(response.content)
    crl_pem = tmp_path / "individuals.crl.pem"
    openssl("crl", "-inform", "DER", "-in", str(crl), "-out", str(crl_pem), check=True)
    chain = str(pki_server.certs / "chain-individuals.pem")
    rejected = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", str(crl_pem), str(revoked_cert))
    assert rejected.returncode != 0 and "certificate revoked" in rejected.stdout + rejected.stderr
    accepted = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", str(crl_pem), str(good_cert))
    assert accepted.returncode == 0 and f"{good_cert}: OK" in accepted.stdout
    text = openssl("crl", "-in", str(crl_pem), "-noout", "-text", check=True).stdout
    assert "Affiliation Changed" in text


def test_openssl_ts_token_from_the_server_verifies(pki_server, tmp_path):
    data = tmp_path / "document.pdf"
    data.write_bytes(b"%PDF-1.7 van ban hanh chinh\n")
    query = tmp_path / "request.tsq"
    openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query), check=True)
    response = requests.post(
        pki_server.tsa_url, data=query.read_bytes(), headers={"Content-Type": "application/timestamp-query"},
        timeout=10,
    )
    assert response.headers["Content-Type"] == "application/timestamp-reply"
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(response.content)
    verified = openssl(
        "ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(pki_server.certs / "root.pem"),
        "-untrusted", str(pki_server.certs / "chain-organizations.pem"),
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
