"""What a validation report means in words, Vietnamese with English beside: the Decree 30 kind of each signature
and the labels of its facts, shared by `egov verify`, the verification page and the JSON API."""

from __future__ import annotations

import enum
from typing import NamedTuple

from signing.signer import ATTACHMENT_FIELD, COPY_FIELD, SEAL_FIELD
from signing.validation import SignatureReport, Verdict


class Bilingual(NamedTuple):
    vi: str
    en: str

    def __str__(self) -> str:
        return f"{self.vi} / {self.en}"


class SignatureKind(enum.Enum):
    """Decree 30/2020/ND-CP, Appendix I: which of its visible signatures this is, as far as the document tells."""

    PERSONAL = "personal"  # the competent person's signature image
    SEAL = "seal"  # the organisation's seal over the personal signature
    COPY = "copy"  # SAO Y, SAO LỤC, TRÍCH SAO: a text notice at the top right of the first page
    ATTACHMENT = "attachment"  # an attachment in a separate file: a text notice likewise
    UNKNOWN = "unknown"

    @property
    def label(self) -> Bilingual:
        return KIND_LABELS[self]


KIND_LABELS = {
    SignatureKind.PERSONAL: Bilingual("Chữ ký của người có thẩm quyền", "signature of the competent person"),
    SignatureKind.SEAL: Bilingual("Chữ ký số của cơ quan, tổ chức (con dấu)", "the organisation's seal"),
    SignatureKind.COPY: Bilingual("Ký bản sao điện tử (sao y, sao lục, trích sao)", "electronic copy"),
    SignatureKind.ATTACHMENT: Bilingual("Ký văn bản kèm theo", "attachment in a separate file"),
    SignatureKind.UNKNOWN: Bilingual("Không rõ", "not known"),
}
# The field names our signer gives each kind (signing/signer.py): a new field is the stem and a number.
_FIELD_STEMS = ((SEAL_FIELD, SignatureKind.SEAL), (COPY_FIELD, SignatureKind.COPY),
                (ATTACHMENT_FIELD, SignatureKind.ATTACHMENT))


def kind_of(signature: SignatureReport) -> SignatureKind:
    """The kind from the field's name where our signer named it, else from who signed: a person signs as the
    competent person, an organisation (MST/MNS) seals."""
    for stem, kind in _FIELD_STEMS:
        if signature.field_name.startswith(stem):
            return kind
    if signature.signer.is_person:
        return SignatureKind.PERSONAL
    if signature.signer.identifier:
        return SignatureKind.SEAL
    return SignatureKind.UNKNOWN


VERDICTS = {
    verdict: Bilingual(verdict.vietnamese.lower(), english)
    for verdict, english in ((Verdict.TOTAL_PASSED, "valid"), (Verdict.INDETERMINATE, "indeterminate"),
                             (Verdict.TOTAL_FAILED, "not valid"))
}
YES_NO = {True: Bilingual("có", "yes"), False: Bilingual("không", "no")}
COVERAGE = {
    "entire-file": Bilingual("toàn bộ tệp", "entire file"),
    "entire-revision": Bilingual("toàn bộ phiên bản đã ký", "its revision"),
    "partial": Bilingual("một phần", "partial"),
}
CHANGES = {
    "none": Bilingual("không", "none"),
    "ltv-updates": Bilingual("chỉ bổ sung dữ liệu kiểm tra dài hạn", "validation data only"),
    "form-filling": Bilingual("thêm chữ ký, điền biểu mẫu", "signatures, form filling"),
    "annotations": Bilingual("chú thích", "annotations"),
    "other": Bilingual("CÓ SỬA NỘI DUNG", "CONTENT CHANGED"),
}
REVOCATION = {
    "good": Bilingual("chưa thu hồi", "good"),
    "revoked": Bilingual("ĐÃ THU HỒI", "REVOKED"),
    "unknown": Bilingual("chưa xác định", "unknown"),
    "not-checked": Bilingual("không kiểm tra", "not checked"),
}
