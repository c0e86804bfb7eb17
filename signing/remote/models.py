"""Database records of remote signing: credentials bound to identity-provider users, and issued SADs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egov.db import Base, UTCDateTime


class RemoteCredential(Base):
    """A CSC credential: a subscriber certificate (and its key) that one identity-provider user may sign with.
    An organisation's seal certificate has one credential per clerk bound to it."""

    __tablename__ = "remote_credentials"
    __table_args__ = (UniqueConstraint("certificate_id", "owner"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the CSC credentialID
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), nullable=False, index=True)
    owner: Mapped[str] = mapped_column(String(255), nullable=False, index=True)  # the identity provider's `sub`
    owner_username: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SignatureActivation(Base):
    """An issued SAD, by the SHA-256 of its value (the value itself is never stored): whose, for which credential
    and hashes, how many signatures it allows and how many it has made."""

    __tablename__ = "signature_activations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("remote_credentials.id"), nullable=False, index=True)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)
    hashes: Mapped[str] = mapped_column(Text, nullable=False)  # the bound hashes, base64, space-separated
    allowed: Mapped[int] = mapped_column(Integer, nullable=False)
    used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
