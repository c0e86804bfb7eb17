"""The OCSP responder (RFC 6960, RFC 5019 profile): status answers signed by the delegated responder certificates.

An answer for one certificate without a nonce is pre-signed once and kept in the database (shared by every
worker process), keyed by the certificate's status: a status change deletes it in the same transaction
(`ca.models._status_changed`) and changes the key, so the very next answer shows the change. Requests with a
nonce, or for several certificates, are signed on the spot. Nothing a client sends can make it fail other
than with an OCSP error status (malformedRequest, unauthorized, tryLater, internalError).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from asn1crypto import ocsp
from asn1crypto import x509 as asn1_x509
from sqlalchemy.exc import IntegrityError

from ca import der
from ca.authority import CertificateAuthority
from ca.errors import CAError
from ca.keys import KeyError_, SignatureScheme, SigningKey
from ca.models import REVOKED, SUSPENDED, OcspAnswerRecord
from ca.signature import signature_algorithm_der
from egov.db import Database
from egov.metrics import OCSP_ANSWERS

log = logging.getLogger(__name__)

# Issuing CA role → the delegated responder that answers for it.
RESPONDERS = {"issuing-individuals": "ocsp-individuals", "issuing-organizations": "ocsp-organizations"}
CERT_ID_HASHES = ("sha1", "sha256", "sha384", "sha512")
MAX_CERT_IDS = 16
MAX_NONCE_BYTES = 32  # RFC 8954 §2.1
PARSED_CACHE_SIZE = 20_000
_NOT_PARSED = object()


class MalformedRequest(ValueError):
    """The bytes are not an OCSP request we can answer (→ malformedRequest)."""


@dataclass(frozen=True)
class OcspAnswer:
    """The DER OCSPResponse, and whether HTTP caches may keep it until `next_update` (RFC 5019 §6)."""

    der: bytes
    status: str  # asn1crypto names: successful, malformed_request, unauthorized, try_later, internal_error
    this_update: datetime | None = None
    next_update: datetime | None = None
    cacheable: bool = False


@dataclass(frozen=True)
class _Responder:
    issuer_id: int
    key: SigningKey
    scheme: SignatureScheme
    signature_algorithm_der: bytes
    responder_id_der: bytes  # [2] byKey: SHA-1 of the responder's public key (RFC 5019 §2.2.3)
    certs_der: bytes  # [0] { the responder's certificate }


@dataclass(frozen=True)
class _Query:
    """One CertID of a request, resolved to our issuer."""

    cert_id: ocsp.CertId
    hash_name: str
    serial: int
    responder: _Responder


def error_answer(status: str) -> OcspAnswer:
    """An unsigned OCSPResponse with only an error status (malformed_request, internal_error, …)."""
    return OcspAnswer(ocsp.OCSPResponse({"response_status": status}).dump(), status)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _as_utc(value: datetime | str) -> datetime:
    """A timestamp column read through the DBAPI: a datetime (PostgreSQL) or SQLAlchemy's text form (SQLite)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _StatusRow(NamedTuple):
    id: int
    issuer_id: int
    status: str
    status_changed_at: datetime | str | None
    revocation_reason: str | None
    invalidity_date: datetime | str | None
    answer_key: str | None
    answer_this_update: datetime | str | None
    answer_next_update: datetime | str | None
    answer_der: bytes | None

    @property
    def key(self) -> str:
        """Everything an answer states about the certificate: a pre-signed answer serves only while it is equal."""
        return "|".join(str(value or "") for value in self[2:6])


# The responder's hot path: one indexed query, a certificate's status and its pre-signed answer together.
_STATUS_SQL = (
    "SELECT c.id, c.issuer_id, c.status, c.status_changed_at, c.revocation_reason, c.invalidity_date, "
    "a.status_key, a.this_update, a.next_update, a.der "
    "FROM certificates c LEFT OUTER JOIN ocsp_answers a ON a.certificate_id = c.id AND a.hash_algorithm = :hash "
    "WHERE c.serial = :serial"
)


class _StatusReader:
    """Reads status on a DBAPI connection kept per thread: a few microseconds on SQLite instead of the ORM's
    hundreds. Every read sees the latest committed state (autocommit on SQLite; rolled back after on others)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.sqlite = database.dialect == "sqlite"
        self.sql = _STATUS_SQL if self.sqlite else _STATUS_SQL.replace(":hash", "%(hash)s").replace(
            ":serial", "%(serial)s")
        self._local = threading.local()

    def row(self, query: _Query) -> _StatusRow | None:
        """The status row of a CertID's certificate, or None when this issuer never issued that serial."""
        if query.serial < 0:
            return None
        parameters = {"hash": query.hash_name, "serial": format(query.serial, "x")}
        for attempt in range(2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = self.database.engine.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(self.sql, parameters)
                    found = cursor.fetchone()
                finally:
                    cursor.close()
                if not self.sqlite:
                    connection.rollback()
            except Exception:
                self._local.connection = None
                connection.invalidate()
                if attempt:
                    raise
                continue  # a dropped connection: open a new one and ask again
            if found is None:
                return None
            row = _StatusRow(*found)
            return row if row.issuer_id == query.responder.issuer_id else None
        return None


class OcspResponder:
    """Answers OCSP requests for the two issuing CAs through their delegated responder certificates."""

    def __init__(self, authority: CertificateAuthority) -> None:
        self.authority = authority
        self.database = authority.database
        self.validity = authority.settings.ocsp_validity
        self._lock = threading.Lock()
        self._issuers: dict[tuple[str, bytes, bytes], _Responder] | None = None
        self._reader = _StatusReader(self.database)
        # Requests without a nonce repeat byte for byte (RFC 5019): remember what each one asks.
        self._parsed: dict[bytes, list[_Query] | None] = {}
        self._counters: dict[str, object] = {}

    # -- set-up ------------------------------------------------------------------------------------------

    def _load(self) -> dict[tuple[str, bytes, bytes], _Responder]:
        """(hash, issuerNameHash, issuerKeyHash) → responder, for every hash a CertID may use."""
        with self._lock:
            if self._issuers is not None:
                return self._issuers
            issuers: dict[tuple[str, bytes, bytes], _Responder] = {}
            for issuer_role, responder_role in RESPONDERS.items():
                issuer = self.authority.require_role(issuer_role)
                responder_record = self.authority.require_role(responder_role)
                key = self.authority.signing_key(responder_record)
                scheme = SignatureScheme.default_for(key.public_key())
                responder_cert = asn1_x509.Certificate.load(responder_record.der)
                key_hash = hashlib.sha1(responder_cert.public_key["public_key"].contents[1:]).digest()
                responder = _Responder(
                    issuer_id=issuer.id,
                    key=key,
                    scheme=scheme,
                    signature_algorithm_der=signature_algorithm_der(key, scheme),
                    responder_id_der=der.tlv(0xA2, der.tlv(0x04, key_hash)),
                    certs_der=der.tlv(0xA0, der.sequence(responder_record.der)),
                )
                issuer_cert = asn1_x509.Certificate.load(issuer.der)
                name_der = issuer_cert.subject.dump()
                key_bits = issuer_cert.public_key["public_key"].contents[1:]
                for hash_name in CERT_ID_HASHES:
                    name_hash = hashlib.new(hash_name, name_der).digest()
                    key_hash = hashlib.new(hash_name, key_bits).digest()
                    issuers[(hash_name, name_hash, key_hash)] = responder
            self._issuers = issuers
            return issuers

    # -- answering ---------------------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> OcspAnswer:
        """The OCSPResponse for these request bytes; never raises for anything the client sent."""
        answer = self._respond(request_der)
        counter = self._counters.get(answer.status)
        if counter is None:
            counter = self._counters[answer.status] = OCSP_ANSWERS.labels(answer.status)
        counter.inc()
        return answer

    def _respond(self, request_der: bytes) -> OcspAnswer:
        try:
            issuers = self._load()
        except (CAError, KeyError_) as exc:
            log.warning("OCSP responder not ready: %s", exc)
            return error_answer("try_later")
        except Exception:  # e.g. the database is unreachable: still an OCSP answer
            log.exception("OCSP responder could not load its issuers")
            return error_answer("internal_error")
        try:
            cached = self._parsed.get(request_der, _NOT_PARSED)  # one lookup: another thread may clear()
            if cached is not _NOT_PARSED:
                queries, nonce = cached, None
            else:
                queries, nonce = self._parse(request_der, issuers)
                if nonce is None:
                    if len(self._parsed) >= PARSED_CACHE_SIZE:
                        self._parsed.clear()
                    self._parsed[request_der] = queries
        except MalformedRequest as exc:
            log.debug("malformed OCSP request: %s", exc)
            return error_answer("malformed_request")
        if queries is None:
            return error_answer("unauthorized")
        try:
            if len(queries) == 1 and nonce is None:
                return self._presigned(queries[0])
            return self._sign(queries, nonce, datetime.now(UTC))
        except Exception:  # a database or HSM failure must still be an OCSP answer
            log.exception("OCSP responder failed")
            return error_answer("internal_error")

    def _parse(
        self, request_der: bytes, issuers: dict[tuple[str, bytes, bytes], _Responder]
    ) -> tuple[list[_Query] | None, bytes | None]:
        """The CertIDs and nonce of a request; (None, _) when any CertID names an issuer we do not answer for."""
        try:
            request = ocsp.OCSPRequest.load(request_der, strict=True)
            tbs = request["tbs_request"]
            if tbs["version"].native != "v1":
                raise MalformedRequest("unsupported request version")
            items = list(tbs["request_list"])
            if not 1 <= len(items) <= MAX_CERT_IDS:
                raise MalformedRequest(f"{len(items)} CertIDs (1..{MAX_CERT_IDS} allowed)")
            nonce = None
            for extension in tbs["request_extensions"] or []:
                name = extension["extn_id"].native
                if name == "nonce":
                    nonce = extension["extn_value"].parsed.native
                    if not isinstance(nonce, bytes) or not 1 <= len(nonce) <= MAX_NONCE_BYTES:
                        raise MalformedRequest("nonce must be 1..32 octets")
                elif extension["critical"].native:
                    raise MalformedRequest(f"unsupported critical extension {name}")
            queries: list[_Query] | None = []
            for item in items:
                cert_id = item["req_cert"]
                hash_name = cert_id["hash_algorithm"]["algorithm"].native
                serial = cert_id["serial_number"].native
                name_hash = cert_id["issuer_name_hash"].native
                key_hash = cert_id["issuer_key_hash"].native
                if not isinstance(serial, int) or not isinstance(name_hash, bytes) or not isinstance(key_hash, bytes):
                    raise MalformedRequest("incomplete CertID")
                responder = issuers.get((hash_name, name_hash, key_hash))
                if responder is None:
                    queries = None
                elif queries is not None:
                    queries.append(_Query(cert_id, hash_name, serial, responder))
            if queries is not None and len({query.responder.issuer_id for query in queries}) > 1:
                queries = None  # one answer is signed by one responder: ask each CA's responder apart
            return queries, nonce
        except MalformedRequest:
            raise
        except Exception as exc:  # asn1crypto parses lazily: any decoding error can surface on access
            raise MalformedRequest(str(exc)) from exc

    def _presigned(self, query: _Query) -> OcspAnswer:
        now = datetime.now(UTC)
        row = self._reader.row(query)
        if row is None:
            return self._sign([query], None, now, rows={})  # unknown: not ours to keep
        if row.answer_der is not None and row.answer_key == row.key:
            this_update, next_update = _as_utc(row.answer_this_update), _as_utc(row.answer_next_update)
            if now < this_update + self.validity / 2:
                return OcspAnswer(row.answer_der, "successful", this_update, next_update, cacheable=True)
        answer = self._sign([query], None, now, rows={query.serial: row})
        self._store(row.id, query.hash_name, row.key, answer)
        return OcspAnswer(answer.der, answer.status, answer.this_update, answer.next_update, cacheable=True)

    def _store(self, certificate_id: int, hash_name: str, key: str, answer: OcspAnswer) -> None:
        try:
            with self.database.transaction() as session:
                stored = session.get(OcspAnswerRecord, (certificate_id, hash_name))
                if stored is None:
                    stored = OcspAnswerRecord(certificate_id=certificate_id, hash_algorithm=hash_name)
                    session.add(stored)
                stored.status_key, stored.der = key, answer.der
                stored.this_update, stored.next_update = answer.this_update, answer.next_update
        except IntegrityError:
            pass  # another worker stored the same answer first

    def _sign(
        self, queries: list[_Query], nonce: bytes | None, now: datetime, rows: dict[int, _StatusRow] | None = None
    ) -> OcspAnswer:
        if rows is None:
            rows = {query.serial: row for query in queries if (row := self._reader.row(query)) is not None}
        this_update = _utc(now)
        next_update = this_update + self.validity
        times = der.generalized_time(this_update) + der.tlv(0xA0, der.generalized_time(next_update))
        responses = b"".join(
            der.sequence(query.cert_id.dump() + _cert_status(rows.get(query.serial)) + times) for query in queries
        )
        responder = queries[0].responder
        tbs = responder.responder_id_der + der.generalized_time(this_update) + der.sequence(responses)
        if nonce is not None:
            tbs += der.tlv(0xA1, der.sequence(der.sequence(_NONCE_OID + der.tlv(0x04, der.tlv(0x04, nonce)))))
        tbs = der.sequence(tbs)
        signature = responder.key.sign(tbs, responder.scheme)
        basic = der.sequence(
            tbs + responder.signature_algorithm_der + der.tlv(0x03, b"\x00" + signature) + responder.certs_der
        )
        response = der.sequence(_SUCCESSFUL + der.tlv(0xA0, der.sequence(_BASIC_RESPONSE_OID + der.tlv(0x04, basic))))
        return OcspAnswer(response, "successful", this_update, next_update)


# DER pieces of the answer (RFC 6960 §4.2.1), assembled by hand: asn1crypto's builders cost more than the
# RSA signature. tests/ca/test_ocsp.py checks the result byte for byte against asn1crypto's encoding.
_SUCCESSFUL = bytes.fromhex("0a0100")  # responseStatus ENUMERATED successful(0)
_BASIC_RESPONSE_OID = bytes.fromhex("06092b0601050507300101")  # id-pkix-ocsp-basic
_NONCE_OID = bytes.fromhex("06092b0601050507300102")  # id-pkix-ocsp-nonce
_GOOD, _UNKNOWN = bytes.fromhex("8000"), bytes.fromhex("8200")  # [0] / [2] IMPLICIT NULL


def _cert_status(row: _StatusRow | None) -> bytes:
    """CertStatus: good, unknown, or revoked [1] { revocationTime, [0] reason } (unspecified is not stated)."""
    if row is None:
        return _UNKNOWN
    if row.status not in (REVOKED, SUSPENDED):
        return _GOOD
    changed_at = _as_utc(row.status_changed_at) if row.status_changed_at else datetime.now(UTC)
    reason = "certificateHold" if row.status == SUSPENDED else row.revocation_reason
    code = der.REASON_CODES.get(reason or "")
    stated = der.tlv(0xA0, bytes((0x0A, 0x01, code))) if code is not None else b""
    return der.tlv(0xA1, der.generalized_time(changed_at) + stated)
