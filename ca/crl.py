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

from ca import der
from ca.authority import CA_SLUGS, CertificateAuthority
from ca.errors import NotFound
from ca.keys import SignatureScheme, SigningKey
from ca.models import REVOKED, SUSPENDED, CertificateRecord, CrlRecord
from ca.signature import sign_crl
from egov import audit

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

# Extension { id-ce-cRLReasons, extnValue OCTET STRING { ENUMERATED code } }, one per reason.
_REASON_EXTENSIONS = {
    name: bytes.fromhex("300a0603551d1504030a01") + bytes([code]) for name, code in der.REASON_CODES.items()
}
_INVALIDITY_DATE_OID = bytes.fromhex("0603551d18")


def _entry_der(entry: RevokedEntry) -> bytes:
    extensions = _REASON_EXTENSIONS.get(entry.reason or "", b"")
    if entry.invalidity_date is not None:
        extensions += der.sequence(_INVALIDITY_DATE_OID + der.tlv(0x04, der.generalized_time(entry.invalidity_date)))
    return der.sequence(
        der.integer(entry.serial) + der.x509_time(entry.revoked_at) + (der.sequence(extensions) if extensions else b"")
    )


def _with_revoked_certificates(tbs: bytes, revoked: bytes) -> bytes:
    """Insert `revokedCertificates` before the [0] crlExtensions of a TBSCertList that has no entries."""
    if not revoked:
        return tbs
    body = der.contents(tbs)
    offset = 0
    while offset < len(body) and body[offset] != 0xA0:
        offset = der.end_of(body, offset)
    return der.sequence(body[:offset] + der.sequence(revoked) + body[offset:])


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

