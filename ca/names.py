"""Subject names as Vietnamese practice writes them: people by CCCD, organisations by MST or MNS."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from ca.errors import InvalidSubject

# Province/city codes of the 12-digit personal identification number (Circular 59/2021/TT-BCA, Annex I):
# the 63 provinces' codes run from 001 to 096 with gaps.
PROVINCE_CODES = frozenset(
    {1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42,
     44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86,
     87, 89, 91, 92, 93, 94, 95, 96}
)
_CCCD = re.compile(r"^\d{12}$")
_MST = re.compile(r"^\d{10}(-\d{3})?$")
_MNS = re.compile(r"^\d{7}$")


def validate_cccd(number: str) -> str:
    """A 12-digit personal identification number with a real province code (refuses anything else)."""
    if not _CCCD.match(number or ""):
        raise InvalidSubject(
            f"Số định danh cá nhân phải gồm đúng 12 chữ số, nhận được {number!r}",
            f"the personal identification number (CCCD) must be exactly 12 digits, got {number!r}",
        )
    if int(number[:3]) not in PROVINCE_CODES:
        raise InvalidSubject(
            f"Mã tỉnh {number[:3]} trong số định danh không tồn tại",
            f"province code {number[:3]} of the CCCD does not exist",
        )
    return number


def _clean(text: str | None, what_vi: str, what_en: str, required: bool = True, limit: int = 128) -> str | None:
    if text is None or not text.strip():
        if required:
            raise InvalidSubject(f"Thiếu {what_vi}", f"{what_en} is required")
        return None
    # NFC so that "Nguyễn" typed with combining marks and precomposed compare and print the same.
    value = unicodedata.normalize("NFC", " ".join(text.split()))
    if len(value) > limit or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidSubject(f"{what_vi} không hợp lệ", f"{what_en} is too long or has control characters")
    return value


@dataclass(frozen=True)
class PersonSubject:
    full_name: str
    cccd: str
    organization: str | None = None
    province: str | None = None
    title: str | None = None

    def to_name(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
        province = _clean(self.province, "tỉnh/thành phố", "province (ST)", required=False)
        organization = _clean(self.organization, "cơ quan", "organization (O)", required=False)
        title = _clean(self.title, "chức danh", "title", required=False, limit=64)
        if province:
            attributes.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province))
        if organization:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        if title:
            attributes.append(x509.NameAttribute(NameOID.TITLE, title))
        attributes.append(x509.NameAttribute(NameOID.USER_ID, f"CCCD:{validate_cccd(self.cccd)}"))
        full_name = _clean(self.full_name, "họ và tên", "full name", limit=64)
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, full_name))
        return x509.Name(attributes)


@dataclass(frozen=True)
class OrganizationSubject:
    name: str
    tax_code: str | None = None  # MST
    budget_code: str | None = None  # MNS (mã quan hệ ngân sách)
    province: str | None = None

    def identifier(self) -> str:
        if bool(self.tax_code) == bool(self.budget_code):
            raise InvalidSubject(
                "Cần đúng một trong mã số thuế (MST) hoặc mã quan hệ ngân sách (MNS)",
                "give exactly one of the tax code (MST) or the budget relation code (MNS)",
            )
        if self.tax_code:
            if not _MST.match(self.tax_code):
                raise InvalidSubject(
                    f"Mã số thuế {self.tax_code!r} không hợp lệ (10 chữ số, hoặc 10-3)",
                    f"tax code {self.tax_code!r} is invalid (10 digits, or 10-3 for a branch)",
                )
            return f"MST:{self.tax_code}"
        assert self.budget_code is not None
        if not _MNS.match(self.budget_code):
            raise InvalidSubject(
                f"Mã quan hệ ngân sách {self.budget_code!r} không hợp lệ (7 chữ số)",
                f"budget relation code {self.budget_code!r} is invalid (7 digits)",
            )
        return f"MNS:{self.budget_code}"

    def to_name(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
        province = _clean(self.province, "tỉnh/thành phố", "province (ST)", required=False)
        if province:
            attributes.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province))
        name = _clean(self.name, "tên cơ quan, tổ chức", "organization name", limit=64)
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, name))
        attributes.append(x509.NameAttribute(NameOID.USER_ID, self.identifier()))
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
        return x509.Name(attributes)


def service_name(common_name: str, organization: str) -> x509.Name:
    """Names for the platform's own CA, TSA and OCSP certificates."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def describe(name: x509.Name) -> str:
    """A subject in readable Unicode, most specific first (CN=Nguyễn Thị Hồng Đào,UID=CCCD:…,…)."""
    return name.rfc4514_string({NameOID.TITLE: "title", NameOID.USER_ID: "UID"})


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else describe(name)


def identifier(name: x509.Name) -> str | None:
    """The CCCD/MST/MNS identifier from the UID attribute, if any."""
    values = name.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else None
