"""The public status and time services through the real server (`egov serve`) and the openssl command line."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from ca.authority import IssuanceRequest
from ca.names import PersonSubject
from tests.support.pki import openssl, write_pem
from tests.support.server import PkiServer

SUBJECT = PersonSubject("Trần Thị Bích Ngọc", "079190004321", title="Phó Chủ tịch")


@pytest.fixture
def leaf(server: PkiServer, tmp_path: Path) -> tuple[str, Path]:
    """An official's certificate from the individuals CA: its serial and PEM file."""
    return issue_leaf(server, tmp_path)


def issue_leaf(server: PkiServer, directory: Path) -> tuple[str, Path]:
    issued = server.authority.issue(IssuanceRequest("official", SUBJECT), actor="test")
    return issued.serial, write_pem(directory / f"leaf-{issued.serial}.pem", [issued.certificate])


def ocsp_check(server: PkiServer, cert: Path, *options: str, trust: str = "chain") -> str:
    """`openssl ocsp` against the server (with a nonce, openssl's default): its report, after checking that the
    response signature verified and the nonce came back."""
    anchor = (["-CAfile", str(server.certs / "chain-individuals.pem")] if trust == "chain"
              else ["-VAfile", str(server.certs / "ocsp-individuals.pem")])
    result = openssl("ocsp", *options, "-issuer", str(server.certs / "issuing-individuals.pem"), "-cert", str(cert),
                     "-url", server.ocsp_url, *anchor)
    output = result.stdout + result.stderr
    assert "Response verify OK" in output and "WARNING" not in output, output
    return output


def fetch_crl(server: PkiServer, tmp_path: Path, slug: str = "individuals") -> Path:
    response = requests.get(server.crl_url(slug), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pkix-crl"
    der, pem = tmp_path / f"{slug}.crl", tmp_path / f"{slug}.crl.pem"
    der.write_bytes(response.content)
    openssl("crl", "-inform", "DER", "-in", str(der), "-out", str(pem), check=True)
    return pem


def crl_verify(server: PkiServer, crl: Path, cert: Path) -> tuple[int, str]:
    result = openssl("verify", "-crl_check", "-CAfile", str(server.certs / "chain-individuals.pem"),
                     "-CRLfile", str(crl), str(cert))
    return result.returncode, result.stdout + result.stderr


def test_openssl_ocsp_sees_good_then_revoked_right_after_egov_ca_revoke(pki_server, egov, tmp_path):
    """Through the shared `pki_server` fixture and the `egov` fixture, as other packages' tests use them."""
    serial, cert = issue_leaf(pki_server, tmp_path)
    assert f"{cert}: good" in ocsp_check(pki_server, cert)
    egov("ca", "revoke", serial, "--reason", "keyCompromise", check=True)
    output = ocsp_check(pki_server, cert, trust="responder")  # -VAfile: trust the responder certificate itself
    assert f"{cert}: revoked" in output and "Reason: keyCompromise" in output


def test_openssl_ocsp_with_sha256_certid(server, leaf):
    _, cert = leaf
    assert f"{cert}: good" in ocsp_check(server, cert, "-sha256")


def test_every_worker_shows_the_change_in_its_next_answer(server, leaf):
    """Pre-signed answers are cached in every worker process; after a revocation none of them may serve one."""
    serial, cert = leaf
    issuer = x509.load_pem_x509_certificate((server.certs / "issuing-individuals.pem").read_bytes())
    request = ocsp.OCSPRequestBuilder().add_certificate(
        x509.load_pem_x509_certificate(cert.read_bytes()), issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)

    def statuses() -> set[ocsp.OCSPCertStatus]:
        def ask(_: int) -> ocsp.OCSPCertStatus:
            answer = requests.post(server.ocsp_url, data=request, timeout=10,
                                   headers={"Content-Type": "application/ocsp-request"})
            return ocsp.load_der_ocsp_response(answer.content).certificate_status

        with ThreadPoolExecutor(4) as pool:
            return set(pool.map(ask, range(24)))

    assert statuses() == {ocsp.OCSPCertStatus.GOOD}
    server.egov("ca", "revoke", serial, "--reason", "superseded", check=True)
    assert statuses() == {ocsp.OCSPCertStatus.REVOKED}


def test_openssl_verify_with_the_served_crl_rejects_revoked_and_accepts_good(server, leaf, tmp_path):
    serial, revoked_cert = leaf
    good = server.authority.issue(IssuanceRequest("official", SUBJECT), actor="test")
    good_cert = write_pem(tmp_path / "good.pem", [good.certificate])
    server.egov("ca", "revoke", serial, "--reason", "affiliationChanged", check=True)
    crl = fetch_crl(server, tmp_path)
    code, output = crl_verify(server, crl, revoked_cert)
    assert code != 0 and "certificate revoked" in output
    code, output = crl_verify(server, crl, good_cert)
    assert code == 0 and f"{good_cert}: OK" in output
    text = openssl("crl", "-in", str(crl), "-noout", "-text", check=True).stdout
    assert "Affiliation Changed" in text and format(int(serial, 16), "X") in text.replace(":", "")


def test_suspension_is_certificate_hold_in_ocsp_and_crl_and_release_clears_it(server, leaf, tmp_path):
    serial, cert = leaf
    server.egov("ca", "suspend", serial, check=True)
    output = ocsp_check(server, cert)
    assert f"{cert}: revoked" in output and "Reason: certificateHold" in output
    crl = fetch_crl(server, tmp_path)
    assert "Certificate Hold" in openssl("crl", "-in", str(crl), "-noout", "-text", check=True).stdout
    assert "certificate revoked" in crl_verify(server, crl, cert)[1]
    server.egov("ca", "release", serial, check=True)
    assert f"{cert}: good" in ocsp_check(server, cert)
    crl = fetch_crl(server, tmp_path)
    assert "Certificate Hold" not in openssl("crl", "-in", str(crl), "-noout", "-text", check=True).stdout
    assert crl_verify(server, crl, cert)[0] == 0


def test_openssl_ts_token_from_the_server_verifies(server, tmp_path):
    data = tmp_path / "document.pdf"
    data.write_bytes("%PDF-1.7 Công văn số 45/UBND-VP\n".encode())
    query = tmp_path / "request.tsq"
    openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query), check=True)
    response = requests.post(
        server.tsa_url, data=query.read_bytes(), headers={"Content-Type": "application/timestamp-query"},
        timeout=10,
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/timestamp-reply"
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(response.content)
    verified = openssl(
        "ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(server.certs / "root.pem"),
        "-untrusted", str(server.certs / "tsa.pem"),
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
    text = openssl("ts", "-reply", "-in", str(reply), "-text", check=True).stdout
    assert "Status: Granted." in text and server.authority.settings.tsa_policy_oid in text


def test_openssl_ts_sha1_query_is_rejected_with_bad_alg(server, tmp_path):
    data, query, reply = tmp_path / "data.txt", tmp_path / "sha1.tsq", tmp_path / "sha1.tsr"
    data.write_text("dữ liệu")
    openssl("ts", "-query", "-data", str(data), "-sha1", "-out", str(query), check=True)
    reply.write_bytes(requests.post(server.tsa_url, data=query.read_bytes(), timeout=10).content)
    text = openssl("ts", "-reply", "-in", str(reply), "-text", check=True).stdout
    assert "Status: Rejected." in text and "unrecognized or unsupported algorithm identifier" in text


def test_timestamp_serials_are_unique_across_worker_processes(server):
    request = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(b"x").digest()}}).dump()

    def serial(_: int) -> int:
        answer = requests.post(server.tsa_url, data=request, timeout=10)
        token = tsp.TimeStampResp.load(answer.content)["time_stamp_token"]
        return token["content"]["encap_content_info"]["content"].parsed["serial_number"].native

    with ThreadPoolExecutor(6) as pool:
        serials = list(pool.map(serial, range(30)))
    assert len(set(serials)) == 30


def test_urls_in_the_certificate_lead_to_the_server(server, leaf):
    """caIssuers gives the issuing CA's certificate (DER), the CDP the CRL, the AIA OCSP URL the responder."""
    _, cert_path = leaf
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = {d.access_method: d.access_location.value for d in aia}
    assert urls[AuthorityInformationAccessOID.OCSP] == server.ocsp_url
    issuer = requests.get(urls[AuthorityInformationAccessOID.CA_ISSUERS], timeout=10)
    assert issuer.status_code == 200 and issuer.headers["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(issuer.content).subject == cert.issuer
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    crl = x509.load_der_x509_crl(requests.get(cdp, timeout=10).content)
    assert crl.issuer == cert.issuer
    root = requests.get(f"{server.url}/ca/root.crt", timeout=10)
    assert x509.load_der_x509_certificate(root.content).subject == x509.load_pem_x509_certificate(
        (server.certs / "root.pem").read_bytes()).subject


def test_rfc5019_get_answers_with_cache_headers_and_revalidates(server, leaf):
    _, cert_path = leaf
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate((server.certs / "issuing-individuals.pem").read_bytes())
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    url = f"{server.ocsp_url}/{encoded}"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    control = response.headers["Cache-Control"]
    assert "public" in control and "no-transform" in control and "must-revalidate" in control
    max_age = int(control.split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= server.authority.settings.ocsp_validity.total_seconds()
    assert response.headers["ETag"] and response.headers["Last-Modified"] and response.headers["Expires"]
    assert parsedate_to_datetime(response.headers["Expires"]) == answer.next_update_utc
    assert parsedate_to_datetime(response.headers["Last-Modified"]) == answer.this_update_utc
    again = requests.get(url, headers={"If-None-Match": response.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    # Unencoded base64 with '/' and '+' in the path works too (RFC 5019 clients differ in what they escape).
    plain = requests.get(f"{server.ocsp_url}/{base64.b64encode(der).decode()}", timeout=10)
    assert plain.status_code == 200 and plain.content == response.content


def test_post_answers_with_a_nonce_are_not_cacheable(server, leaf):
    _, cert_path = leaf
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate((server.certs / "issuing-individuals.pem").read_bytes())
    der = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
           .add_extension(x509.OCSPNonce(b"nonce-0123456789"), critical=False).build()
           .public_bytes(serialization.Encoding.DER))
    response = requests.post(server.ocsp_url, data=der, timeout=10)
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"nonce-0123456789"
    assert response.headers["Cache-Control"] == "no-store"


def test_requests_that_skip_the_fast_path_get_the_same_answer(server, leaf):
    """POST /ocsp with a Content-Length is answered outside Flask; chunked bodies and GET go through the Flask
    views. A pre-signed answer is the same bytes either way."""
    _, cert_path = leaf
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate((server.certs / "issuing-individuals.pem").read_bytes())
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)
    fast = requests.post(server.ocsp_url, data=der, timeout=10)
    chunked = requests.post(server.ocsp_url, data=iter([der[:10], der[10:]]), timeout=10)
    via_get = requests.get(f"{server.ocsp_url}/{urllib.parse.quote(base64.b64encode(der).decode(), safe='')}",
                           timeout=10)
    assert "Content-Length" not in chunked.request.headers
    assert fast.content == chunked.content == via_get.content
    assert fast.headers["Content-Type"] == chunked.headers["Content-Type"] == "application/ocsp-response"
    for name in ("X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy",
                 "Cache-Control"):
        assert fast.headers.get(name) is not None and fast.headers.get(name) == chunked.headers.get(name), name


@pytest.mark.postgres
def test_on_postgresql_the_server_answers_and_shows_a_revocation_at_once(postgres, settings_env, tmp_path):
    """The same server over PostgreSQL: worker threads read status on their own connections, and the CRL, the
    OCSP answer and the TSA's serial counter behave as on SQLite."""
    from egov.db import forget_databases
    from tests.support.server import start_pki_server

    with postgres.fresh_database() as url:
        settings_env["EGOV_DATABASE_URL"] = url
        pg_server = start_pki_server(settings_env)
        try:
            serial, cert = issue_leaf(pg_server, tmp_path)
            assert f"{cert}: good" in ocsp_check(pg_server, cert)
            pg_server.egov("ca", "suspend", serial, check=True)
            assert "Reason: certificateHold" in ocsp_check(pg_server, cert)
            pg_server.egov("ca", "revoke", serial, "--reason", "cessationOfOperation", check=True)
            assert "Reason: cessationOfOperation" in ocsp_check(pg_server, cert, "-sha256")
            assert "certificate revoked" in crl_verify(pg_server, fetch_crl(pg_server, tmp_path), cert)[1]
            stamp = tsp.TimeStampReq({"version": "v1", "message_imprint": {
                "hash_algorithm": {"algorithm": "sha512"}, "hashed_message": hashlib.sha512(b"x").digest()}}).dump()
            answer = tsp.TimeStampResp.load(requests.post(pg_server.tsa_url, data=stamp, timeout=10).content)
            assert answer["status"]["status"].native == "granted"
        finally:
            pg_server.stop()
            forget_databases()
