"""B-T, B-LT and B-LTA against the real `egov serve` (TSA, OCSP, CRL) whose URLs the certificates carry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from signing.signer import DocumentSigner, PadesLevel, SignatureRequest
from signing.validation import DocumentValidator, Verdict
from tests.signing.conftest import Signers, issue_signers
from tests.signing.test_signing import PERSONAL, SEAL
from tests.support.pdfpeers import nss_database, pdfsig, pdfsig_blocks, pyhanko_statuses


@pytest.fixture
def live(pki_server) -> Signers:
    return issue_signers(pki_server.authority)


def strict_validator(signers: Signers, allow_fetching: bool = True) -> DocumentValidator:
    return DocumentValidator(signers.authority.settings, (signers.root,), revocation="require",
                             allow_fetching=allow_fetching)


def sign(signers: Signers, data: bytes, level: PadesLevel, request: SignatureRequest = PERSONAL,
         credential: str = "official") -> bytes:
    credential_ = signers.official if credential == "official" else signers.agency
    return DocumentSigner(credential_, signers.authority.settings, level).sign(data, request).data


@pytest.mark.parametrize("level", [PadesLevel.B_B, PadesLevel.B_T, PadesLevel.B_LT, PadesLevel.B_LTA])
def test_each_level_is_reached_and_peers_agree(live, pki_server, document, tmp_path, level):
    signed = sign(live, document.data, level)
    report = strict_validator(live).validate(signed)
    [signature] = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED, signature
    assert signature.level == level.value and signature.revocation == "good"
    if level.timestamped:
        assert signature.timestamp_valid and signature.timestamp_time is not None
        assert abs(signature.timestamp_time - signature.claimed_signing_time) < timedelta(minutes=1)

    path = tmp_path / f"{level.value}.pdf"
    path.write_bytes(signed)
    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [live.root])))
    assert "Signature is Valid." in blocks[0]
    if level is not PadesLevel.B_LTA:  # B-LTA's document timestamp comes after, so the signature is not last
        assert "Total document signed" in blocks[0]
    else:
        assert "Total document signed" in blocks[-1]  # the document timestamp covers everything
    [status] = pyhanko_statuses(signed, [live.root], revocation_mode="require")
    assert status.intact and status.valid and status.trusted and status.bottom_line


def test_long_term_signatures_verify_from_embedded_evidence_with_the_services_gone(live, pki_server, document):
    lt = sign(live, document.data, PadesLevel.B_LT)
    lta = sign(live, document.data, PadesLevel.B_LTA)
    pki_server.stop()
    offline = strict_validator(live, allow_fetching=False)
    for data, level in ((lt, "B-LT"), (lta, "B-LTA")):
        [signature] = offline.validate(data).signatures
        assert signature.verdict is Verdict.TOTAL_PASSED and signature.level == level, signature


def test_personal_signature_then_seal_at_b_lt_both_stay_valid(live, pki_server, document, tmp_path):
    personal = sign(live, document.data, PadesLevel.B_LT)
    sealed = sign(live, personal, PadesLevel.B_LT, SEAL, credential="agency")
    report = strict_validator(live).validate(sealed)
    assert [s.verdict for s in report.signatures] == [Verdict.TOTAL_PASSED] * 2
    assert [s.level for s in report.signatures] == ["B-LT", "B-LT"]
    assert report.signatures[0].modification in ("form-filling", "ltv-updates")
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [live.root])))
    assert len(blocks) == 2 and all("Signature is Valid." in b for b in blocks)


def test_certificate_revoked_before_signing_is_total_failed(live, pki_server, document):
    # The key signs after its certificate was revoked (e.g. a stolen key used later): the credential object
    # predates the revocation, as a thief's copy would.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    live.authority.revoke(live.official.serial, "keyCompromise", "test", revoked_at=an_hour_ago)
    signed = DocumentSigner(live.official, live.authority.settings, PadesLevel.B_T).sign(document.data, PERSONAL).data
    [signature] = strict_validator(live).validate(signed).signatures
    assert signature.verdict is Verdict.TOTAL_FAILED, signature
    assert signature.revocation == "revoked" and "thu hồi" in signature.reason_vi


def test_certificate_revoked_after_a_b_lt_timestamp_still_passes(live, pki_server, document):
    signed = sign(live, document.data, PadesLevel.B_LT)
    time.sleep(1.1)  # timestamps and revocation times have whole seconds: make "after" unambiguous
    live.authority.revoke(live.official.serial, "affiliationChanged", "test")
    [signature] = strict_validator(live).validate(signed).signatures
    assert signature.verdict is Verdict.TOTAL_PASSED, (signature.subindication, signature.revoked_at)
    assert signature.level == "B-LT" and signature.revocation == "revoked"


def test_revoked_certificate_cannot_sign_through_the_platform(live, pki_server):
    from signing.credentials import load_credential
    from signing.errors import CredentialUnusable

    live.authority.revoke(live.official.serial, "keyCompromise", "test")
    with pytest.raises(CredentialUnusable):
        load_credential(live.authority, live.official.serial)


def test_cli_signs_a_batch_at_b_lt(egov, live, pki_server, tmp_path):
    from tests.support.documents import official_document

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(2):
        (inbox / f"{n}.pdf").write_bytes(official_document(pages=1, number=f"{n}/QĐ-UBND").data)
    out = tmp_path / "out"
    egov("sign", str(inbox), "-o", str(out), "--credential", live.agency.serial, "--level", "B-LT", check=True)
    result = egov("verify", str(out), "--json", check=True)
    assert [d["signatures"][0]["level"] for d in __import__("json").loads(result.stdout)["documents"]] == ["B-LT"] * 2


@pytest.mark.pkcs11
def test_a_key_in_the_hsm_signs_b_lta(pki_server, document, tmp_path):
    hsm = issue_signers(pki_server.authority, backend="pkcs11")
    signed = sign(hsm, document.data, PadesLevel.B_LTA)
    [signature] = strict_validator(hsm).validate(signed).signatures
    assert signature.verdict is Verdict.TOTAL_PASSED and signature.level == "B-LTA", signature.subindication
    path = tmp_path / "hsm-lta.pdf"
    path.write_bytes(signed)
    assert "Signature is Valid." in pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [hsm.root])))[0]
