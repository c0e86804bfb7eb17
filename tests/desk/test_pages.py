"""The signing desk's pages end to end: a real Keycloak login, uploads, the page preview and signature box, an
approval with the OTP step-up that signs the batch, the clerk's seal, downloads checked by our validator and
pdfsig, and the refusals (roles, CSRF, non-PDF, someone else's document, back-channel logout)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from signing.desk_documents import DeskDocuments, DeskRefusal
from signing.desk_models import DeskDocumentRecord
from signing.remote.directory import KeycloakDirectory
from signing.remote.service import Caller, RemoteSigningService
from signing.validation import Verdict, validate_pdf
from tests.desk.conftest import DeskBrowser, DeskWorld, content_disposition_name
from tests.support.documents import official_document
from tests.support.pdfpeers import nss_database, pdfsig, pdfsig_blocks

VIETNAMESE_NAME = "Quyết định – Nguyễn Thị Hồng Đào.pdf"
OTHER_NAME = "cong-van-so-45.pdf"


@dataclass
class SignedBatch:
    official: DeskBrowser
    ids: dict[str, int]  # file name -> document id
    placements: dict[str, tuple[int, tuple[float, float, float, float]]]  # 1-based page, box
    downloads: dict[str, bytes]
    approval: object


def wait_for(condition, seconds: float = 20.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def within(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


@pytest.fixture(scope="module")
def signed_batch(desk: DeskWorld) -> SignedBatch:
    """The official logs in, uploads two PDFs, moves one signature box, and approves both with an OTP."""
    official = desk.browser()
    landing = official.get()
    assert "login" in landing.parsed.ids and landing.status == 200
    home = official.login("official")
    assert home.status == 200 and "upload-form" in home.parsed.ids and "logout" in home.parsed.ids
    earlier = set(home.document_ids())  # other tests may have left documents of this official
    first, second = official_document(pages=2, placeholder=False), official_document(pages=1, placeholder=False)
    uploaded = official.upload([(VIETNAMESE_NAME, first.data), (OTHER_NAME, second.data)])
    assert uploaded.status_code == 302, uploaded.text
    page = official.get()
    rows = {r["data-document-id"]: r for r in page.parsed.rows["documents"]
            if int(r["data-document-id"]) not in earlier}
    assert len(rows) == 2 and all(r["data-status"] == "pending" for r in rows.values())
    with desk.authority.database.transaction() as session:
        records = session.query(DeskDocumentRecord).filter(DeskDocumentRecord.id.in_([int(i) for i in rows])).all()
        ids = {r.file_name: r.id for r in records}
        defaults = {r.file_name: (r.page, (r.box_x1, r.box_y1, r.box_x2, r.box_y2)) for r in records}
    assert set(ids) == {VIETNAMESE_NAME, OTHER_NAME}
    assert defaults[VIETNAMESE_NAME][0] == 2 and defaults[OTHER_NAME][0] == 1  # last page by default
    assert defaults[OTHER_NAME][1][2] > 500 and defaults[OTHER_NAME][1][1] < 200  # bottom right of A4

    # The preview of the chosen page, then the box between the position title and the name of the first one.
    chooser = official.get(f"/desk/documents/{ids[VIETNAMESE_NAME]}")
    assert chooser.status == 200 and {"preview", "placement-form", "x1", "y2"} <= chooser.parsed.ids
    preview = official.http.get(official.url(f"/desk/documents/{ids[VIETNAMESE_NAME]}/preview.png?page=1"),
                                timeout=60)
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG\r\n\x1a\n")
    area = first.signature_area
    saved = official.post(f"/desk/documents/{ids[VIETNAMESE_NAME]}/placement",
                          {"page": "2", **dict(zip(("x1", "y1", "x2", "y2"), map(str, area.box), strict=True))})
    assert saved.status_code == 302, saved.text
    placements = {VIETNAMESE_NAME: (2, area.box), OTHER_NAME: defaults[OTHER_NAME]}

    approval = official.approve([ids[VIETNAMESE_NAME], ids[OTHER_NAME]])
    assert approval.status == 200 and "notice" in approval.parsed.ids, approval.text[:3000]
    assert 'class="notice ok"' in approval.text, approval.text[:3000]
    assert {approval.statuses()[i] for i in ids.values()} == {"signed"}
    downloads = {}
    for name, document_id in ids.items():
        answer = official.http.get(official.url(f"/desk/documents/{document_id}/download"), timeout=60)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf"
        assert content_disposition_name(answer) == name
        downloads[name] = answer.content
    assert len(approval.parsed.links["download"]) >= 2
    return SignedBatch(official, ids, placements, downloads, approval)


def test_official_signs_two_uploads_with_one_otp_approval_and_downloads_valid_pdfs(
        desk: DeskWorld, signed_batch: SignedBatch, tmp_path: Path):
    assert "B-T" in signed_batch.approval.text  # the level is shown
    nss = nss_database(tmp_path / "nss", [desk.authority.require_role("root").certificate])
    for name, data in signed_batch.downloads.items():
        report = validate_pdf(data, desk.settings)
        (signature,) = report.signatures
        assert report.verdict is Verdict.TOTAL_PASSED, signature.reason_en
        assert signature.level == "B-T" and signature.signer.is_person
        page, box = signed_batch.placements[name]
        assert signature.page == page - 1 and signature.box is not None and within(signature.box, box)
        path = tmp_path / f"{signed_batch.ids[name]}.pdf"
        path.write_bytes(data)
        (block,) = pdfsig_blocks(pdfsig(path, nss))
        assert "Signature is Valid." in block and "Total document signed" in block


def test_clerk_seals_a_signed_document_and_both_signatures_stay_valid(
        desk: DeskWorld, signed_batch: SignedBatch, tmp_path: Path):
    document_id = signed_batch.ids[VIETNAMESE_NAME]
    clerk = desk.browser()
    home = clerk.login("clerk")
    assert home.status == 200 and document_id in home.document_ids("seal-queue"), home.text[:3000]
    assert "upload-form" not in home.parsed.ids  # clerks do not upload
    sealed_page = clerk.approve([document_id], action="seal")
    assert 'class="notice ok"' in sealed_page.text, sealed_page.text[:3000]
    assert document_id in sealed_page.document_ids("sealed")
    assert document_id not in sealed_page.document_ids("seal-queue")
    (link,) = sealed_page.parsed.links["download"]
    sealed = clerk.http.get(clerk.url(link), timeout=60)
    assert sealed.status_code == 200 and sealed.content.startswith(signed_batch.downloads[VIETNAMESE_NAME])

    report = validate_pdf(sealed.content, desk.settings)
    personal, seal = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED, [s.reason_en for s in report.signatures]
    assert personal.signer.is_person and seal.signer.identifier == "MST:3800123456"
    assert personal.page == seal.page == 1 and within(personal.box, signed_batch.placements[VIETNAMESE_NAME][1])
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed.content)
    blocks = pdfsig_blocks(pdfsig(path, nss_database(tmp_path / "nss",
                                                      [desk.authority.require_role("root").certificate])))
    assert len(blocks) == 2 and all("Signature is Valid." in b for b in blocks)
    # The official downloads the sealed revision too; the other document was not sealed and stays "signed".
    statuses = signed_batch.official.get().statuses()
    assert statuses[document_id] == "sealed" and statuses[signed_batch.ids[OTHER_NAME]] == "signed"
    again = signed_batch.official.http.get(signed_batch.official.url(link), timeout=60)
    assert again.content == sealed.content


def test_a_citizen_gets_a_bilingual_403_page(desk: DeskWorld):
    citizen = desk.browser()
    page = citizen.login("citizen")
    assert page.status == 403 and "error" in page.parsed.ids
    assert "text/html" in page.response.headers["Content-Type"]
    assert "Bàn ký số dành cho cán bộ" in page.text and "is for officials and records clerks" in page.text
    upload = citizen.upload([("a.pdf", official_document().data)])
    assert upload.status_code == 403 and "official" in upload.text


def test_a_form_post_without_its_csrf_token_is_refused(desk: DeskWorld, signed_batch: SignedBatch):
    before = desk.documents()
    answer = signed_batch.official.post("/desk/upload", files=[("documents", ("a.pdf", official_document().data,
                                                                               "application/pdf"))], csrf=False)
    assert answer.status_code == 400 and "text/html" in answer.headers["Content-Type"]
    assert "CSRF" in answer.text and "Phiên biểu mẫu" in answer.text
    assert desk.documents() == before


def test_a_non_pdf_upload_is_refused_and_nothing_of_it_is_stored(desk: DeskWorld, signed_batch: SignedBatch):
    before = desk.documents()
    answer = signed_batch.official.upload([("good.pdf", official_document().data),
                                           ("ghi-chú.pdf", "Không phải PDF".encode())])
    assert answer.status_code == 400, answer.text
    assert "ghi-chú.pdf" in answer.text and "Tệp không phải là PDF" in answer.text and "not a PDF" in answer.text
    assert desk.documents() == before
    broken = signed_batch.official.upload([("hong.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF")])
    assert broken.status_code == 400 and desk.documents() == before


def test_another_official_cannot_see_or_download_someone_elses_document(desk: DeskWorld, signed_batch: SignedBatch):
    other = desk.browser()
    home = other.login("official-desk-2")
    assert home.status == 200 and not set(home.document_ids()) & set(signed_batch.ids.values())
    for document_id in signed_batch.ids.values():
        for path in (f"/desk/documents/{document_id}/download", f"/desk/documents/{document_id}/preview.png",
                     f"/desk/documents/{document_id}"):
            answer = other.http.get(other.url(path), timeout=60)
            assert answer.status_code == 404, (path, answer.status_code)
            assert answer.content[:4] != b"%PDF" and not answer.content.startswith(b"\x89PNG")
    # Approving someone else's documents signs nothing either.
    refused = other.approve([signed_batch.ids[OTHER_NAME]])
    assert refused.status == 400 and "error" in refused.parsed.ids


def test_an_official_without_a_credential_is_told_before_any_otp_and_nothing_is_signed(desk: DeskWorld):
    other = desk.browser()
    other.login("official-desk-2")
    assert other.upload([("to-trinh.pdf", official_document(pages=1).data)]).status_code == 302
    document_id = max(other.get().document_ids())
    refused = other.approve([document_id])
    assert refused.status == 409 and "chưa được cấp" in refused.text and "no usable credential" in refused.text
    assert other.get().statuses()[document_id] == "pending"


def test_back_channel_logout_from_another_app_ends_the_desk_session(desk: DeskWorld):
    official = desk.browser()
    official.login("official")
    subject = desk.sso.admin().get_user_id("official")
    assert "logout" in official.get().parsed.ids
    sessions = desk.sessions_of(subject)
    assert sessions >= 1
    # Same browser, same Keycloak session: the portal logs in without a form, then logs out everywhere.
    portal = desk.sso.portal("portal-dvc")
    official.agent.open(desk.sso.url("portal-dvc", "/login"))
    official.agent.open(desk.sso.url("portal-dvc", "/logout"), method="POST")
    assert wait_for(lambda: desk.sessions_of(subject) == sessions - 1)
    page = official.get()
    assert "login" in page.parsed.ids and "logout" not in page.parsed.ids
    assert portal.backchannel_logouts


def test_logout_at_the_desk_ends_the_keycloak_session_too(desk: DeskWorld):
    official = desk.browser()
    official.login("official")
    answer = official.post("/desk/logout")
    assert answer.status_code == 302 and "id_token_hint=" in answer.headers["Location"]
    back = official.follow(answer)
    assert back.response.url.rstrip("/").endswith("/desk") and "login" in back.parsed.ids
    # Keycloak forgot the login: the next visit asks for the password again.
    again = official.agent.open(official.url("/desk/login"), username="official",
                                password=desk.password("official"))
    assert "password" in again.forms


def test_a_token_without_the_otp_step_up_signs_nothing(desk: DeskWorld):
    """The approval's token must be loa2: a password-only token is refused in words people read, and the document
    stays pending."""
    official = desk.browser()
    official.login("official")
    assert official.upload([("khong-otp.pdf", official_document(pages=1).data)]).status_code == 302
    document_id = max(official.get().document_ids())
    _, _, portal_session = desk.sso.login("portal-dvc", "official")  # loa1: password only
    assert portal_session.access.acr == "loa1"
    service = RemoteSigningService(desk.settings, desk.authority, KeycloakDirectory.for_settings(desk.settings))
    documents = DeskDocuments(desk.authority.database, desk.settings, desk.authority)
    with pytest.raises(DeskRefusal) as refused:
        documents.sign(service, Caller(portal_session.access, "127.0.0.1"), [document_id])
    assert "OTP" in refused.value.vietnamese and "insufficient_user_authentication" in refused.value.english
    assert official.get().statuses()[document_id] == "pending"
