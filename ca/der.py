"""Minimal DER encoding for the hot paths (CRL entries, OCSP answers), where asn1crypto's and cryptography's
object builders cost more than the signature. Only definite lengths and single-byte tags; each user is tested
byte for byte against a structure built with one of those libraries."""

from __future__ import annotations

from datetime import UTC, datetime

# Our reason names (as stored) → RFC 5280 CRLReason codes, for CRL entries and OCSP answers alike. `unspecified` is
# never stated (RFC 5280 §5.3.1); certificateHold is how a suspension is published.
REASON_CODES = {
    "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4, "cessationOfOperation": 5,
    "certificateHold": 6, "privilegeWithdrawn": 9,
}


def tlv(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes((tag, length)) + body
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(encoded))) + encoded + body


def sequence(body: bytes) -> bytes:
    return tlv(0x30, body)


def integer(value: int) -> bytes:
    """A non-negative INTEGER (a leading zero byte keeps the sign bit clear)."""
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def generalized_time(moment: datetime) -> bytes:
    return tlv(0x18, moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def x509_time(moment: datetime) -> bytes:
    """UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), to the second, in UTC."""
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return generalized_time(moment)


def header(data: bytes, offset: int) -> tuple[int, int]:
    """(start of contents, contents length) of the TLV at `offset`."""
    first = data[offset + 1]
    if first < 0x80:
        return offset + 2, first
    count = first & 0x7F
    return offset + 2 + count, int.from_bytes(data[offset + 2 : offset + 2 + count], "big")


def contents(data: bytes, offset: int = 0) -> bytes:
    start, length = header(data, offset)
    return data[start : start + length]


def end_of(data: bytes, offset: int) -> int:
    start, length = header(data, offset)
    return start + length
