"""The CSC service's decisions: who may see and use which credential, SADs bound to the user, the credential and
the exact hashes (SCAL2), use counting that holds across threads and processes, and an audit record for every
authorize and signHash, granted or refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ca.authority import CertificateAuthority
from ca.errors import CAError
from ca.keys import KeyError_, SignatureScheme
from ca.models import GOOD, CertificateRecord
from egov import audit
from egov.audit import AuditRecord
from egov.metrics import SIGNATURES
from egov.settings import Settings
from idp.errors import InsufficientAuthentication, TokenError
from idp.tokens import ACR_LEVELS, AccessToken
from signing.remote.algorithms import DIGEST_SIZES, key_description, signature_scheme
from signing.remote.directory import AccountDirectory
from signing.remote.errors import (
    CertificateUnusable,
    CscError,
    InvalidCredential,
    InvalidRequest,
    InvalidSad,
)
from signing.remote.models import RemoteCredential, SignatureActivation

log = logging.getLogger("egov.signing.remote")
CSC_VERSION = "1.0.4.0"
SIGNING_ACR = "loa2"
AUTHORIZE, SIGN_HASH = "csc.authorize", "csc.signHash"
MAX_DESCRIPTION = 500
MAX_AUDITED_HASHES = 100
SAD_RETENTION = timedelta(hours=1)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the verified token, or the token error when it did not verify, and from where."""

    token: AccessToken | None
    address: str | None
    token_error: TokenError | None = None

    @property
    def actor(self) -> str:
        return self.token.subject if self.token is not None else "-"

    def require_token(self) -> AccessToken:
        if self.token_error is not None:
            raise self.token_error
        if self.token is None:  # pragma: no cover - a Caller always has one of the two
            raise InvalidRequest("no access token")
        return self.token


@dataclass(frozen=True)
class Authorization:
    """What credentials/authorize answers: the SAD (shown once, stored only as its hash) and its lifetime."""

    sad: str = ""
    expires_in: int = 0

    def body(self) -> dict[str, object]:
        return {"SAD": self.sad, "expiresIn": self.expires_in}


@dataclass(frozen=True)
class HeldCredential:
    """A credential as its holder may see it: the certificate and its issuers (nearest first), no key."""

    credential_id: str
    serial: str
    profile: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class _Held:
    credential: RemoteCredential
    certificate: CertificateRecord


# -- request parameters ------------------------------------------------------------------------------------


def _object(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if body is None:
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], name: str, required: bool = True, limit: int = 4096) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidRequest(f"Missing (or invalid type) string parameter {name}")
    return value


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > 1024:
        raise InvalidRequest(f"Invalid Base64 {name} string parameter")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"Invalid Base64 {name} string parameter") from exc


def _hashes(body: Mapping[str, Any], limit: int) -> list[bytes]:
    values = body.get("hash")
    if not isinstance(values, list) or not values:
        raise InvalidRequest("Missing (or invalid type) array parameter hash")
    if len(values) > limit:
        raise InvalidRequest(f"Invalid parameter hash: at most {limit} hashes per request")
    hashes = [_b64(value, "hash") for value in values]
    if any(len(h) not in DIGEST_SIZES.values() for h in hashes):
        raise InvalidRequest("Invalid parameter hash: a hash has the wrong length")
    return hashes


def _encode(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def sad_id(sad: str) -> str:
    return hashlib.sha256(sad.encode()).hexdigest()


class RemoteSigningService:
    """The CSC API's logic over the CA's database and key backends; the HTTP layer only parses and renders."""

    def __init__(self, settings: Settings, authority: CertificateAuthority, directory: AccountDirectory,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.authority = authority
        self.database = authority.database
        self.directory = directory
        self.clock = clock

    # -- read-only endpoints -----------------------------------------------------------------------------

    def info(self) -> dict[str, object]:
        return {
            "specs": CSC_VERSION, "name": "egov-trust", "logo": f"{self.settings.public_base_url}/static/logo.png",
            "region": "VN", "lang": "vi-VN",
            "description": "Ký số từ xa cho cán bộ / remote signing for officials (SCAL2)",
            "authType": ["oauth2code"], "oauth2": f"{self.settings.keycloak_url}/realms/egov",
            "methods": ["info", "credentials/list", "credentials/info", "credentials/authorize",
                        "signatures/signHash"],
        }

    def list_credentials(self, caller: Caller, body: Mapping[str, Any] | None) -> dict[str, object]:
        token = caller.require_token()
        body = _object(body)
        limit = body.get("maxResults", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidRequest("Invalid parameter maxResults")
        with self.database.transaction() as session:
            query = (select(RemoteCredential.id).where(RemoteCredential.owner == token.subject)
                     .order_by(RemoteCredential.created_at, RemoteCredential.id).limit(limit))
            return {"credentialIDs": list(session.execute(query).scalars())}

    def credential_info(self, caller: Caller, body: Mapping[str, Any] | None) -> dict[str, object]:
        token = caller.require_token()
        body = _object(body)
        credential_id = _string(body, "credentialID", limit=64) or ""
        certificates = body.get("certificates", "single")
        if certificates not in ("none", "single", "chain"):
            raise InvalidRequest("Invalid parameter certificates")
        cert_info = body.get("certInfo", False)
        if not isinstance(cert_info, bool):
            raise InvalidRequest("Invalid parameter certInfo")
        with self.database.transaction() as session:
            held = self._held(session, credential_id, token.subject)
        record = held.certificate
        chain = self.authority.chain(record) if certificates == "chain" else [record.certificate]
        status = self.certificate_status(record)
        cert: dict[str, object] = {"status": status}
        if certificates != "none":
            cert["certificates"] = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain]
        if cert_info:
            certificate = record.certificate
            cert.update(
                issuerDN=certificate.issuer.rfc4514_string(), subjectDN=certificate.subject.rfc4514_string(),
                serialNumber=record.serial, validFrom=record.not_before.strftime("%Y%m%d%H%M%SZ"),
                validTo=record.not_after.strftime("%Y%m%d%H%M%SZ"),
            )
        key = {"status": "enabled" if status == "valid" else "disabled",
               **key_description(record.certificate.public_key())}
        return {
            "description": f"{record.common_name} ({record.profile})", "key": key, "cert": cert,
            "authMode": "explicit", "SCAL": "2", "PIN": {"presence": "false"}, "OTP": {"presence": "false"},
            "multisign": self.settings.csc_max_batch, "lang": "vi-VN",
        }

    def credential_for_signing(self, caller: Caller, credential_id: str) -> HeldCredential:
        """The caller's own credential with a usable certificate (signing itself still needs a SAD)."""
        token = caller.require_token()
        with self.database.transaction() as session:
            held = self._held(session, credential_id, token.subject)
        self._require_usable(held.certificate)
        chain = self.authority.chain(held.certificate)
        return HeldCredential(credential_id, held.certificate.serial, held.certificate.profile, chain[0],
                              tuple(chain[1:]))

    # -- authorize -----------------------------------------------------------------------------------------

    def authorize(self, caller: Caller, body: Mapping[str, Any] | None) -> Authorization:
        """A SAD for exactly these hashes, for the credential's owner holding a fresh loa2 login."""
        details: dict[str, object] = {"client": caller.address}
        try:
            token, body, credential_id = self._opening(caller, body, details)
            hashes = self._requested_hashes(body, details)
            details["documents"] = _string(body, "description", required=False, limit=MAX_DESCRIPTION)
            count = body.get("numSignatures")
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise InvalidRequest("Missing (or invalid type) integer parameter numSignatures")
            if count != len(hashes):
                raise InvalidRequest("Invalid parameter numSignatures: it must equal the number of hashes")
            if len(set(hashes)) != len(hashes):
                raise InvalidRequest("Invalid parameter hash: the same hash is listed twice")
            self._require_fresh_step_up(token)
            with self.database.transaction() as session:
                held = self._held(session, credential_id, token.subject)
            self._require_usable(held.certificate)
            self.directory.require_enabled(token.subject)
            sad = secrets.token_urlsafe(32)
            now = datetime.now(UTC)
            expires_at = now + timedelta(seconds=self.settings.sad_lifetime)
            with self.database.transaction() as session:
                # Expired SADs are only dead weight (the audit trail keeps their story): sweep them as we go.
                session.execute(delete(SignatureActivation).where(SignatureActivation.expires_at < now - SAD_RETENTION))
                session.add(SignatureActivation(
                    id=sad_id(sad), credential_id=credential_id, owner=token.subject, hashes=" ".join(_encode(hashes)),
                    allowed=count, used=0, created_at=now, expires_at=expires_at,
                ))
                details.update(result="granted", activation=sad_id(sad)[:16], num_signatures=count)
                self._audit(session, AUTHORIZE, caller, details)
            return Authorization(sad, self.settings.sad_lifetime)
        except (CscError, TokenError) as refusal:
            self._refused(AUTHORIZE, caller, details, refusal)
            raise

    @staticmethod
    def _opening(caller: Caller, body: Mapping[str, Any] | None,
                 details: dict[str, object]) -> tuple[AccessToken, Mapping[str, Any], str]:
        """What authorize and signHash read first, noted for the audit record: the user, the credential."""
        token = caller.require_token()
        details["username"] = token.claims.get("preferred_username")
        body = _object(body)
        credential_id = _string(body, "credentialID", limit=64) or ""
        details["credential"] = credential_id
        return token, body, credential_id

    def _requested_hashes(self, body: Mapping[str, Any], details: dict[str, object]) -> list[bytes]:
        hashes = _hashes(body, self.settings.csc_max_batch)
        details["hashes"] = _encode(hashes[:MAX_AUDITED_HASHES])
        return hashes

    def _require_fresh_step_up(self, token: AccessToken) -> None:
        """loa2 (an OTP) within the last `signing_max_auth_age` seconds, else an RFC 9470 challenge."""
        max_age = self.settings.signing_max_auth_age
        if ACR_LEVELS.get(token.acr or "", 0) < ACR_LEVELS[SIGNING_ACR]:
            raise InsufficientAuthentication(f"signing needs {SIGNING_ACR}, the token has {token.acr!r}",
                                             acr_values=SIGNING_ACR, max_age=max_age)
        if token.auth_time is None or self.clock() - token.auth_time > max_age:
            raise InsufficientAuthentication(f"the second factor is older than {max_age} s",
                                             acr_values=SIGNING_ACR, max_age=max_age)

    # -- signHash ------------------------------------------------------------------------------------------

    def sign_hash(self, caller: Caller, body: Mapping[str, Any] | None) -> dict[str, list[str]]:
        """Signatures over hashes the SAD covers; each counts against the SAD's uses, atomically."""
        details: dict[str, object] = {"client": caller.address}
        try:
            token, body, credential_id = self._opening(caller, body, details)
            sad = _string(body, "SAD", limit=512) or ""
            details["activation"] = sad_id(sad)[:16]
            hashes = self._requested_hashes(body, details)
            sign_algo = _string(body, "signAlgo", limit=64) or ""
            hash_algo = _string(body, "hashAlgo", required=False, limit=64)
            params = body.get("signAlgoParams")
            details.update(sign_algo=sign_algo, hash_algo=hash_algo)
            self.directory.require_enabled(token.subject)
            # One transaction: the credential, the SAD's bindings and uses, and the certificate's status are read
            # where the uses are counted, so a revocation committed before this request is seen.
            with self.database.transaction() as session:
                record = self._held(session, credential_id, token.subject).certificate
                key = self._key(record)
                scheme = signature_scheme(key.public_key(), sign_algo, hash_algo,
                                          _b64(params, "signAlgoParams") if params is not None else None)
                if any(len(h) != DIGEST_SIZES[scheme.hash_name] for h in hashes):
                    raise InvalidRequest(f"Invalid parameter hash: a hash is not {scheme.hash_name}")
                self._spend(session, sad, credential_id, token.subject, hashes)
                self._require_usable(record)
                signatures = [self._sign(key, h, scheme) for h in hashes]
                details.update(result="signed", signatures=len(signatures), pss=scheme.pss)
                self._audit(session, SIGN_HASH, caller, details)
            SIGNATURES.labels("csc", "signed").inc(len(signatures))
            return {"signatures": [base64.b64encode(s).decode() for s in signatures]}
        except (CscError, TokenError) as refusal:
            self._refused(SIGN_HASH, caller, details, refusal)
            raise

    def _key(self, record: CertificateRecord) -> Any:  # noqa: ANN401 - a SigningKey
        try:
            return self.authority.signing_key(record)
        except (KeyError_, CAError) as exc:
            raise CertificateUnusable("the credential's key cannot be opened", "key_unavailable") from exc

    @staticmethod
    def _sign(key: Any, digest: bytes, scheme: SignatureScheme) -> bytes:  # noqa: ANN401 - a SigningKey
        try:
            return key.sign_digest(digest, scheme)
        except KeyError_ as exc:
            raise CertificateUnusable("the key backend refused to sign", "key_unavailable") from exc

    def _spend(self, session: Session, sad: str, credential_id: str, subject: str, hashes: list[bytes]) -> None:
        """Check the SAD's bindings, then count the uses with one guarded UPDATE: concurrent requests (threads or
        processes, SQLite or PostgreSQL) can never make more signatures than it allows."""
        activation = session.get(SignatureActivation, sad_id(sad))
        if activation is None:
            raise InvalidSad("Invalid parameter SAD", "unknown_sad")
        if activation.owner != subject:
            raise InvalidSad("Invalid parameter SAD: it was issued to another user", "sad_other_user")
        if activation.credential_id != credential_id:
            raise InvalidSad("Invalid parameter SAD: it was issued for another credential", "sad_other_credential")
        bound = set(activation.hashes.split())
        if not set(_encode(hashes)) <= bound:
            raise InvalidSad("Invalid parameter hash: not authorized by the SAD", "hash_not_bound")
        now = datetime.now(UTC)
        if activation.expires_at <= now:
            raise InvalidSad("SAD expired", "sad_expired")
        spent = session.execute(
            update(SignatureActivation)
            .where(SignatureActivation.id == activation.id,
                   SignatureActivation.used + len(hashes) <= SignatureActivation.allowed,
                   SignatureActivation.expires_at > now)
            .values(used=SignatureActivation.used + len(hashes))
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:
            raise InvalidSad("Invalid parameter SAD: it has already been used", "sad_used")

    # -- shared checks -------------------------------------------------------------------------------------

    def _held(self, session: Session, credential_id: str, subject: str) -> _Held:
        credential = session.get(RemoteCredential, credential_id)
        if credential is None:
            raise InvalidCredential("unknown_credential")
        if credential.owner != subject:
            raise InvalidCredential("not_owner")
        record = session.get(CertificateRecord, credential.certificate_id)
        if record is None:  # pragma: no cover - a foreign key keeps it
            raise InvalidCredential("unknown_credential")
        return _Held(credential, record)

    @staticmethod
    def certificate_status(record: CertificateRecord) -> str:
        """As credentials/info says it: valid, expired, or the status (revoked, suspended); only valid signs."""
        if record.status != GOOD:
            return record.status
        return "expired" if record.not_after <= datetime.now(UTC) else "valid"

    def _require_usable(self, record: CertificateRecord) -> None:
        status = self.certificate_status(record)
        if status != "valid":
            raise CertificateUnusable(f"the signing certificate is {status}", f"certificate_{status}")

    def _audit(self, session: Session, action: str, caller: Caller, details: dict[str, object]) -> None:
        credential = details.get("credential")
        audit.append(session, actor=caller.actor, action=action,
                     target=f"credential:{credential}" if credential else "credential:-", details=details)

    def _refused(self, action: str, caller: Caller, details: dict[str, object], refusal: Exception) -> None:
        reason = getattr(refusal, "reason", "refused")
        details.update(result="refused", reason=reason)
        if caller.token is None:
            # No verified user, so no one's authorization to record; and an anonymous flood must not queue on the
            # audit chain's single writer ahead of real signatures. The log says it (never the token).
            log.warning("%s refused before authentication: %s from %s", action, reason, caller.address)
        else:
            with self.database.transaction() as session:
                self._audit(session, action, caller, details)
        SIGNATURES.labels("csc" if action == SIGN_HASH else "csc-authorize", reason).inc()

    # -- auditors ------------------------------------------------------------------------------------------

    def audit_trail(self, credential_id: str | None = None, limit: int = 100,
                    before: int | None = None) -> list[dict[str, object]]:
        """Authorize and signHash records, newest first (the auditor's listing)."""
        query = (select(AuditRecord).where(AuditRecord.action.in_((AUTHORIZE, SIGN_HASH)))
                 .order_by(AuditRecord.seq.desc()).limit(max(1, min(limit, 1000))))
        if credential_id:
            query = query.where(AuditRecord.target == f"credential:{credential_id}")
        if before is not None:
            query = query.where(AuditRecord.seq < before)
        with self.database.transaction() as session:
            return [
                {"seq": r.seq, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, "target": r.target,
                 "details": json.loads(r.details), "hash": r.hash}
                for r in session.execute(query).scalars()
            ]
