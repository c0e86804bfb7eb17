"""Database records of the CA: every certificate it issued, with its key reference and status, and what it
published about them (CRLs, pre-signed OCSP answers, the TSA's serial counter)."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egov.db import Base, UTCDateTime

GOOD, SUSPENDED, REVOKED = "good", "suspended", "revoked"


class CertificateRecord(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(48), unique=True, nullable=False)  # lowercase hex
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), index=True)
    profile: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    role: Mapped[str | None] = mapped_column(String(32), unique=True)  # the platform's own CA/TSA/OCSP certs
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    common_name: Mapped[str] = mapped_column(String(255), nullable=False)
    identifier: Mapped[str | None] = mapped_column(String(64), index=True)  # CCCD:… / MST:… / MNS:…
    owner: Mapped[str | None] = mapped_column(String(255), index=True)  # the identity provider's `sub`
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    key_uri: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=GOOD, index=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    issuer: Mapped[CertificateRecord | None] = relationship(remote_side=[id])

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @property
    def serial_int(self) -> int:
        return int(self.serial, 16)


# -- published status: CRLs, pre-signed OCSP answers, the TSA's serial counter ---------------------------


class CrlRecord(Base):
    """One CRL an issuing CA signed. The newest one not superseded is what the CDP URL serves."""

    __tablename__ = "crls"
    __table_args__ = (UniqueConstraint("issuer_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), nullable=False, index=True)
    number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    entries: Mapped[int] = mapped_column(Integer, nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    superseded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class OcspAnswerRecord(Base):
    """A pre-signed OCSP answer for one certificate and CertID hash, valid while its status stays the same."""

    __tablename__ = "ocsp_answers"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    hash_algorithm: Mapped[str] = mapped_column(String(16), primary_key=True)
    status_key: Mapped[str] = mapped_column(String(160), nullable=False)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class CounterRecord(Base):
    """A named counter incremented under the row's lock (the TSA's serial numbers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)


STATUS_FIELDS = ("status", "status_changed_at", "revocation_reason", "invalidity_date")


@event.listens_for(CertificateRecord, "after_update")
def _status_changed(mapper: object, connection: Connection, target: CertificateRecord) -> None:
    """A status change withdraws what was published about the certificate, in the same transaction: its
    pre-signed OCSP answers go, and its issuer's current CRL is superseded (the next request builds a new one).

    Taking the issuer's row lock first orders this after (or before) a CRL being built from the old state.
    """
    state = inspect(target)
    if not any(state.attrs[name].history.has_changes() for name in STATUS_FIELDS):
        return
    connection.execute(delete(OcspAnswerRecord).where(OcspAnswerRecord.certificate_id == target.id))
    if target.issuer_id is not None:
        lock = select(CertificateRecord.id).where(CertificateRecord.id == target.issuer_id)
        connection.execute(lock.with_for_update() if connection.dialect.name != "sqlite" else lock)
        connection.execute(
            update(CrlRecord)
            .where(CrlRecord.issuer_id == target.issuer_id, CrlRecord.superseded.is_(False))
            .values(superseded=True)
        )
