"""Reading PDFs given to us: refuses what is not a readable, unencrypted PDF of sane size, with a clear reason."""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.errors import DocumentTooLarge, EncryptedDocument, InvalidDocument

DEFAULT_MAX_PAGES = 5000


def open_document(data: bytes, max_pages: int = DEFAULT_MAX_PAGES) -> PdfFileReader:
    """A reader over `data`, or a typed refusal: not a PDF, broken structure, encrypted, too many pages."""
    if not data.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-":
        raise InvalidDocument("Tệp không phải là PDF", "the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted:
            raise EncryptedDocument(
                "PDF được mã hóa: cần mở khóa trước khi ký hoặc kiểm tra",
                "the PDF is encrypted: decrypt it before signing or verifying",
            )
        pages = int(reader.root["/Pages"]["/Count"])
    except (PdfError, KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise InvalidDocument(
            f"PDF hỏng, không đọc được cấu trúc: {exc}", f"the PDF is damaged, its structure cannot be read: {exc}"
        ) from exc
    if pages < 1:
        raise InvalidDocument("PDF không có trang nào", "the PDF has no pages")
    if pages > max_pages:
        raise DocumentTooLarge(
            f"PDF có {pages} trang, vượt giới hạn {max_pages}", f"the PDF has {pages} pages; the limit is {max_pages}"
        )
    return reader


def page_index_of(reader: PdfFileReader, widget: generic.DictionaryObject) -> int | None:
    """The 0-based index of the page a widget annotation sits on (by its /P entry), or None."""
    if "/P" not in widget:
        return None
    page_ref = widget.raw_get("/P")
    for index in range(int(reader.root["/Pages"]["/Count"])):
        candidate, _ = reader.find_page_for_modification(index)
        if candidate.idnum == page_ref.idnum:
            return index
    return None
