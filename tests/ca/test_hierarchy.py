"""`egov ca init`: the hierarchy with RFC 5280 extensions, checked by openssl and pkilint; idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from ca.authority import HIERARCHY, CertificateAuthority
from ca.models import CertificateRecord
from egov import audit
from tests.support.pki import lint_certificate, openssl, write_pem


def test_init_creates_root_issuing_cas_tsa_and_ocsp_responders(authority: CertificateAuthority):
    records = {role: authority.require_role(role) for role in HIERARCHY}
    root = records["root"].certificate
    assert root.issuer == root.subject
    for role in ("issuing-individuals", "issuing-organizations"):
        certificate = records[role].certificate
        assert certificate.issuer == root.subject
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.key_cert_sign and usage.crl_sign
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1


def test_init_twice_changes_nothing(authority: CertificateAuthority):
    before = {r.serial for r in authority.list()}
    with authority.database.transaction() as session:
        records_before = audit.verify_chain(session).records
    assert authority.init_hierarchy("test:again") == []
    assert {r.serial for r in authority.list()} == before
    with authority.database.transaction() as session:
        assert audit.verify_chain(session).records == records_before


def test_service_certificates_carry_their_purposes(sqlite_authority: CertificateAuthority):
    tsa = sqlite_authority.require_role("tsa").certificate
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    for role in ("ocsp-individuals", "ocsp-organizations"):
        responder = sqlite_authority.require_role(role)
        certificate = responder.certificate
        assert list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.OCSP_SIGNING
        ]
        certificate.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK)
        # Delegated: issued by the CA whose certificates it answers for.
        issuer = sqlite_authority.require_role(role.replace("ocsp", "issuing"))
        assert certificate.issuer == issuer.certificate.subject


def test_issuing_ca_points_to_root_crl_and_certificate(sqlite_authority: CertificateAuthority):
    certificate = sqlite_authority.require_role("issuing-individuals").certificate
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://127.0.0.1:8080/crl/root.crl"
    access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    issuers = [a.access_location.value for a in access if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
    assert issuers == ["http://127.0.0.1:8080/ca/root.crt"]
    aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = sqlite_authority.require_role("root").certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    assert aki.key_identifier == root_ski.value.digest


def test_openssl_verifies_every_platform_certificate(sqlite_authority: CertificateAuthority, tmp_path: Path):
    root = write_pem(tmp_path / "root.pem", [sqlite_authority.require_role("root").certificate])
    for role in HIERARCHY:
        record = sqlite_authority.require_role(role)
        chain = sqlite_authority.chain(record)
        leaf = write_pem(tmp_path / f"{role}.pem", chain[:1])
        untrusted = write_pem(tmp_path / f"{role}-untrusted.pem", chain[1:-1] or chain[:1])
        result = openssl("verify", "-CAfile", str(root), "-untrusted", str(untrusted), str(leaf))
        assert result.stdout.strip().endswith(": OK"), result.stdout + result.stderr


def test_pkilint_finds_no_error_in_platform_certificates(sqlite_authority: CertificateAuthority, tmp_path: Path):
    for role in HIERARCHY:
        path = write_pem(tmp_path / f"{role}.pem", [sqlite_authority.require_role(role).certificate])
        result = lint_certificate(path)
        assert result.returncode == 0, f"{role}: {result.stdout}{result.stderr}"


def test_export_writes_pem_for_every_ca_certificate(egov, tmp_path: Path):
    egov("ca", "init", check=True)
    out = tmp_path / "public"
    egov("ca", "export", "--out", str(out), check=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{role}.pem" for role in HIERARCHY] + ["chain-individuals.pem", "chain-organizations.pem"])
    chain = x509.load_pem_x509_certificates((out / "chain-individuals.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=egov-trust Individuals CA,O=egov-trust,C=VN",
        "CN=egov-trust Root CA,O=egov-trust,C=VN",
    ]


def test_cli_init_is_idempotent(egov):
    first = egov("ca", "init", check=True)
    assert first.stdout.count("created") == len(HIERARCHY)
    second = egov("ca", "init", check=True)
    assert "nothing changed" in second.stdout


@pytest.mark.pkcs11
def test_hierarchy_with_keys_in_the_hsm(egov, tmp_path: Path, settings):
    egov("ca", "init", "--backend", "pkcs11", check=True)
    from egov.db import get_database

    with get_database(settings).transaction() as session:
        uris = [r.key_uri for r in session.query(CertificateRecord).filter(CertificateRecord.role.isnot(None))]
    assert uris and all(uri.startswith("pkcs11:token=egov-test;object=") for uri in uris)
    out = tmp_path / "public"
    egov("ca", "export", "--out", str(out), check=True)
    issued = egov(
        "ca", "issue", "--profile", "official", "--generate-key", "--backend", "pkcs11",
        "--name", "Trần Văn Bình", "--cccd", "079085001234", "--out", str(tmp_path / "leaf.pem"), check=True,
    )
    assert "pkcs11:token=egov-test" in issued.stdout
    result = openssl(
        "verify", "-CAfile", str(out / "root.pem"), "-untrusted", str(out / "issuing-individuals.pem"),
        str(tmp_path / "leaf.pem"),
    )
    assert result.stdout.strip().endswith(": OK"), result.stdout + result.stderr
