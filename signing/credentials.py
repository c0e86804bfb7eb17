"""Signing credentials: a certificate from our CA with its chain and its key (which stays in its backend)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from ca.authority import CertificateAuthority
from ca.errors import CAError
from ca.keys import KeyError_, SigningKey
from ca.models import GOOD
from ca.profiles import SUBSCRIBER_PROFILES
from signing.errors import CredentialUnusable


@dataclass(frozen=True)
class Credential:
    """What signs: the signer's certificate, its issuers up to the root, and a handle on the key."""

    serial: str
    profile: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # issuers, nearest first, root last
    key: SigningKey

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1] if self.chain else self.certificate


def load_credential(authority: CertificateAuthority, serial: str) -> Credential:
    """The credential of a subscriber certificate by serial; refuses one that is not good, expired or keyless."""
    try:
        record = authority.get(serial)
    except CAError as exc:
        raise CredentialUnusable(exc.vietnamese, exc.english) from exc
    if record.profile not in SUBSCRIBER_PROFILES:
        raise CredentialUnusable(
            f"Chứng thư {record.serial} ({record.profile}) không dùng để ký văn bản",
            f"certificate {record.serial} has profile {record.profile}, not a document-signing profile",
        )
    now = datetime.now(UTC)
    if record.status != GOOD or record.not_after <= now:
        raise CredentialUnusable(
            f"Chứng thư {record.serial} không còn hiệu lực ({record.status})",
            f"certificate {record.serial} is {record.status if record.status != GOOD else 'expired'}: it cannot sign",
        )
    try:
        key = authority.signing_key(record)
    except (CAError, KeyError_) as exc:
        raise CredentialUnusable(
            f"Không mở được khóa của chứng thư {record.serial}",
            f"cannot open the key of certificate {record.serial}: {exc}",
        ) from exc
    chain = authority.chain(record)
    return Credential(record.serial, record.profile, chain[0], tuple(chain[1:]), key)
