"""Certificate revocation lists (RFC 5280 §5): built from the certificates' status, signed through the key backend.

Each CA publishes one current CRL at the distribution point its certificates carry. A status change supersedes
it in the same transaction (see `ca.models._status_changed`); the next request builds a new one with the next
CRL number. A CRL is also rebuilt once half its validity has passed, well before its nextUpdate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ca.authority import CA_SLUGS, CertificateAuthority
from ca.errors import NotFound
from ca.keys import SignatureScheme, SigningKey
from ca.models import REVOKED, SUSPENDED, CertificateRecord, CrlRecord
from ca.signature import sign_crl
from egov import audit

# Our reason names (as stored) → RFC 5280 CRLReason. `unspecified` is left out of entries (RFC 5280 §5.3.1).
CRL_REASONS: dict[str, x509.ReasonFlags] = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
ROLE_BY_SLUG = {slug: role for role, slug in CA_SLUGS.items()}


@dataclass(frozen=True)
class RevokedEntry:
    """What one CRL entry says: which serial, since when, why, and since when the key was doubtful."""

    serial: int
    revoked_at: datetime
    reason: str | None
    invalidity_date: datetime | None = None


@dataclass(frozen=True)
class PublishedCrl:
    number: int
    this_update: datetime
    next_update: datetime
    entries: int
    der: bytes

    @property
    def pem(self) -> bytes:
        return x509.load_der_x509_crl(self.der).public_bytes(Encoding.PEM)


def role_for_slug(slug: str) -> str:
    try:
        return ROLE_BY_SLUG[slug]
    except KeyError:
        raise NotFound(
            f"Không có CRL {slug!r}; dùng: {', '.join(ROLE_BY_SLUG)}",
            f"there is no CRL {slug!r}; use one of {', '.join(ROLE_BY_SLUG)}",
        ) from None


def sign_revocation_list(
    issuer: x509.Certificate,
    key: SigningKey,
    *,
    number: int,
    this_update: datetime,
    next_update: datetime,
    entries: Iterable[RevokedEntry],
    distribution_point: str | None = None,
    only_ca_certs: bool = False,
) -> bytes:
    """One signed CRL (DER): CRL number, AKI, issuing distribution point, and per entry reason and invalidity."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)
    )
    if distribution_point:
        builder = builder.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(distribution_point)],
                relative_name=None,
                only_contains_user_certs=not only_ca_certs,
                only_contains_ca_certs=only_ca_certs,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    # cryptography's builder copies its list of entries on every addition (40 s for 100,000 entries): encode the
    # entries here and splice them into the to-be-signed CRL it produced.
    revoked = b"".join(map(_entry_der, entries))
    crl = sign_crl(builder, key, SignatureScheme.default_for(key.public_key()),
                   edit_tbs=lambda tbs: _with_revoked_certificates(tbs, revoked))
    return crl.public_bytes(Encoding.DER)


# -- DER of the revokedCertificates list (RFC 5280 §5.1) ------------------------------------------------

_REASON_CODES = {
    "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4, "cessationOfOperation": 5,
    "certificateHold": 6, "privilegeWithdrawn": 9,
}
# Extension { id-ce-cRLReasons, extnValue OCTET STRING { ENUMERATED code } }, one per reason.
_REASON_EXTENSIONS = {
    name: bytes.fromhex("300a0603551d1504030a01") + bytes([code]) for name, code in _REASON_CODES.items()
}
_INVALIDITY_DATE_OID = bytes.fromhex("0603551d18")


def _tlv(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes((tag, length)) + body
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(encoded))) + encoded + body


def _time(moment: datetime) -> bytes:
    """UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), to the second, in UTC."""
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _entry_der(entry: RevokedEntry) -> bytes:
    serial = _tlv(0x02, entry.serial.to_bytes(entry.serial.bit_length() // 8 + 1, "big"))
    extensions = _REASON_EXTENSIONS.get(entry.reason or "", b"")
    if entry.invalidity_date is not None:
        when = _tlv(0x18, entry.invalidity_date.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())
        extensions += _tlv(0x30, _INVALIDITY_DATE_OID + _tlv(0x04, when))
    return _tlv(0x30, serial + _time(entry.revoked_at) + (_tlv(0x30, extensions) if extensions else b""))


def _with_revoked_certificates(tbs: bytes, revoked: bytes) -> bytes:
    """Insert `revokedCertificates` before the [0] crlExtensions of a TBSCertList that has no entries."""
    if not revoked:
        return tbs
    body, position = _contents(tbs, 0), None
    offset = 0
    while offset < len(body):
        if body[offset] == 0xA0:
            position = offset
            break
        offset = _end_of(body, offset)
    position = len(body) if position is None else position
    return _tlv(0x30, body[:position] + _tlv(0x30, revoked) + body[position:])


def _header(data: bytes, offset: int) -> tuple[int, int]:
    """(start of contents, contents length) of the TLV at `offset` (single-byte tags, definite lengths)."""
    first = data[offset + 1]
    if first < 0x80:
        return offset + 2, first
    count = first & 0x7F
    return offset + 2 + count, int.from_bytes(data[offset + 2 : offset + 2 + count], "big")


def _contents(data: bytes, offset: int) -> bytes:
    start, length = _header(data, offset)
    return data[start : start + length]


def _end_of(data: bytes, offset: int) -> int:
    start, length = _header(data, offset)
    return start + length


class CrlPublisher:
    """Builds, stores and serves the CRLs of the platform's CAs (root and the two issuing CAs)."""

    def __init__(self, authority: CertificateAuthority) -> None:
        self.authority = authority
        self.settings = authority.settings
        self.database = authority.database
        self._issuers: dict[str, CertificateRecord] = {}

    def issuer(self, role: str) -> CertificateRecord:
        """The CA's record, read once per process (the hierarchy does not change while serving)."""
        if role not in self._issuers:
            self._issuers[role] = self.authority.require_role(role)
        return self._issuers[role]

    def distribution_point(self, role: str) -> str:
        return f"{self.settings.public_base_url}/crl/{CA_SLUGS[role]}.crl"

    def current(self, slug: str, now: datetime | None = None) -> PublishedCrl:
        """The CRL to serve now: the newest one if no status changed since and it is less than half-way to its
        nextUpdate; otherwise a freshly built one."""
        role = role_for_slug(slug)
        issuer = self.issuer(role)
        now = now or datetime.now(UTC)
        with self.database.reading() as connection:
            row = connection.execute(
                select(CrlRecord.number, CrlRecord.this_update, CrlRecord.next_update, CrlRecord.entries, CrlRecord.der)
                .where(CrlRecord.issuer_id == issuer.id, CrlRecord.superseded.is_(False))
                .order_by(CrlRecord.number.desc())
                .limit(1)
            ).one_or_none()
        if row is not None and self._fresh(row.this_update, now):
            return PublishedCrl(row.number, row.this_update, row.next_update, row.entries, row.der)
        return self.publish(role, actor="system:crl", reuse_fresh=True, as_of=now)

    def _fresh(self, this_update: datetime, now: datetime) -> bool:
        return now < this_update + self.settings.crl_validity / 2

    def publish(
        self, role: str, actor: str, reuse_fresh: bool = False, as_of: datetime | None = None
    ) -> PublishedCrl:
        """Sign and store a new CRL for the CA in `role` with the next CRL number.

        With `reuse_fresh`, a current CRL that another process built while we waited for the lock is returned
        instead (many workers asking at once build one CRL, not many); `as_of` is the time that freshness is
        judged at (now by default).
        """
        issuer = self.issuer(role)
        key = self.authority.signing_key(issuer)
        with self.database.transaction() as session:
            self._lock_issuer(session, issuer.id)
            now = datetime.now(UTC).replace(microsecond=0)
            latest = session.execute(
                select(CrlRecord)
                .where(CrlRecord.issuer_id == issuer.id, CrlRecord.superseded.is_(False))
                .order_by(CrlRecord.number.desc())
                .limit(1)
            ).scalar_one_or_none()
            if reuse_fresh and latest is not None and self._fresh(latest.this_update, as_of or now):
                return _published(latest)
            number = (
                session.execute(select(func.max(CrlRecord.number)).where(CrlRecord.issuer_id == issuer.id)).scalar()
                or 0
            ) + 1
            entries = list(self._entries(session, issuer.id, now))
            next_update = now + self.settings.crl_validity
            der = sign_revocation_list(
                issuer.certificate,
                key,
                number=number,
                this_update=now,
                next_update=next_update,
                entries=entries,
                distribution_point=self.distribution_point(role),
                only_ca_certs=role == "root",
            )
            if latest is not None:
                latest.superseded = True
            record = CrlRecord(
                issuer_id=issuer.id, number=number, this_update=now, next_update=next_update, entries=len(entries),
                der=der, superseded=False,
            )
            session.add(record)
            audit.append(
                session,
                actor=actor,
                action="crl.publish",
                target=f"crl:{CA_SLUGS[role]}",
                details={
                    "number": number, "entries": len(entries), "this_update": now.isoformat(),
                    "next_update": next_update.isoformat(), "sha256": hashlib.sha256(der).hexdigest(),
                },
            )
            return _published(record)

    def _lock_issuer(self, session: Session, issuer_id: int) -> None:
        """Serialise CRL building per CA (SQLite already serialises writers at BEGIN IMMEDIATE)."""
        query = select(CertificateRecord.id).where(CertificateRecord.id == issuer_id)
        session.execute(query if self.database.dialect == "sqlite" else query.with_for_update())

    def _entries(self, session: Session, issuer_id: int, now: datetime) -> Iterable[RevokedEntry]:
        # Entries stay until one CRL after the certificate expired (RFC 5280 §3.3), then drop out.
        horizon = now - self.settings.crl_validity
        rows = session.execute(
            select(
                CertificateRecord.serial, CertificateRecord.status_changed_at, CertificateRecord.revocation_reason,
                CertificateRecord.invalidity_date,
            )
            .where(
                CertificateRecord.issuer_id == issuer_id,
                CertificateRecord.status.in_((REVOKED, SUSPENDED)),
                CertificateRecord.not_after > horizon,
            )
            .order_by(CertificateRecord.id)
        )
        for serial, changed_at, reason, invalidity in rows:
            yield RevokedEntry(int(serial, 16), changed_at or now, reason, invalidity)


def _published(record: CrlRecord) -> PublishedCrl:
    return PublishedCrl(record.number, record.this_update, record.next_update, record.entries, record.der)

