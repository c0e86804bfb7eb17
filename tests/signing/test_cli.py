"""`egov sign` and `egov verify` as people run them: the real command in a subprocess."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from tests.support.documents import official_document


def sign_args(signers, *extra: str) -> list[str]:
    return ["sign", "--credential", signers.official.serial, *extra]


def encrypted_pdf() -> bytes:
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, encrypt="mat-khau")
    pdf.drawString(100, 700, "Mật")
    pdf.save()
    return buffer.getvalue()


def test_sign_then_verify_a_decree30_document(egov, signers, document, tmp_path):
    source = tmp_path / "quyet-dinh.pdf"
    source.write_bytes(document.data)
    personal = tmp_path / "quyet-dinh.ky.pdf"
    sealed = tmp_path / "quyet-dinh.dau.pdf"
    egov(*sign_args(signers, str(source), "-o", str(personal), "--appearance", "personal",
                    "--placeholder", document.placeholder), check=True)
    egov("sign", "--credential", signers.agency.serial, str(personal), "-o", str(sealed), "--appearance", "seal",
         check=True)

    human = egov("verify", str(sealed), "--revocation", "off", check=True).stdout
    assert "HỢP LỆ / TOTAL-PASSED" in human and "Nguyễn Thị Hồng Đào" in human and "CCCD:070186000123" in human
    assert "MST:3800123456" in human and "+07:00" in human
    report = json.loads(egov("verify", str(sealed), "--json", "--revocation", "off", check=True).stdout)
    assert report["verdict"] == "TOTAL-PASSED" and len(report["signatures"]) == 2
    assert [s["signer"]["is_person"] for s in report["signatures"]] == [True, False]

    # Every signature went into the audit trail, and the chain still verifies.
    assert egov("audit", "verify").returncode == 0


def test_verify_exit_codes_say_failed_and_indeterminate(egov, signers, document, tmp_path):
    from tests.signing.test_validation import flip_inside_signed_range

    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    signed = tmp_path / "signed.pdf"
    egov(*sign_args(signers, str(source), "-o", str(signed)), check=True)
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(flip_inside_signed_range(signed.read_bytes()))
    failed = egov("verify", str(tampered), "--revocation", "off")
    assert failed.returncode == 1 and "KHÔNG HỢP LỆ / TOTAL-FAILED" in failed.stdout and "HASH_FAILURE" in failed.stdout
    # Nothing answers at the certificates' OCSP/CRL URLs here: revocation cannot be established.
    unsure = egov("verify", str(signed), "--json")
    assert unsure.returncode == 3 and json.loads(unsure.stdout)["signatures"][0]["subindication"] == "TRY_LATER"
    assert "Traceback" not in unsure.stderr


def test_trust_option_adds_a_root_and_no_default_trust_drops_ours(egov, signers, document, tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding

    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    signed = tmp_path / "signed.pdf"
    egov(*sign_args(signers, str(source), "-o", str(signed)), check=True)
    untrusted = egov("verify", str(signed), "--revocation", "off", "--no-default-trust", "--json")
    assert untrusted.returncode == 3 and json.loads(untrusted.stdout)["signatures"][0]["trusted"] is False
    root = tmp_path / "root.pem"
    root.write_bytes(signers.root.public_bytes(Encoding.PEM))
    egov("verify", str(signed), "--revocation", "off", "--no-default-trust", "--trust", str(root), check=True)


BAD_INPUTS = {
    "not-a-pdf": (b"Xin chao, day khong phai PDF\n", "invalid-document"),
    "encrypted": (encrypted_pdf(), "encrypted-document"),
    "broken-xref": (None, "invalid-document"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gives_a_clear_error_and_no_output(egov, signers, document, tmp_path, kind):
    data, code = BAD_INPUTS[kind]
    if data is None:
        at = document.data.index(b"xref")
        data = document.data[:at] + b"xrex" + document.data[at + 4 :]
    source = tmp_path / f"{kind}.pdf"
    source.write_bytes(data)
    out = tmp_path / "out.pdf"
    result = egov(*sign_args(signers, str(source), "-o", str(out)))
    assert result.returncode != 0 and f"[{code}]" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.pdf*"))
    verified = egov("verify", str(source))
    assert verified.returncode == 1 and f"[{code}]" in verified.stderr


def test_too_many_pages_is_refused(egov, signers, tmp_path):
    source = tmp_path / "long.pdf"
    source.write_bytes(official_document(pages=4).data)
    out = tmp_path / "out.pdf"
    result = egov(*sign_args(signers, str(source), "-o", str(out)), env={"EGOV_MAX_PDF_PAGES": "3"})
    assert result.returncode != 0 and "[document-too-large]" in result.stderr and not out.exists()


def test_a_document_without_signatures_does_not_verify(egov, signers, document, tmp_path):
    source = tmp_path / "unsigned.pdf"
    source.write_bytes(document.data)
    result = egov("verify", str(source))
    assert result.returncode == 1 and "[no-signatures]" in result.stderr


def test_a_field_that_does_not_exist_is_refused(egov, signers, document, tmp_path):
    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    out = tmp_path / "out.pdf"
    result = egov(*sign_args(signers, str(source), "-o", str(out), "--appearance", "personal", "--placeholder", "Nope"))
    assert result.returncode != 0 and "[signature-field-not-found]" in result.stderr and not out.exists()


def test_seal_without_personal_signature_is_refused_by_the_command(egov, signers, document, tmp_path):
    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    out = tmp_path / "out.pdf"
    result = egov("sign", "--credential", signers.agency.serial, str(source), "-o", str(out), "--appearance", "seal")
    assert result.returncode != 0 and "[seal-needs-personal-signature]" in result.stderr and not out.exists()


def test_unknown_or_revoked_credential_is_refused(egov, signers, document, tmp_path):
    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    out = tmp_path / "out.pdf"
    unknown = egov("sign", "--credential", "abc123", str(source), "-o", str(out))
    assert unknown.returncode == 2 and "[credential-unusable]" in unknown.stderr
    signers.authority.revoke(signers.official.serial, "keyCompromise", "test")
    revoked = egov(*sign_args(signers, str(source), "-o", str(out)))
    assert revoked.returncode == 2 and "revoked" in revoked.stderr and not out.exists()


def test_batch_signs_a_folder_continues_past_bad_files_and_summarises(egov, signers, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(3):
        (inbox / f"van-ban-{n}.pdf").write_bytes(official_document(pages=1, number=f"{n}/QĐ-UBND").data)
    (inbox / "hong.pdf").write_bytes(b"not a pdf")
    (inbox / "ghi-chu.txt").write_text("ignored: not a PDF by name")
    outbox = tmp_path / "outbox"
    result = egov(*sign_args(signers, str(inbox), "-o", str(outbox)))
    assert result.returncode == 1
    assert "signed: 3, lỗi / failed: 1" in result.stdout and "hong.pdf" in result.stderr
    assert sorted(p.name for p in outbox.iterdir()) == ["van-ban-0.pdf", "van-ban-1.pdf", "van-ban-2.pdf"]

    verified = egov("verify", str(outbox), str(inbox / "hong.pdf"), "--revocation", "off", "--json")
    payload = json.loads(verified.stdout)
    assert verified.returncode == 1 and payload["summary"] == {"total": 4, "passed": 3}
    assert [Path(d["document"]).name for d in payload["documents"] if d["verdict"] is None] == ["hong.pdf"]


def test_time_services_down_is_a_clear_error_and_no_output(egov, signers, document, tmp_path):
    source = tmp_path / "in.pdf"
    source.write_bytes(document.data)
    out = tmp_path / "out.pdf"
    # Nothing listens at the TSA, OCSP or CRL URLs in this test.
    for level, code in (("B-T", "time-service-unavailable"), ("B-LT", "credential-unusable")):
        result = egov(*sign_args(signers, str(source), "-o", str(out), "--level", level,
                                 "--tsa-url", "http://127.0.0.1:9/tsa"))
        assert result.returncode == 1 and f"[{code}]" in result.stderr and not out.exists(), result.stderr
