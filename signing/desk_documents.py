"""The signing desk's documents: uploads checked before anything is stored, where each signature goes, the
official's approval (sign) and the records clerk's (seal), each batch under one SAD, and who may read what."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

import pypdfium2 as pdfium
from PIL import ImageDraw
from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from ca.authority import CertificateAuthority
from egov.db import Database
from egov.errors import Refusal
from egov.settings import Settings
from idp.errors import TokenError
from idp.tokens import AccessToken
from signing import appearance as d30
from signing.desk_models import PENDING, SEALED, SIGNED, DeskDocumentRecord
from signing.documents import open_document
from signing.errors import InvalidDocument
from signing.remote.desk import MAX_DOCUMENTS, DeskDocument, sign_documents
from signing.remote.enrollment import credentials_of
from signing.remote.errors import CscError
from signing.remote.service import Caller, RemoteSigningService
from signing.signer import PadesLevel, SignatureRequest

MAX_FILE_NAME = 200
MIN_BOX_SIDE = 20.0  # points: a smaller box cannot show a signature anyone could see
# Decree 30 personal signature by default: bottom right of the last page, inside a 20 mm right margin, with room
# below for the signer's name.
DEFAULT_BOX_WIDTH, DEFAULT_BOX_HEIGHT = 170.0, 85.0
DEFAULT_RIGHT_MARGIN = 20 * d30.POINTS_PER_MM
DEFAULT_BOTTOM = 40 * d30.POINTS_PER_MM
PREVIEW_WIDTH_PX = 640
_WITHOUT_BYTES = (defer(DeskDocumentRecord.original), defer(DeskDocumentRecord.signed))  # listings need no PDFs
_PDFIUM = threading.Lock()  # PDFium is not thread-safe; gunicorn's threaded workers share one per process

# What people read when the remote-signing service refuses (its own messages are English, for machines).
_VIETNAMESE_REASONS = {
    "insufficient_user_authentication": "Cần xác thực OTP (mức loa2) ngay trước khi ký",
    "session_ended": "Phiên đăng nhập đã kết thúc",
    "expired": "Phiên đăng nhập đã hết hạn, hãy đăng nhập lại",
    "invalid_credential": "Chứng thư ký không tồn tại hoặc không thuộc về bạn",
    "not_owner": "Chứng thư ký không thuộc về bạn",
    "unknown_credential": "Chứng thư ký không tồn tại",
    "certificate_unusable": "Chứng thư ký đã bị thu hồi, tạm dừng hoặc hết hạn",
    "account_disabled": "Tài khoản đang bị khóa",
    "directory_unavailable": "Tạm thời không kiểm tra được tài khoản, hãy thử lại",
}


class DeskRefusal(Refusal):
    """Something the desk will not do, said in Vietnamese with English beside."""

    code = "desk-refused"


class DocumentNotFound(DeskRefusal):
    """No such document, or not one this person may see (the two look the same)."""

    code = "desk-document-not-found"
    status = 404

    def __init__(self) -> None:
        super().__init__("Không tìm thấy văn bản, hoặc bạn không có quyền xem",
                         "no such document, or you may not see it")


class NoCredential(DeskRefusal):
    code = "desk-no-credential"
    status = 409


def refusal_of(error: CscError | TokenError) -> DeskRefusal:
    """A refusal of the remote-signing service or of a token, for people."""
    reason = error.reason
    refusal = DeskRefusal(_VIETNAMESE_REASONS.get(reason, "Yêu cầu ký bị từ chối"),
                          f"the signature was refused ({reason}): {error.description}")
    refusal.status = error.status
    return refusal


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class DeskDocumentView:
    """A document as a page lists it (no bytes)."""

    id: int
    file_name: str
    owner_name: str
    page_count: int
    placement: d30.Placement  # 0-based page
    status: str
    level: str | None
    uploaded_at: datetime
    signed_at: datetime | None
    sealed_at: datetime | None
    sealed_by_name: str | None

    @property
    def page(self) -> int:
        return self.placement.page + 1

    @classmethod
    def of(cls, record: DeskDocumentRecord) -> DeskDocumentView:
        return cls(record.id, record.file_name, record.owner_name, record.page_count, _placement(record),
                   record.status, record.level, record.uploaded_at, record.signed_at, record.sealed_at,
                   record.sealed_by_name)


@dataclass(frozen=True)
class Download:
    file_name: str
    data: bytes


def _placement(record: DeskDocumentRecord) -> d30.Placement:
    return d30.Placement(record.page - 1, (record.box_x1, record.box_y1, record.box_x2, record.box_y2))


def desk_level(settings: Settings) -> PadesLevel:
    """B-T when a time-stamping service is configured (our own TSA by default), else B-B."""
    return PadesLevel.B_T if settings.tsa_url else PadesLevel.B_B


def clean_file_name(name: str | None) -> str:
    """The name as people gave it (Vietnamese kept, NFC), without folders or control characters."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    if len(base) > MAX_FILE_NAME:
        stem, dot, suffix = base.rpartition(".")
        base = f"{stem[:MAX_FILE_NAME - len(suffix) - 1]}.{suffix}" if dot and len(suffix) <= 10 \
            else base[:MAX_FILE_NAME]
    return base or "van-ban.pdf"


def page_size(data: bytes, page: int) -> tuple[float, float]:
    """Width and height in points of a page (0-based) as it is shown (its crop box)."""
    with _PDFIUM:
        document = pdfium.PdfDocument(data)
        try:
            left, bottom, right, top = document[page].get_cropbox()
        finally:
            document.close()
    return right - left, top - bottom


def default_placement(data: bytes, page_count: int) -> d30.Placement:
    """The Decree 30 personal signature's usual place: bottom right of the last page."""
    width, _ = page_size(data, page_count - 1)
    x2 = round(width - DEFAULT_RIGHT_MARGIN, 1)
    return d30.Placement(page_count - 1, (round(x2 - DEFAULT_BOX_WIDTH, 1), round(DEFAULT_BOTTOM, 1), x2,
                                          round(DEFAULT_BOTTOM + DEFAULT_BOX_HEIGHT, 1)))


def render_preview(data: bytes, page: int, box: d30.Box | None = None, width_px: int = PREVIEW_WIDTH_PX) -> bytes:
    """A page (0-based) as PNG, `width_px` wide, with the signature box outlined when given."""
    with _PDFIUM:
        document = pdfium.PdfDocument(data)
        try:
            pdf_page = document[page]
            left, bottom, right, top = pdf_page.get_cropbox()
            scale = width_px / (right - left)
            image = pdf_page.render(scale=scale).to_pil()
        finally:
            document.close()
    if box is not None:
        x1, y1, x2, y2 = box
        outline = [((x1 - left) * scale, (top - y2) * scale), ((x2 - left) * scale, (top - y1) * scale)]
        ImageDraw.Draw(image).rectangle(outline, outline=(11, 79, 156), width=3)
    out = BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _checked(upload: Upload, settings: Settings) -> tuple[int, d30.Placement]:
    """Page count and default placement of a readable PDF, or the refusal naming the file."""
    try:
        reader = open_document(upload.data, settings.max_pdf_pages)
        pages = int(reader.root["/Pages"]["/Count"])
        return pages, default_placement(upload.data, pages)
    except InvalidDocument as exc:
        raise InvalidDocument(f"{upload.name}: {exc.vietnamese}", f"{upload.name}: {exc.english}") from exc
    except (pdfium.PdfiumError, IndexError, ValueError) as exc:
        raise InvalidDocument(f"{upload.name}: không hiển thị được PDF", f"{upload.name}: the PDF cannot be rendered "
                              f"({exc})") from exc


def check_box(box: d30.Box, width: float, height: float) -> d30.Box:
    x1, y1, x2, y2 = box
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise DeskRefusal(f"Khung chữ ký phải nằm trong trang (0–{width:.0f} × 0–{height:.0f} điểm), x1 < x2, y1 < y2",
                          f"the signature box must lie on the page (0–{width:.0f} × 0–{height:.0f} points) with "
                          "x1 < x2 and y1 < y2")
    if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
        raise DeskRefusal(f"Khung chữ ký quá nhỏ (tối thiểu {MIN_BOX_SIDE:.0f} điểm mỗi cạnh)",
                          f"the signature box is too small (at least {MIN_BOX_SIDE:.0f} points a side)")
    return box


class DeskDocuments:
    """The desk's documents in the service database; every read and write says whose."""

    def __init__(self, database: Database, settings: Settings, authority: CertificateAuthority) -> None:
        self.database = database
        self.settings = settings
        self.authority = authority

    @property
    def level(self) -> PadesLevel:
        return desk_level(self.settings)

    # -- officials ---------------------------------------------------------------------------------------

    def upload(self, owner: str, owner_name: str, uploads: Sequence[Upload]) -> list[int]:
        """Store every upload, or none of them when one is not a readable PDF."""
        if not uploads:
            raise DeskRefusal("Chưa chọn tệp PDF nào", "no PDF file was chosen")
        if len(uploads) > MAX_DOCUMENTS:
            raise DeskRefusal(f"Tối đa {MAX_DOCUMENTS} tệp mỗi lần", f"at most {MAX_DOCUMENTS} files at a time")
        checked = [(upload, *_checked(upload, self.settings)) for upload in uploads]
        now = datetime.now(UTC)
        with self.database.transaction() as session:
            records = [
                DeskDocumentRecord(
                    owner=owner, owner_name=owner_name, file_name=upload.name, original=upload.data, page_count=pages,
                    page=placement.page + 1, box_x1=placement.box[0], box_y1=placement.box[1],
                    box_x2=placement.box[2], box_y2=placement.box[3], status=PENDING, uploaded_at=now,
                )
                for upload, pages, placement in checked
            ]
            session.add_all(records)
            session.flush()
            return [r.id for r in records]

    def of_owner(self, owner: str) -> list[DeskDocumentView]:
        return self._list(DeskDocumentRecord.owner == owner)

    def owned(self, owner: str, document_id: int) -> DeskDocumentView:
        with self.database.transaction() as session:
            return DeskDocumentView.of(self._owned(session, owner, document_id))

    def place(self, owner: str, document_id: int, page: int, box: d30.Box) -> DeskDocumentView:
        """Where the official's signature goes on a pending document (1-based page, box in points)."""
        with self.database.transaction() as session:
            record = self._owned(session, owner, document_id)
            if record.status != PENDING:
                raise DeskRefusal("Văn bản đã ký, không đổi vị trí được", "the document is signed already")
            if not 1 <= page <= record.page_count:
                raise DeskRefusal(f"Trang phải từ 1 đến {record.page_count}",
                                  f"the page must be 1 to {record.page_count}")
            x1, y1, x2, y2 = check_box(box, *page_size(record.original, page - 1))
            record.page, record.box_x1, record.box_y1, record.box_x2, record.box_y2 = page, x1, y1, x2, y2
            return DeskDocumentView.of(record)

    def preview(self, owner: str, document_id: int, page: int) -> bytes:
        """The page as PNG, for the document's owner only, the chosen box outlined on its page."""
        data, chosen = self._page_of(owner, document_id, page)
        return render_preview(data, page - 1, chosen.box if chosen.page == page - 1 else None)

    def page_size(self, owner: str, document_id: int, page: int) -> tuple[float, float]:
        return page_size(self._page_of(owner, document_id, page)[0], page - 1)

    def _page_of(self, owner: str, document_id: int, page: int) -> tuple[bytes, d30.Placement]:
        """The owner's original PDF and its chosen placement, when `page` (1-based) is one of its pages."""
        with self.database.transaction() as session:
            record = self._owned(session, owner, document_id)
            if not 1 <= page <= record.page_count:
                raise DocumentNotFound()
            return record.original, _placement(record)

    def check_signing(self, owner: str, document_ids: Sequence[int]) -> None:
        """Refuse now what the approval would refuse (not the owner's pending documents, no credential), before the
        official spends an OTP code on it."""
        self._signing_batch(owner, document_ids, with_bytes=False)

    def sign(self, service: RemoteSigningService, caller: Caller,
             document_ids: Sequence[int]) -> list[DeskDocumentView]:
        """Sign the caller's pending documents, each at its chosen place, under one approval (one SAD)."""
        token = self._token(caller)
        records, credential_id = self._signing_batch(token.subject, document_ids)
        documents = [
            DeskDocument(r.file_name, r.original, SignatureRequest(appearance=d30.PersonalSignature(
                placement=_placement(r))))
            for r in records
        ]
        signed = self._sign(service, caller, credential_id, documents, SignatureRequest())
        now = datetime.now(UTC)
        return self._store(records, signed, PENDING, dict(status=SIGNED, signed_at=now, signed_by=token.subject))

    def _signing_batch(self, owner: str, document_ids: Sequence[int],
                       with_bytes: bool = True) -> tuple[list[DeskDocumentRecord], str]:
        with self.database.transaction() as session:
            records = self._selected(session, document_ids, with_bytes, (DeskDocumentRecord.owner == owner,
                                                                          DeskDocumentRecord.status == PENDING))
        return records, self.credential(owner, "official")

    # -- records clerks ----------------------------------------------------------------------------------

    def awaiting_seal(self) -> list[DeskDocumentView]:
        return self._list(DeskDocumentRecord.status == SIGNED)

    def sealed_by(self, clerk: str) -> list[DeskDocumentView]:
        return self._list(DeskDocumentRecord.sealed_by == clerk, DeskDocumentRecord.status == SEALED)

    def check_sealing(self, clerk: str, document_ids: Sequence[int]) -> None:
        """Refuse now what the approval would refuse, before the clerk spends an OTP code on it."""
        self._sealing_batch(clerk, document_ids, with_bytes=False)

    def seal(self, service: RemoteSigningService, caller: Caller, clerk_name: str,
             document_ids: Sequence[int]) -> list[DeskDocumentView]:
        """Apply the organisation's seal over the official's signature (an incremental update that keeps it)."""
        token = self._token(caller)
        records, credential_id = self._sealing_batch(token.subject, document_ids)
        documents = [DeskDocument(r.file_name, r.signed or b"") for r in records]
        sealed = self._sign(service, caller, credential_id, documents,
                            SignatureRequest(appearance=d30.OrganizationSeal()))
        now = datetime.now(UTC)
        return self._store(records, sealed, SIGNED, dict(status=SEALED, sealed_at=now, sealed_by=token.subject,
                                                         sealed_by_name=clerk_name))

    def _sealing_batch(self, clerk: str, document_ids: Sequence[int],
                       with_bytes: bool = True) -> tuple[list[DeskDocumentRecord], str]:
        with self.database.transaction() as session:
            records = self._selected(session, document_ids, with_bytes, (DeskDocumentRecord.status == SIGNED,))
        return records, self.credential(clerk, "organization")

    # -- everyone ----------------------------------------------------------------------------------------

    def download(self, reader: str, document_id: int) -> Download:
        """The signed (or sealed) PDF: for its owner, or for the clerk who sealed it."""
        with self.database.transaction() as session:
            record = session.get(DeskDocumentRecord, document_id)
            mine = record is not None and record.owner == reader and record.status in (SIGNED, SEALED)
            sealed_by_me = record is not None and record.sealed_by == reader and record.status == SEALED
            if record is None or record.signed is None or not (mine or sealed_by_me):
                raise DocumentNotFound()
            return Download(record.file_name, record.signed)

    def credential(self, subject: str, profile: str) -> str:
        """The newest usable credential of this profile the person holds."""
        usable = [c.id for c, record in credentials_of(self.authority, subject)
                  if record.profile == profile and RemoteSigningService.certificate_status(record) == "valid"]
        if not usable:
            what = ("chứng thư ký của cán bộ", "an official's signing certificate") if profile == "official" \
                else ("chứng thư con dấu của cơ quan", "the organisation's seal certificate")
            raise NoCredential(f"Bạn chưa được cấp {what[0]} còn hiệu lực; liên hệ bộ phận CA",
                               f"you hold no usable credential with {what[1]}; ask the CA operator")
        return usable[-1]

    # -- shared ------------------------------------------------------------------------------------------

    @staticmethod
    def _token(caller: Caller) -> AccessToken:
        try:
            return caller.require_token()
        except (CscError, TokenError) as error:
            raise refusal_of(error) from error

    def _list(self, *conditions: object) -> list[DeskDocumentView]:
        with self.database.transaction() as session:
            query = (select(DeskDocumentRecord).options(*_WITHOUT_BYTES).where(*conditions)
                     .order_by(DeskDocumentRecord.uploaded_at.desc(), DeskDocumentRecord.id.desc()))
            return [DeskDocumentView.of(r) for r in session.execute(query).scalars()]

    @staticmethod
    def _owned(session: Session, owner: str, document_id: int) -> DeskDocumentRecord:
        record = session.get(DeskDocumentRecord, document_id)
        if record is None or record.owner != owner:
            raise DocumentNotFound()
        return record

    @staticmethod
    def _selected(session: Session, document_ids: Sequence[int], with_bytes: bool,
                  conditions: tuple[object, ...]) -> list[DeskDocumentRecord]:
        ids = list(dict.fromkeys(document_ids))
        if not ids:
            raise DeskRefusal("Chưa chọn văn bản nào", "no document was selected")
        if len(ids) > MAX_DOCUMENTS:
            raise DeskRefusal(f"Tối đa {MAX_DOCUMENTS} văn bản mỗi lần duyệt",
                              f"at most {MAX_DOCUMENTS} documents per approval")
        query = select(DeskDocumentRecord).where(DeskDocumentRecord.id.in_(ids), *conditions)
        if not with_bytes:
            query = query.options(*_WITHOUT_BYTES)
        records = list(session.execute(query.order_by(DeskDocumentRecord.id)).scalars())
        if len(records) != len(ids):
            raise DeskRefusal("Có văn bản đã chọn không còn chờ duyệt hoặc không thuộc quyền của bạn; không ký văn "
                              "bản nào", "a selected document is no longer waiting or is not yours; nothing was signed")
        return records

    def _sign(self, service: RemoteSigningService, caller: Caller, credential_id: str,
              documents: list[DeskDocument], request: SignatureRequest) -> list[bytes]:
        try:
            signed = sign_documents(service, caller, credential_id, documents, self.level, request)
        except (CscError, TokenError) as error:
            raise refusal_of(error) from error
        return [s.data for s in signed]

    def _store(self, records: list[DeskDocumentRecord], outputs: list[bytes], expected: str,
               changes: dict[str, object]) -> list[DeskDocumentView]:
        """Keep the signed bytes, unless someone else's approval of the same document came first; the documents
        this approval stored (those another one took first are not counted)."""
        stored = []
        with self.database.transaction() as session:
            for record, data in zip(records, outputs, strict=True):
                result = session.execute(update(DeskDocumentRecord)
                                         .where(DeskDocumentRecord.id == record.id,
                                                DeskDocumentRecord.status == expected)
                                         .values(signed=data, level=self.level.value, **changes)
                                         .execution_options(synchronize_session=False))
                if result.rowcount:
                    stored.append(record.id)
            query = select(DeskDocumentRecord).options(*_WITHOUT_BYTES).where(DeskDocumentRecord.id.in_(stored))
            return [DeskDocumentView.of(r) for r in session.execute(query).scalars()]
