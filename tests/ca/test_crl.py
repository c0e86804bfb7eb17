"""CRLs (RFC 5280 §5): numbering, validity, entries with reasons, certificateHold, signature, pkilint, the CLI."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.crl import CrlPublisher
from ca.errors import NotFound
from ca.names import PersonSubject
from tests.support.pki import pkilint_tool

SUBJECT = PersonSubject("Phạm Thị Thu Hà", "001190012345", title="Chánh Văn phòng")


@pytest.fixture
def publisher(authority: CertificateAuthority) -> CrlPublisher:
    return CrlPublisher(authority)


def issue(authority: CertificateAuthority) -> str:
    return authority.issue(IssuanceRequest("official", SUBJECT), actor="test").serial


def load(der: bytes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(der)


def entry(crl: x509.CertificateRevocationList, serial: str) -> x509.RevokedCertificate | None:
    return crl.get_revoked_certificate_by_serial_number(int(serial, 16))


def test_crl_is_signed_by_the_ca_with_number_validity_aki_and_distribution_point(authority, publisher):
    published = publisher.current("individuals")
    crl = load(published.der)
    issuer = authority.require_role("issuing-individuals").certificate
    assert crl.is_signature_valid(issuer.public_key())
    assert crl.issuer == issuer.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == published.number
    assert crl.next_update_utc - crl.last_update_utc == authority.settings.crl_validity
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
    assert idp.critical and idp.value.full_name[0].value == f"{authority.settings.public_base_url}/crl/individuals.crl"
    # The URL in the CRL is the one the certificates carry.
    leaf = authority.issue(IssuanceRequest("official", SUBJECT), actor="test").certificate
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == idp.value.full_name[0].value


def test_unchanged_crl_is_served_again_and_a_status_change_brings_the_next_number(authority, publisher):
    first = publisher.current("individuals")
    assert publisher.current("individuals").number == first.number
    serial = issue(authority)
    assert publisher.current("individuals").number == first.number  # issuance changes no status
    authority.revoke(serial, "keyCompromise", actor="test")
    second = publisher.current("individuals")
    assert second.number == first.number + 1 and entry(load(second.der), serial) is not None


def test_entries_carry_reason_and_invalidity_date_and_unspecified_has_no_reason(authority, publisher):
    compromised, unspecified = issue(authority), issue(authority)
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    authority.revoke(compromised, "keyCompromise", actor="test", invalidity_date=since)
    authority.revoke(unspecified, "unspecified", actor="test")
    crl = load(publisher.current("individuals").der)
    revoked = entry(crl, compromised)
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert revoked.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == since
    assert revoked.revocation_date_utc == authority.get(compromised).status_changed_at.replace(microsecond=0)
    plain = entry(crl, unspecified)
    assert plain is not None
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_oid(CRLEntryExtensionOID.CRL_REASON)


def test_suspended_certificate_is_on_hold_and_leaves_the_crl_when_released(authority, publisher):
    serial = issue(authority)
    authority.suspend(serial, actor="test")
    held = entry(load(publisher.current("individuals").der), serial)
    assert held.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.certificate_hold
    authority.release(serial, actor="test")
    assert entry(load(publisher.current("individuals").der), serial) is None


def test_root_crl_lists_a_revoked_issuing_ca(authority, publisher):
    organisations = authority.require_role("issuing-organizations")
    authority.revoke(organisations.serial, "cACompromise", actor="test")
    crl = load(publisher.current("root").der)
    assert crl.is_signature_valid(authority.require_role("root").certificate.public_key())
    assert entry(crl, organisations.serial) is not None
    idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT).value
    assert idp.only_contains_ca_certs and not idp.only_contains_user_certs


def test_crl_is_rebuilt_once_half_its_validity_has_passed(authority, publisher):
    first = publisher.current("individuals")
    later = first.this_update + authority.settings.crl_validity / 2 + timedelta(seconds=1)
    assert publisher.current("individuals", now=later).number == first.number + 1


def test_concurrent_publishers_hand_out_distinct_increasing_numbers(sqlite_authority):
    publisher = CrlPublisher(sqlite_authority)
    numbers: list[int] = []
    threads = [
        threading.Thread(target=lambda: numbers.append(publisher.publish("issuing-individuals", "test").number))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [1, 2, 3, 4]


def test_unknown_crl_is_not_found(publisher):
    with pytest.raises(NotFound):
        publisher.current("nobody")


def test_pkilint_finds_nothing_in_crls_with_every_kind_of_entry(sqlite_authority, tmp_path: Path):
    authority = sqlite_authority
    publisher = CrlPublisher(authority)
    for reason in ("keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified"):
        authority.revoke(issue(authority), reason, actor="test",
                         invalidity_date=datetime.now(UTC) - timedelta(days=1))
    authority.suspend(issue(authority), actor="test")
    for slug, kind in (("individuals", "CRL"), ("organizations", "CRL"), ("root", "ARL")):
        path = tmp_path / f"{slug}.crl"
        path.write_bytes(publisher.current(slug).der)
        result = subprocess.run(
            [pkilint_tool("lint_crl"), "lint", "-s", "INFO", "-t", kind, "-p", "PKIX", str(path)],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, f"{slug}: {result.stdout}{result.stderr}"


def test_egov_ca_crl_writes_the_next_crl(egov, sqlite_authority, tmp_path: Path):
    serial = issue(sqlite_authority)
    egov("ca", "revoke", serial, "--reason", "superseded", check=True)
    out = tmp_path / "individuals.crl"
    result = egov("ca", "crl", "--ca", "individuals", "--out", str(out), check=True)
    crl = load(out.read_bytes())
    assert entry(crl, serial) is not None and "1 entries" in result.stdout
    pem = tmp_path / "individuals.pem"
    egov("ca", "crl", "--pem", "--out", str(pem), check=True)
    again = x509.load_pem_x509_crl(pem.read_bytes())
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == (
        crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    )
    refused = egov("ca", "crl", "--ca", "nobody")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr


def test_entries_are_encoded_exactly_as_cryptography_encodes_them(sqlite_authority):
    """The entries are encoded by hand for speed; the to-be-signed bytes equal those of cryptography's builder."""
    from ca.authority import REVOCATION_REASONS
    from ca.crl import RevokedEntry, sign_revocation_list
    from ca.keys import SignatureScheme
    from ca.signature import sign_crl

    record = sqlite_authority.require_role("issuing-individuals")
    issuer, key = record.certificate, sqlite_authority.signing_key(record)
    now = datetime.now(UTC).replace(microsecond=0)
    late = datetime(2051, 1, 1, 7, 30, tzinfo=UTC)  # GeneralizedTime from 2050 on
    entries = [
        RevokedEntry(1, now, "keyCompromise", now - timedelta(days=1)), RevokedEntry(0x80, now, None),
        RevokedEntry(0xFF, now, "unspecified"),
        RevokedEntry(2**158 + 12345, now - timedelta(days=400), "certificateHold"),
        RevokedEntry(0x7FFF, late, "privilegeWithdrawn", late), RevokedEntry(10**40, now, "cACompromise"),
    ]
    ours = x509.load_der_x509_crl(sign_revocation_list(
        issuer, key, number=7, this_update=now, next_update=now + timedelta(days=1), entries=entries,
        distribution_point="http://127.0.0.1:8080/crl/individuals.crl"))
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(issuer.subject).last_update(now)
        .next_update(now + timedelta(days=1)).add_extension(x509.CRLNumber(7), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), False)
        .add_extension(x509.IssuingDistributionPoint(
            [x509.UniformResourceIdentifier("http://127.0.0.1:8080/crl/individuals.crl")], None, True, False, None,
            False, False), True)
    )
    reasons = {**REVOCATION_REASONS, "certificateHold": x509.ReasonFlags.certificate_hold}
    for item in entries:
        revoked = x509.RevokedCertificateBuilder().serial_number(item.serial).revocation_date(item.revoked_at)
        if item.reason and item.reason != "unspecified":  # RFC 5280 §5.3.1: unspecified is not stated
            revoked = revoked.add_extension(x509.CRLReason(reasons[item.reason]), False)
        if item.invalidity_date:
            revoked = revoked.add_extension(x509.InvalidityDate(item.invalidity_date.replace(tzinfo=None)), False)
        builder = builder.add_revoked_certificate(revoked.build())
    reference = sign_crl(builder, key, SignatureScheme.default_for(key.public_key()))
    assert ours.tbs_certlist_bytes == reference.tbs_certlist_bytes
    assert ours.is_signature_valid(issuer.public_key())
