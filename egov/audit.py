"""The append-only, hash-chained audit trail: every issuance, status change, authorization and signature."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from egov.db import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditRecord(Base):
    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    details: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
            "target": self.target, "details": json.loads(self.details), "prev_hash": self.prev_hash, "hash": self.hash,
        }


class AuditHead(Base):
    """The single row naming the newest record: the lock writers queue on, and the check that catches a
    deleted tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


def record_hash(seq: int, at: datetime, actor: str, action: str, target: str, details: str, prev: str) -> str:
    canonical = json.dumps(
        [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action, target, details, prev],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(session: Session, *, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditRecord:
    """Append one record inside the caller's transaction, so it commits with the action it describes."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS_HASH)
        session.add(head)
    seq = head.seq + 1
    # Microsecond precision is what every backend keeps, so the hash is recomputable after a round trip.
    at = datetime.now(UTC)
    body = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    digest = record_hash(seq, at, actor, action, target, body, head.hash)
    record = AuditRecord(
        seq=seq, at=at, actor=actor, action=action, target=target, details=body, prev_hash=head.hash, hash=digest
    )
    session.add(record)
    head.seq, head.hash = seq, digest
    session.flush()
    return record


@dataclass(frozen=True)
class ChainVerification:
    records: int
    ok: bool
    problem: str | None = None
    bad_seq: int | None = None


def verify_chain(session: Session) -> ChainVerification:
    """Walk the whole chain: every hash recomputes, every link points to its predecessor, no gaps, head agrees."""
    previous_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for record in session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars():
        if record.seq != expected_seq:
            return ChainVerification(count, False, f"record {expected_seq} is missing", expected_seq)
        if record.prev_hash != previous_hash:
            return ChainVerification(count, False, f"record {record.seq} does not link to its predecessor", record.seq)
        recomputed = record_hash(
            record.seq, record.at, record.actor, record.action, record.target, record.details, record.prev_hash
        )
        if recomputed != record.hash:
            return ChainVerification(count, False, f"record {record.seq} was altered", record.seq)
        previous_hash, expected_seq, count = record.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != count or head_hash != previous_hash:
        return ChainVerification(count, False, f"the chain ends at record {count} but its head says {head_seq}", count)
    return ChainVerification(count, True)


def list_records(
    session: Session,
    *,
    target: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """The newest records first, narrowed by exact target, action and actor, by time (`since` inclusive, `until`
    exclusive), and to those older than record `before` (the cursor of the next page)."""
    query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
    for column, wanted in ((AuditRecord.target, target), (AuditRecord.action, action), (AuditRecord.actor, actor)):
        if wanted is not None:
            query = query.where(column == wanted)
    if since is not None:
        query = query.where(AuditRecord.at >= since)
    if until is not None:
        query = query.where(AuditRecord.at < until)
    if before is not None:
        query = query.where(AuditRecord.seq < before)
    return list(session.execute(query).scalars())
