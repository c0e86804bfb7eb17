"""Document signing for the signing desk: PDFs in, PDFs signed with Decree 30 appearances out, through the same SAD
rules as the CSC API — one approval (one SAD, bound to every document's hash) covers the batch the official saw."""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ca.keys import SignatureScheme
from signing import appearance as d30
from signing.credentials import Credential
from signing.errors import SigningError
from signing.remote.algorithms import request_algorithms
from signing.remote.errors import InvalidRequest
from signing.remote.service import Caller, RemoteSigningService
from signing.signer import DocumentSigner, PadesLevel, SignatureRequest, SignedDocument

MAX_DOCUMENTS = 20
APPROVAL_WAIT_SECONDS = 120


@dataclass(frozen=True)
class DeskDocument:
    """A PDF of the batch; `request` overrides the batch's signature request for it (its own page and box)."""

    name: str
    data: bytes
    request: SignatureRequest | None = None


class _Aborted(Exception):
    """Another document of the batch failed before the approval; nothing was signed."""


class BatchApproval:
    """Collects the hash of every document's signed attributes; when all are in, asks the service once for a SAD
    over exactly those hashes, then for the signatures, and hands each document its own."""

    def __init__(self, service: RemoteSigningService, caller: Caller, credential_id: str, public_key: PublicKeyTypes,
                 names: Sequence[str]) -> None:
        self.service = service
        self.caller = caller
        self.credential_id = credential_id
        self.public_key = public_key
        self.names = list(names)
        self._digests: dict[int, bytes] = {}
        self._signatures: list[bytes] | None = None
        self._error: BaseException | None = None
        self._approver: int | None = None
        self._condition = threading.Condition()

    def abort(self, error: BaseException) -> None:
        with self._condition:
            if self._error is None and self._signatures is None:
                self._error = error
            self._condition.notify_all()

    def submit(self, index: int, digest: bytes, scheme: SignatureScheme) -> bytes:
        with self._condition:
            self._digests[index] = digest
            if len(self._digests) == len(self.names) and self._error is None:
                self._approver = index
                try:
                    self._signatures = self._approve_and_sign(scheme)
                except BaseException as exc:  # every waiting document must learn of it
                    self._error = exc
                self._condition.notify_all()
            if not self._condition.wait_for(lambda: self._signatures is not None or self._error is not None,
                                            timeout=APPROVAL_WAIT_SECONDS):
                raise _Aborted("the batch was not complete in time")
            if self._error is not None:
                raise self._error if index == self._approver else _Aborted(str(self._error))
            return self._signatures[index]  # type: ignore[index]

    def _approve_and_sign(self, scheme: SignatureScheme) -> list[bytes]:
        hashes = [base64.b64encode(self._digests[i]).decode() for i in range(len(self.names))]
        description = ", ".join(self.names)[:500]
        grant = self.service.authorize(self.caller, {"credentialID": self.credential_id, "numSignatures": len(hashes),
                                                     "hash": hashes, "description": description})
        hash_oid, sign_oid = request_algorithms(self.public_key, scheme.hash_name)
        signed = self.service.sign_hash(self.caller, {
            "credentialID": self.credential_id, "SAD": grant.sad, "hash": hashes,
            "hashAlgo": hash_oid, "signAlgo": sign_oid,
        })
        return [base64.b64decode(s) for s in signed["signatures"]]


class _ApprovedKey:
    """A `SigningKey` for one document of the batch: signing waits for the batch's single approval."""

    def __init__(self, batch: BatchApproval, index: int) -> None:
        self.uri = f"csc:{batch.credential_id}"
        self._batch = batch
        self._index = index

    def public_key(self) -> PublicKeyTypes:
        return self._batch.public_key

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        return self._batch.submit(self._index, digest, scheme)

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        return self.sign_digest(scheme.digest(data), scheme)


def sign_documents(service: RemoteSigningService, caller: Caller, credential_id: str,
                   documents: Sequence[DeskDocument], level: PadesLevel,
                   request: SignatureRequest) -> list[SignedDocument]:
    """Sign every document with the caller's credential under one approval; all or nothing."""
    if not documents or len(documents) > MAX_DOCUMENTS:
        raise InvalidRequest(f"send 1 to {MAX_DOCUMENTS} PDF documents")
    held = service.credential_for_signing(caller, credential_id)
    batch = BatchApproval(service, caller, credential_id, held.certificate.public_key(),
                          [d.name for d in documents])

    def one(index: int) -> SignedDocument:
        credential = Credential(held.serial, held.profile, held.certificate, held.chain, _ApprovedKey(batch, index))
        try:
            document = documents[index]
            return DocumentSigner(credential, service.settings, level).sign(document.data, document.request or request)
        except BaseException as exc:
            batch.abort(exc)
            raise

    with ThreadPoolExecutor(max_workers=len(documents)) as pool:
        futures = [pool.submit(one, i) for i in range(len(documents))]
        errors = [f.exception() for f in futures]
    first = next((e for e in errors if e is not None and not isinstance(e, _Aborted)), None)
    if first is None:
        first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return [f.result() for f in futures]


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InvalidRequest("box must be x1,y1,x2,y2 in points") from exc
    if not (0 <= x1 < x2 and 0 <= y1 < y2):
        raise InvalidRequest("box must be x1,y1,x2,y2 with x1 < x2 and y1 < y2")
    return (x1, y1, x2, y2)


def signature_request(form: Mapping[str, str]) -> tuple[PadesLevel, SignatureRequest]:
    """Level and Decree 30 appearance from the desk's form fields. Images are the credential holder's registered
    ones (the demo images here), never uploaded with the request."""
    try:
        level = PadesLevel.parse(form.get("level") or "B-B")
        kind = form.get("appearance") or "none"
        shown: d30.Appearance | None = None
        if kind == "personal":
            box = _box(form.get("box"))
            page = form.get("page") or "1"
            if not page.isdigit() or int(page) < 1:
                raise InvalidRequest("page must be a positive integer")
            shown = d30.PersonalSignature(placement=d30.Placement(int(page) - 1, box) if box else None,
                                          placeholder=form.get("placeholder") or None)
        elif kind == "seal":
            shown = d30.OrganizationSeal()
        elif kind == "copy":
            shown = d30.CopyNotice(form.get("copy_form") or "", form.get("copy_org") or "")
        elif kind == "attachment":
            shown = d30.AttachmentNotice(form.get("number_symbol") or "")
        elif kind != "none":
            raise InvalidRequest("appearance must be none, personal, seal, copy or attachment")
    except SigningError as exc:
        raise InvalidRequest(exc.english) from exc
    return level, SignatureRequest(appearance=shown, reason=form.get("reason") or None,
                                   location=form.get("location") or None)
