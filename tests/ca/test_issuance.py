"""Issuance by profile: from a CSR or a generated key, Vietnamese subjects, policy checks, nothing half-written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.errors import InvalidCSR, InvalidRequest, InvalidSubject, UnknownProfile, WeakKey
from ca.models import CertificateRecord
from ca.names import OrganizationSubject, PersonSubject
from ca.profiles import DOCUMENT_SIGNING
from egov import audit
from tests.support.pki import lint_certificate, openssl, write_pem

DAO = PersonSubject(
    full_name="Nguyễn Thị Hồng Đào", cccd="001190012345", organization="Ủy ban nhân dân tỉnh Bình Phước",
    province="Bình Phước", title="Phó Chủ tịch",
)
UBND = OrganizationSubject(name="Ủy ban nhân dân tỉnh Bình Phước", tax_code="3800100111", province="Bình Phước")


def make_csr(common_name: str, uid: str, key=None, organization: str | None = None) -> tuple[bytes, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes += [x509.NameAttribute(NameOID.USER_ID, uid), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM), key


def counts(authority: CertificateAuthority) -> tuple[int, int]:
    with authority.database.transaction() as session:
        certificates = session.execute(select(func.count()).select_from(CertificateRecord)).scalar_one()
        records = session.execute(select(func.count()).select_from(audit.AuditRecord)).scalar_one()
    return certificates, records


def key_files(authority: CertificateAuthority) -> set[str]:
    return {p.name for p in authority.settings.keys_dir.glob("*.p8")}


def test_official_certificate_has_vietnamese_subject_and_signing_purposes(authority: CertificateAuthority):
    issued = authority.issue(IssuanceRequest("official", DAO), actor="test:operator")
    certificate = issued.certificate
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Thị Hồng Đào"
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "CCCD:001190012345"
    assert subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Phó Chủ tịch"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert DOCUMENT_SIGNING in certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert certificate.serial_number.bit_length() >= 64
    record = authority.get(issued.serial)
    assert record.common_name == "Nguyễn Thị Hồng Đào" and record.identifier == "CCCD:001190012345"
    assert record.key_uri and record.key_uri.startswith("file:")
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days <= 5 * 366


def test_organization_seal_certificate_from_csr(authority: CertificateAuthority):
    csr, key = make_csr("Ủy ban nhân dân tỉnh Bình Phước", "MST:3800100111")
    issued = authority.issue(IssuanceRequest("organization", csr=csr), actor="test:operator")
    certificate = issued.certificate
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    assert certificate.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "MST:3800100111"
    assert authority.get(issued.serial).key_uri is None  # the key stays with whoever made the CSR
    assert issued.chain[0].subject == authority.require_role("issuing-organizations").certificate.subject


def test_budget_code_organization(sqlite_authority: CertificateAuthority):
    subject = OrganizationSubject(name="Sở Tư pháp tỉnh Bình Phước", budget_code="1012345")
    issued = sqlite_authority.issue(IssuanceRequest("organisation", subject), actor="test")
    assert issued.certificate.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "MNS:1012345"


@pytest.mark.parametrize("profile", ["official", "organization"])
def test_openssl_and_pkilint_accept_subscriber_certificates(
    sqlite_authority: CertificateAuthority, tmp_path: Path, profile: str
):
    subject = DAO if profile == "official" else UBND
    issued = sqlite_authority.issue(IssuanceRequest(profile, subject, key_spec="rsa-3072"), actor="test")
    leaf = write_pem(tmp_path / "leaf.pem", [issued.certificate])
    root = write_pem(tmp_path / "root.pem", issued.chain[-1:])
    untrusted = write_pem(tmp_path / "untrusted.pem", issued.chain[:-1])
    result = openssl("verify", "-CAfile", str(root), "-untrusted", str(untrusted), str(leaf))
    assert result.stdout.strip() == f"{leaf}: OK", result.stderr
    text = openssl("x509", "-in", str(leaf), "-noout", "-text", "-nameopt", "utf8", check=True).stdout
    for expected in ("Digital Signature, Non Repudiation", "1.3.6.1.5.5.7.3.36", "CRL Distribution Points",
                     "OCSP - URI:http://127.0.0.1:8080/ocsp", "CA Issuers - URI:", "Certificate Policies",
                     "Authority Key Identifier", "Subject Key Identifier", "CA:FALSE"):
        assert expected in text
    assert ("Nguyễn Thị Hồng Đào" if profile == "official" else "Ủy ban nhân dân tỉnh Bình Phước") in text
    lint = lint_certificate(leaf)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_eku_purposes_per_profile(sqlite_authority: CertificateAuthority):
    official = sqlite_authority.issue(IssuanceRequest("official", DAO), "t").certificate
    eku = official.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not eku.critical and ExtendedKeyUsageOID.TIME_STAMPING not in eku.value


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (IssuanceRequest("official", PersonSubject("Lê Văn A", "12345")), InvalidSubject),
        (IssuanceRequest("official", PersonSubject("Lê Văn A", "999190012345")), InvalidSubject),
        (IssuanceRequest("official", PersonSubject("", "001190012345")), InvalidSubject),
        (IssuanceRequest("organization", OrganizationSubject("UBND", tax_code="12")), InvalidSubject),
        (IssuanceRequest("organization", OrganizationSubject("UBND")), InvalidSubject),
        (IssuanceRequest("no-such-profile", DAO), UnknownProfile),
        (IssuanceRequest("official", DAO, validity_days=6 * 365), InvalidRequest),
        (IssuanceRequest("official", DAO, key_spec="rsa-1024"), WeakKey),
        (IssuanceRequest("official", DAO, csr=b"not a csr"), InvalidCSR),
        (IssuanceRequest("official", DAO, csr=b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END"), InvalidCSR),
    ],
    ids=["short-cccd", "bad-province", "no-name", "bad-mst", "no-identifier", "unknown-profile", "too-long",
         "rsa-1024-generate", "garbage-csr", "truncated-csr"],
)
def test_bad_requests_are_refused_and_leave_nothing_behind(authority: CertificateAuthority, request_, error):
    before, files_before = counts(authority), key_files(authority)
    with pytest.raises(error):
        authority.issue(request_, actor="test")
    assert counts(authority) == before
    assert key_files(authority) == files_before


def test_weak_rsa_key_in_csr_is_refused(authority: CertificateAuthority):
    weak = rsa.generate_private_key(65537, 1024)
    csr, _ = make_csr("Lê Văn A", "CCCD:001190012345", key=weak)
    before = counts(authority)
    with pytest.raises(WeakKey):
        authority.issue(IssuanceRequest("official", csr=csr), actor="test")
    assert counts(authority) == before


def test_csr_with_a_forged_signature_is_refused(sqlite_authority: CertificateAuthority):
    csr_pem, _ = make_csr("Lê Văn A", "CCCD:001190012345")
    der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)
    forged = der[:-3] + bytes([der[-3] ^ 0x01]) + der[-2:]  # flip a bit in the signature
    with pytest.raises(InvalidCSR):
        sqlite_authority.issue(IssuanceRequest("official", csr=forged), actor="test")


def test_csr_subject_is_validated_like_typed_input(sqlite_authority: CertificateAuthority):
    csr, _ = make_csr("Lê Văn A", "CCCD:12")
    with pytest.raises(InvalidSubject):
        sqlite_authority.issue(IssuanceRequest("official", csr=csr), actor="test")


def test_failure_after_key_generation_removes_the_key(sqlite_authority: CertificateAuthority, monkeypatch):
    files_before = key_files(sqlite_authority)

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(audit, "append", explode)
    with pytest.raises(RuntimeError):
        sqlite_authority.issue(IssuanceRequest("official", DAO), actor="test")
    assert key_files(sqlite_authority) == files_before
    assert all(r.profile != "official" for r in sqlite_authority.list())


def test_subscriber_certificate_never_outlives_its_issuer(sqlite_authority: CertificateAuthority):
    issuer = sqlite_authority.require_role("issuing-individuals")
    issued = sqlite_authority.issue(IssuanceRequest("official", DAO, validity_days=5 * 365), actor="test")
    assert issued.record.not_after <= issuer.not_after


def test_two_hundred_concurrent_issuances(authority: CertificateAuthority):
    certificates_before, records_before = counts(authority)
    csr, _ = make_csr("Phạm Minh Chính", "CCCD:001190012345")

    def issue_one(_: int) -> str:
        return authority.issue(IssuanceRequest("official", csr=csr), actor="test:load").serial

    with ThreadPoolExecutor(max_workers=16) as pool:
        serials = list(pool.map(issue_one, range(200)))
    assert len(set(serials)) == 200
    certificates, records = counts(authority)
    assert certificates - certificates_before == 200
    assert records - records_before == 200
    with authority.database.transaction() as session:
        assert audit.verify_chain(session).ok


def test_cli_issue_from_csr_and_generated_key(egov, tmp_path: Path):
    egov("ca", "init", check=True)
    csr, _ = make_csr("Ủy ban nhân dân tỉnh Bình Phước", "MST:3800100111")
    (tmp_path / "req.pem").write_bytes(csr)
    from_csr = egov("ca", "issue", "--profile", "organization", "--csr", str(tmp_path / "req.pem"),
                    "--out", str(tmp_path / "seal.pem"), check=True)
    assert "UID=MST:3800100111" in from_csr.stdout
    certificates = x509.load_pem_x509_certificates((tmp_path / "seal.pem").read_bytes())
    assert certificates[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.startswith("Ủy ban")
    generated = egov("ca", "issue", "--profile", "official", "--generate-key", "--key-algorithm", "ec-p256",
                     "--name", "Nguyễn Thị Hồng Đào", "--cccd", "001190012345", "--title", "Chủ tịch",
                     "--out", str(tmp_path / "dao.pem"), check=True)
    assert "khóa / key: file:official-" in generated.stdout
    refused = egov("ca", "issue", "--profile", "official", "--generate-key", "--name", "X", "--cccd", "1")
    assert refused.returncode == 2
    assert "invalid-subject" in refused.stderr and "Traceback" not in refused.stderr
    unknown = egov("ca", "issue", "--profile", "nope", "--generate-key", "--name", "X", "--cccd", "001190012345")
    assert unknown.returncode == 2 and "unknown-profile" in unknown.stderr
