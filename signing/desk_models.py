"""Database records of the signing desk's web pages: people's desk sessions and the documents they work on.

gunicorn runs several worker processes, so nothing of a session or a pending document lives in one process's
memory. A session is found by the SHA-256 of its cookie value; the value itself is never stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from egov.db import Base, UTCDateTime

PENDING, SIGNED, SEALED = "pending", "signed", "sealed"


class DeskSessionRecord(Base):
    """One logged-in person at the desk: who (from the verified tokens), their Keycloak session, until when."""

    __tablename__ = "desk_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie value
    subject: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    keycloak_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    roles: Mapped[str] = mapped_column(Text, nullable=False)  # realm roles, space-separated
    id_token: Mapped[str] = mapped_column(Text, nullable=False)  # the id_token_hint of RP-initiated logout
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class DeskDocumentRecord(Base):
    """A PDF an official uploaded: where the signature goes, its state (pending → signed → sealed), the signed
    bytes (the sealed revision replaces them: an incremental update keeps the official's signature), who did it."""

    __tablename__ = "desk_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(255), nullable=False, index=True)  # the official's `sub`
    owner_name: Mapped[str] = mapped_column(String(255), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    original: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    page_count: Mapped[int] = mapped_column(Integer, nullable=False)
    page: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-based
    box_x1: Mapped[float] = mapped_column(Float, nullable=False)  # PDF points from the page's lower left
    box_y1: Mapped[float] = mapped_column(Float, nullable=False)
    box_x2: Mapped[float] = mapped_column(Float, nullable=False)
    box_y2: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    level: Mapped[str | None] = mapped_column(String(8))  # PAdES level of the latest signature
    signed: Mapped[bytes | None] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_by: Mapped[str | None] = mapped_column(String(255))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sealed_by: Mapped[str | None] = mapped_column(String(255), index=True)
    sealed_by_name: Mapped[str | None] = mapped_column(String(255))
