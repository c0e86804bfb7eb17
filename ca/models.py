"""Database records of the CA: every certificate it issued, with its key reference and status."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
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
