"""The time-stamping authority (RFC 3161, with the ESSCertIDv2 of RFC 5816): signed TSTInfo tokens.

The clock is the system clock in UTC. Serial numbers come from a counter row incremented under its lock, so
they are unique and increasing across every worker process sharing the database. Anything a client sends that
we cannot honour is answered with PKIStatus rejection and the matching failInfo, never an exception.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ca.authority import CertificateAuthority
from ca.errors import CAError
from ca.keys import KeyError_, SignatureScheme, SigningKey
from ca.models import CounterRecord
from ca.signature import signature_algorithm_der
from egov.metrics import TIMESTAMPS

log = logging.getLogger(__name__)

TSA_ROLE = "tsa"
IMPRINT_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}
ACCURACY_SECONDS = 1
SERIAL_COUNTER = "tsa-serial"


class Rejection(Exception):
    """A request the TSA refuses: the RFC 3161 failInfo bit and a text for statusString."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@dataclass(frozen=True)
class TimeStampAnswer:
    der: bytes  # TimeStampResp
    granted: bool
    serial: int | None = None
    gen_time: datetime | None = None
    fail_info: str | None = None


@dataclass(frozen=True)
class _Signer:
    key: SigningKey
    scheme: SignatureScheme
    certificate: asn1_x509.Certificate
    chain: tuple[asn1_x509.Certificate, ...]  # the TSA certificate, then its issuing CA (not the root)
    signed_attributes_base: tuple[cms.CMSAttribute, ...]  # signingCertificateV2, computed once
    signature_algorithm: algos.SignedDigestAlgorithm


class _RejectedResp(core.Sequence):
    """TimeStampResp without a token (asn1crypto's own class wrongly requires one)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def rejection(fail_info: str, text: str) -> TimeStampAnswer:
    """A TimeStampResp with PKIStatus rejection, the failInfo bit and the reason as statusString."""
    if fail_info not in tsp.PKIFailureInfo._map.values():  # asn1crypto silently drops unknown names
        raise ValueError(f"unknown PKIFailureInfo {fail_info!r}")
    der = _RejectedResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({fail_info})}
    }).dump()
    return TimeStampAnswer(der, False, fail_info=fail_info)


class TimeStampAuthority:
    def __init__(self, authority: CertificateAuthority) -> None:
        self.authority = authority
        self.database = authority.database
        self.policy = authority.settings.tsa_policy_oid
        self._lock = threading.Lock()
        self._signer: _Signer | None = None

    def _load(self) -> _Signer:
        with self._lock:
            if self._signer is None:
                record = self.authority.require_role(TSA_ROLE)
                key = self.authority.signing_key(record)
                scheme = SignatureScheme.default_for(key.public_key())
                chain = tuple(
                    asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in self.authority.chain(record)[:-1]
                )
                certificate = chain[0]
                # ESSCertIDv2 with the default SHA-256 (so its hashAlgorithm is left out, as DER requires).
                signing_certificate = tsp.SigningCertificateV2({
                    "certs": [{
                        "cert_hash": hashlib.sha256(certificate.dump()).digest(),
                        "issuer_serial": {
                            "issuer": [asn1_x509.GeneralName(name="directory_name", value=certificate.issuer)],
                            "serial_number": certificate.serial_number,
                        },
                    }]
                })
                self._signer = _Signer(
                    key=key,
                    scheme=scheme,
                    certificate=certificate,
                    chain=chain,
                    signed_attributes_base=(
                        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [signing_certificate]}),
                    ),
                    signature_algorithm=algos.SignedDigestAlgorithm.load(signature_algorithm_der(key, scheme)),
                )
            return self._signer

    def respond(self, request_der: bytes) -> TimeStampAnswer:
        """The TimeStampResp for these request bytes: a token, or a rejection with its failInfo."""
        answer = self._respond(request_der)
        TIMESTAMPS.labels("granted" if answer.granted else answer.fail_info or "rejection").inc()
        return answer

    def _respond(self, request_der: bytes) -> TimeStampAnswer:
        try:
            signer = self._load()
        except (CAError, KeyError_) as exc:
            log.warning("TSA not ready: %s", exc)
            return rejection("system_failure", "TSA not initialised")
        except Exception:  # e.g. the database is unreachable: still an RFC 3161 answer
            log.exception("TSA could not load its certificate and key")
            return rejection("system_failure", "internal failure")
        try:
            request = self._parse(request_der)
        except Rejection as exc:
            return rejection(exc.fail_info, exc.text)
        try:
            serial = self.next_serial()
            gen_time = datetime.now(UTC).replace(microsecond=0)
            token = self._token(signer, request, serial, gen_time)
        except Exception:  # a database or HSM failure is still an RFC 3161 answer
            log.exception("TSA failed")
            return rejection("system_failure", "internal failure")
        answer = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return TimeStampAnswer(answer.dump(), True, serial, gen_time)

    def _parse(self, request_der: bytes) -> tsp.TimeStampReq:
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            version = request["version"].native
            imprint = request["message_imprint"]
            hash_name = imprint["hash_algorithm"]["algorithm"].native
            hashed = imprint["hashed_message"].native
            policy = request["req_policy"].native
            nonce = request["nonce"].native
            extensions = request["extensions"].native
            request["cert_req"].native  # noqa: B018 - decode now, so a damaged field is a rejection here
        except Exception as exc:  # asn1crypto parses lazily: any decoding error can surface on access
            raise Rejection("bad_data_format", "not a DER-encoded TimeStampReq") from exc
        if version != "v1":
            raise Rejection("bad_data_format", "only TimeStampReq version 1 is supported")
        if hash_name not in IMPRINT_HASHES:
            raise Rejection("bad_alg", f"message imprint hash {hash_name} is not accepted; use SHA-256/384/512")
        if not isinstance(hashed, bytes) or len(hashed) != IMPRINT_HASHES[hash_name]:
            raise Rejection("bad_data_format", f"the {hash_name} message imprint must be {IMPRINT_HASHES[hash_name]} "
                                               "octets")
        if policy is not None and policy != self.policy:
            raise Rejection("unaccepted_policy", f"policy {policy} is not offered; this TSA uses {self.policy}")
        if extensions:
            raise Rejection("unaccepted_extensions", "no request extensions are supported")
        if nonce is not None and not isinstance(nonce, int):
            raise Rejection("bad_data_format", "bad nonce")
        return request

    def next_serial(self) -> int:
        """The next serial number: unique and increasing across processes (a counter row under its lock)."""
        for _attempt in range(3):
            try:
                with self.database.transaction() as session:
                    counter = session.execute(
                        select(CounterRecord).where(CounterRecord.name == SERIAL_COUNTER).with_for_update()
                    ).scalar_one_or_none()
                    if counter is None:
                        counter = CounterRecord(name=SERIAL_COUNTER, value=0)
                        session.add(counter)
                    counter.value += 1
                    return counter.value
            except IntegrityError:
                continue  # two processes created the row at once: the loser reads it next time
        raise RuntimeError("could not allocate a TSA serial number")

    def _token(self, signer: _Signer, request: tsp.TimeStampReq, serial: int, gen_time: datetime) -> cms.ContentInfo:
        info: dict[str, object] = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": request["message_imprint"],
            "serial_number": serial,
            "gen_time": gen_time,
            "accuracy": {"seconds": ACCURACY_SECONDS},
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst_info = tsp.TSTInfo(info)
        content = tst_info.dump()
        digest_name = signer.scheme.hash_name
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(digest_name, content).digest()]}),
            *signer.signed_attributes_base,
        ]
        # DER orders a SET OF by encoding; verifiers re-encode before checking, so sign exactly that order.
        attributes.sort(key=lambda attribute: attribute.dump())
        signed_attributes = cms.CMSAttributes(attributes)
        signature = signer.key.sign(signed_attributes.dump(), signer.scheme)
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": signer.certificate.issuer, "serial_number": signer.certificate.serial_number},
            ),
            "digest_algorithm": {"algorithm": digest_name},
            "signed_attrs": signed_attributes,
            "signature_algorithm": signer.signature_algorithm,
            "signature": signature,
        })
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": digest_name}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = list(signer.chain)
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})

