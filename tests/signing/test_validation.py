"""Validation: tampering, later changes, untrusted roots, documents without signatures."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints

from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.settings import Settings
from signing.errors import InvalidDocument, NoSignatures
from signing.signer import DocumentSigner
from signing.validation import DocumentValidator, Verdict
from tests.signing.test_signing import PERSONAL, offline_validator, sign_and_seal
from tests.support.pdfpeers import nss_database, pdfsig, pdfsig_blocks, pyhanko_statuses


def flip_inside_signed_range(data: bytes) -> bytes:
    """Change one byte of the document information (inside every signature's first byte range)."""
    at = data.index(b"ReportLab Generated PDF document")
    return data[:at] + b"X" + data[at + 1 :]


def add_content_after_signing(data: bytes) -> bytes:
    """An incremental update that draws on page 1 (what a forger would do to change the visible text)."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    overlay = RawContent(b"BT /F1 24 Tf 100 500 Td (KHONG CO HIEU LUC) Tj ET", box=BoxConstraints(595, 842))
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(stream_data=overlay.render())))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_one_byte_changed_inside_the_signed_range_is_total_failed(signers, document, tmp_path):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL).data
    tampered = flip_inside_signed_range(signed)
    [signature] = offline_validator(signers).validate(tampered).signatures
    assert signature.verdict is Verdict.TOTAL_FAILED and signature.subindication == "HASH_FAILURE"
    assert not signature.intact and "thay đổi" in signature.reason_vi
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    assert "Digest Mismatch." in pdfsig(path)
    [status] = pyhanko_statuses(tampered, [signers.root], "none")
    assert not status.intact and not status.bottom_line


def test_content_changed_by_a_later_incremental_update_is_not_total_passed(signers, document, tmp_path):
    _, sealed = sign_and_seal(signers, document)
    changed = add_content_after_signing(sealed)
    report = offline_validator(signers).validate(changed)
    assert report.verdict is Verdict.INDETERMINATE
    for signature in report.signatures:
        assert signature.intact and signature.valid  # the signatures themselves are sound…
        assert signature.subindication == "CONTENT_CHANGED" and signature.modification == "other"  # …the page not
        assert "sau khi ký" in signature.reason_vi and "changed" in signature.reason_en
    # pdfsig does not notice (FIELD-NOTES); pyHanko's diff analysis does, like ours.
    path = tmp_path / "changed.pdf"
    path.write_bytes(changed)
    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss", [signers.root])))
    assert blocks and all("Signature is Valid." in block for block in blocks)
    assert not any(s.bottom_line for s in pyhanko_statuses(changed, [signers.root], "none"))


def test_appended_signatures_are_not_content_changes(signers, document):
    _, sealed = sign_and_seal(signers, document)
    personal, seal = offline_validator(signers).validate(sealed).signatures
    assert personal.modification == "form-filling" and personal.verdict is Verdict.TOTAL_PASSED


def test_a_root_we_do_not_trust_gives_no_chain(signers, document, tmp_path):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL).data
    other_settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path / "other"),
                                        "EGOV_KEY_PASSPHRASE": "another-passphrase-for-tests"})
    other = CertificateAuthority(other_settings, get_database(other_settings))
    other.init_hierarchy("test:setup")
    foreign_root = other.require_role("root").certificate
    validator = DocumentValidator(signers.authority.settings, (foreign_root,), revocation="off")
    [signature] = validator.validate(signed).signatures
    assert signature.verdict is Verdict.INDETERMINATE and not signature.trusted
    assert signature.subindication in ("NO_CERTIFICATE_CHAIN_FOUND", "CERTIFICATE_CHAIN_GENERAL_FAILURE")
    # The same signature passes once the user adds our root.
    validator = DocumentValidator(signers.authority.settings, (foreign_root, signers.root), revocation="off")
    assert validator.validate(signed).verdict is Verdict.TOTAL_PASSED


def test_our_root_is_trusted_by_default(signers, document):
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL).data
    validator = DocumentValidator(signers.authority.settings, revocation="off")
    assert signers.root in validator.anchors
    assert validator.validate(signed).verdict is Verdict.TOTAL_PASSED


def test_a_document_without_signatures_is_refused(signers, document):
    with pytest.raises(NoSignatures):
        offline_validator(signers).validate(document.data)


def test_revocation_required_without_a_responder_is_indeterminate_not_failed(signers, document):
    """Nothing at the OCSP/CRL URLs (no server in this test): we cannot say, so we do not pass or fail it."""
    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL).data
    validator = DocumentValidator(signers.authority.settings, (signers.root,), revocation="require")
    [signature] = validator.validate(signed).signatures
    assert signature.verdict is Verdict.INDETERMINATE
    assert signature.subindication == "TRY_LATER" and signature.revocation == "unknown"


def test_report_serialises_to_json_with_vietnam_times(signers, document):
    import json

    signed = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL)
    data = offline_validator(signers).validate(signed.data).to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert data["verdict"] == "TOTAL-PASSED" and "Nguyễn Thị Hồng Đào" in text
    assert data["signatures"][0]["claimed_signing_time"].endswith("+07:00")
    assert data["signatures"][0]["signer"]["identifier"] == "CCCD:070186000123"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_files_are_refused_with_a_reason(signers, document, damage):
    data = document.data[: len(document.data) // 3] if damage == "truncated" else b"%PDF-1.7\n" + b"\x00junk" * 50
    with pytest.raises(InvalidDocument):
        offline_validator(signers).validate(data)
