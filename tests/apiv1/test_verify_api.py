"""POST /api/v1/verify: a report per signature, in ETSI terms and in Vietnamese; refusals as problem+json."""

from __future__ import annotations

import pytest
import requests

from signing import appearance as d30
from signing.signer import DocumentSigner, SignatureRequest
from tests.apiv1.conftest import MAX_UPLOAD, SignedDocuments
from tests.signing.conftest import Signers
from tests.support.documents import SIGNER_NAME
from tests.support.server import PkiServer


def verify(server: PkiServer, data: bytes, name: str = "document.pdf") -> requests.Response:
    return requests.post(f"{server.url}/api/v1/verify", files={"file": (name, data, "application/pdf")}, timeout=120)


def assert_problem(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].endswith(f"/{code}")
    return body


def test_valid_signature_reads_hop_le_with_signer_time_and_place(api_server, documents: SignedDocuments):
    response = verify(api_server, documents.valid, "quyet-dinh-123.pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    report = response.json()
    assert report["verdict"] == "TOTAL-PASSED" and report["verdict_vi"] == "hợp lệ"
    assert report["document"] == "quyet-dinh-123.pdf"
    [signature] = report["signatures"]
    assert signature["signer"]["name"] == SIGNER_NAME and signature["signer"]["identifier"] == "CCCD:070186000123"
    assert signature["kind"] == "personal" and signature["level"] == "B-B"
    assert signature["coverage"] == "entire-file" and signature["modification"] == "none"
    assert signature["revocation"] == "good"  # checked live against this server's OCSP responder
    assert signature["page"] == 1 and len(signature["box"]) == 4
    assert signature["claimed_signing_time"].endswith("+07:00")


def test_seal_is_reported_as_the_organisations_signature(api_server, documents: SignedDocuments):
    report = verify(api_server, documents.sealed).json()
    assert report["verdict"] == "TOTAL-PASSED"
    personal, seal = report["signatures"]
    assert (personal["kind"], seal["kind"]) == ("personal", "seal")
    assert seal["signer"]["identifier"] == "MST:3800123456" and personal["modification"] == "form-filling"


@pytest.mark.parametrize(("notice", "kind"), [
    (d30.CopyNotice("SAO Y", "Văn phòng Ủy ban nhân dân tỉnh Bình Phước"), "copy"),
    (d30.AttachmentNotice("123/QĐ-UBND"), "attachment"),
])
def test_copies_and_attachments_are_told_apart(api_server, signers: Signers, documents: SignedDocuments, notice, kind):
    signed = DocumentSigner(signers.agency, signers.authority.settings).sign(
        documents.unsigned, SignatureRequest(appearance=notice)).data
    report = verify(api_server, signed).json()
    [signature] = [s for s in report["signatures"] if s["kind"] == kind]
    assert signature["verdict"] == "TOTAL-PASSED" and signature["page"] == 0  # top right of the first page


def test_tampered_document_is_khong_hop_le(api_server, documents: SignedDocuments):
    report = verify(api_server, documents.tampered).json()
    assert report["verdict"] == "TOTAL-FAILED" and report["verdict_vi"] == "không hợp lệ"
    assert report["signatures"][0]["subindication"] == "HASH_FAILURE"


def test_content_changed_after_signing_is_khong_xac_dinh(api_server, documents: SignedDocuments):
    report = verify(api_server, documents.changed).json()
    assert report["verdict"] == "INDETERMINATE" and report["verdict_vi"] == "không xác định"
    assert all(s["subindication"] == "CONTENT_CHANGED" for s in report["signatures"])


def test_unsigned_pdf_is_refused_with_422(api_server, documents: SignedDocuments):
    body = assert_problem(verify(api_server, documents.unsigned), 422, "no-signatures")
    assert "không có chữ ký" in body["detail"]


def test_file_that_is_not_a_pdf_is_refused_with_400(api_server):
    assert_problem(verify(api_server, b"GIF89a not a document", "picture.pdf"), 400, "invalid-document")


def test_request_without_the_file_is_refused_with_400(api_server):
    response = requests.post(f"{api_server.url}/api/v1/verify", data={"other": "x"}, timeout=30)
    assert_problem(response, 400, "invalid-parameter")


def test_upload_over_the_limit_is_413_problem_not_a_server_error(api_server):
    body = assert_problem(verify(api_server, b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD + 1)), 413, "request-entity-too-large")
    assert str(MAX_UPLOAD) in body["detail"]
