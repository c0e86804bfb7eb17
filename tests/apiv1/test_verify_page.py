"""The public page /verify: the form, the verdicts in plain Vietnamese, and errors shown as HTML."""

from __future__ import annotations

import re

import requests

from tests.apiv1.conftest import MAX_UPLOAD, PageVisitor, SignedDocuments
from tests.support.documents import SIGNER_NAME


def verdicts(html: str) -> tuple[str, list[str]]:
    """The overall data-verdict (#verdict) and each .signature's."""
    overall = re.search(r'id="verdict"[^>]*data-verdict="([a-z]+)"', html)
    assert overall, "no #verdict on the page"
    each = re.findall(r'class="signature [^"]*" data-verdict="([a-z]+)"', html)
    return overall.group(1), each


def assert_html_error(response: requests.Response, status: int, words: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'role="alert"' in response.text and words in response.text
    assert 'id="verify-form"' in response.text  # the form stays there to try again


def test_form_is_accessible_and_carries_the_csrf_token(api_server, visitor: PageVisitor):
    page = requests.get(visitor.url, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert '<form id="verify-form"' in html and 'enctype="multipart/form-data"' in html
    assert '<label for="verify-file">' in html and '<input id="verify-file" type="file" name="file"' in html
    assert 'name="csrf_token"' in html and '<html lang="vi">' in html and 'lang="en"' in html
    assert 'name="viewport"' in html


def test_post_without_the_csrf_token_is_refused(visitor: PageVisitor, documents: SignedDocuments):
    assert_html_error(visitor.upload(documents.valid, csrf=False), 400, "hết hạn")


def test_valid_document_shows_hop_le_signer_and_decree30_details(visitor: PageVisitor, documents: SignedDocuments):
    response = visitor.upload(documents.sealed)
    assert response.status_code == 200, response.text[:2000]
    html = response.text
    assert verdicts(html) == ("valid", ["valid", "valid"])
    assert "<strong>hợp lệ</strong>" in html and SIGNER_NAME in html and "CCCD:070186000123" in html
    assert "MST:3800123456" in html and "Chủ tịch" in html
    assert 'data-kind="personal"' in html and 'data-kind="seal"' in html
    assert "trang 2" in html and "B-B" in html and "+07:00" in html  # page, PAdES level, Vietnam time


def test_tampered_document_shows_khong_hop_le(visitor: PageVisitor, documents: SignedDocuments):
    response = visitor.upload(documents.tampered)
    assert response.status_code == 200
    assert verdicts(response.text) == ("invalid", ["invalid"])
    assert "<strong>không hợp lệ</strong>" in response.text and "thay đổi" in response.text


def test_content_changed_after_signing_shows_khong_xac_dinh(visitor: PageVisitor, documents: SignedDocuments):
    response = visitor.upload(documents.changed)
    overall, each = verdicts(response.text)
    assert overall == "indeterminate" and set(each) == {"indeterminate"}
    assert "<strong>không xác định</strong>" in response.text and 'data-modification="other"' in response.text


def test_errors_are_shown_on_the_page(visitor: PageVisitor, documents: SignedDocuments):
    assert_html_error(visitor.upload(b"hello, not a PDF", "note.pdf"), 400, "không phải là PDF")
    assert_html_error(visitor.upload(documents.unsigned), 422, "không có chữ ký")
    assert_html_error(visitor.upload(b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD + 1)), 413, "quá lớn")
