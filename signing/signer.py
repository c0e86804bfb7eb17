"""PAdES signing (B-B, B-T, B-LT, B-LTA) through our key backends, with Decree 30 appearances.

A `DocumentSigner` is made once per credential: the key handle, the certificate chain, the pyHanko signer and
the space reserved for the signature are prepared once and reused for every document it signs. The private
key never leaves its backend: pyHanko hands us the signed attributes and we sign them with `SigningKey`.
"""

from __future__ import annotations

import enum
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import requests
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, PdfSigningSession, SigDSSPlacementPreference
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, set_tsp_headers
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ca.keys import SignatureScheme, SigningKey
from egov import audit
from egov.db import Database
from egov.settings import Settings
from signing import appearance as d30
from signing.credentials import Credential
from signing.documents import open_document, page_index_of
from signing.errors import (
    CredentialUnusable,
    FieldNotFound,
    SealNeedsPersonalSignature,
    SigningError,
    TimeServiceUnavailable,
)
from signing.fonts import serif_font

SEAL_FIELD = "DauCoQuan"
COPY_FIELD, ATTACHMENT_FIELD = "SaoY", "PhuLuc"  # stems of the field names of copy and attachment notices
# OCSP answers and CRLs are dated by the responder's clock, often in the same second they are fetched, and the
# signer's clock may differ by a few seconds: pyHanko's default one-second tolerance rejects them as "too recent".
CLOCK_TOLERANCE = timedelta(seconds=60)


class PadesLevel(enum.Enum):
    """ETSI EN 319 142-1 baseline levels."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @classmethod
    def parse(cls, text: str) -> PadesLevel:
        normalized = text.strip().upper().replace("_", "-")
        if not normalized.startswith("B-"):
            normalized = f"B-{normalized}"
        for level in cls:
            if level.value == normalized:
                return level
        raise SigningError(
            f"Mức PAdES {text!r} không hợp lệ; dùng B-B, B-T, B-LT hoặc B-LTA",
            f"unknown PAdES level {text!r}; use B-B, B-T, B-LT or B-LTA",
        )

    @property
    def timestamped(self) -> bool:
        return self is not PadesLevel.B_B

    @property
    def long_term(self) -> bool:
        return self in (PadesLevel.B_LT, PadesLevel.B_LTA)


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


class KeyBackendSigner(signers.Signer):
    """A pyHanko signer whose private key operation goes to our `SigningKey` (file or PKCS#11 backend)."""

    def __init__(self, key: SigningKey, certificate: x509.Certificate, chain: tuple[x509.Certificate, ...],
                 pss: bool = False) -> None:
        public = key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            self._signature_size = public.key_size // 8
        elif isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            self._signature_size = 2 * (size + 3) + 3  # DER SEQUENCE of two INTEGERs, at most
        else:
            raise SigningError("Loại khóa không hỗ trợ", f"unsupported key type {type(public).__name__}")
        self._key = key
        self._pss = pss and isinstance(public, rsa.RSAPublicKey)
        super().__init__(
            prefer_pss=self._pss,
            signing_cert=to_asn1(certificate),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in chain]),
            embed_roots=True,
        )

    @property
    def signature_size(self) -> int:
        return self._signature_size

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._signature_size)
        return self._key.sign(data, SignatureScheme(digest_algorithm.lower(), pss=self._pss))


class KeepAliveTimeStamper(timestamps.TimeStamper):
    """RFC 3161 over one kept-alive HTTP connection for all the documents a signer signs.

    pyHanko's clients open a connection (and, for aiohttp, a session in a new event loop) per request; for a
    batch that handshake was most of the B-T overhead on top of B-B."""

    def __init__(self, url: str, timeout: float = 15) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._lock = threading.Lock()

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        body, headers = req.dump(), set_tsp_headers({})
        with self._lock:
            try:
                response = self._session.post(self.url, body, headers=headers, timeout=self.timeout)
            except requests.ConnectionError:
                # The server may close an idle kept-alive connection just as we reuse it: one retry on a fresh
                # connection (a timestamp request can be sent twice; each answer stands on its own).
                try:
                    response = self._session.post(self.url, body, headers=headers, timeout=self.timeout)
                except (OSError, requests.RequestException) as exc:
                    raise TimestampRequestError("Error in communication with timestamp server") from exc
            except (OSError, requests.RequestException) as exc:
                raise TimestampRequestError("Error in communication with timestamp server") from exc
        if response.headers.get("Content-Type") != "application/timestamp-reply":
            raise TimestampRequestError("Timestamp server response is malformed.", response)
        return tsp.TimeStampResp.load(response.content)


@dataclass(frozen=True)
class SignatureRequest:
    """One signature on one document: where it goes, how it looks, and what it locks."""

    field_name: str | None = None
    appearance: d30.Appearance | None = None
    reason: str | None = None
    location: str | None = None
    certify: bool = False  # a certification (DocMDP) signature; must be the document's first
    docmdp: MDPPerm = MDPPerm.FILL_FORMS
    seal_diameter_mm: float = d30.DEMO_SEAL_DIAMETER_MM  # for the seal field a certifying signature reserves


class _Target(NamedTuple):
    """Where a signature goes and how it looks, as pyHanko's PdfSigner wants it."""

    field_name: str
    new_field: SigFieldSpec | None  # None: sign an existing (empty) field
    style: BaseStampStyle | None
    text_params: dict[str, str]

    @property
    def existing_field(self) -> bool:
        return self.new_field is None


@dataclass(frozen=True)
class SignedDocument:
    data: bytes
    field_name: str
    signing_time: datetime
    level: PadesLevel


class _PdfSignerAt(signers.PdfSigner):
    """pyHanko's PdfSigner with the signing time we chose, so the stamp text and the CMS signing time agree."""

    def __init__(self, *args: object, signing_time: datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out: object, existing_fields_only: bool = False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)  # type: ignore[arg-type]
        session.system_time = self._signing_time
        return session


class DocumentSigner:
    """Signs PDFs with one credential at one PAdES level; build it once, call `sign` for each document."""

    def __init__(
        self,
        credential: Credential,
        settings: Settings,
        level: PadesLevel = PadesLevel.B_B,
        *,
        tsa_url: str | None = None,
        trust_anchors: tuple[x509.Certificate, ...] = (),
        pss: bool = False,
    ) -> None:
        self.credential = credential
        self.settings = settings
        self.level = level
        self.signer = KeyBackendSigner(credential.key, credential.certificate, credential.chain, pss=pss)
        self.tsa_url = tsa_url or settings.tsa_url
        self.timestamper = KeepAliveTimeStamper(self.tsa_url) if level.timestamped else None
        anchors = trust_anchors or (credential.root,)
        self._trust_roots = [to_asn1(c) for c in anchors]
        self._other_certs = [to_asn1(c) for c in credential.chain]
        self._bytes_reserved = self._reservation()

    def _reservation(self) -> int:
        """Room for the CMS blob, hex-encoded: certificates, signature, attributes, and a timestamp token."""
        certificates = len(self.signer.signing_cert.dump()) + sum(len(c.dump()) for c in self._other_certs)
        size = certificates + self.signer.signature_size + 2048
        if self.timestamper is not None:
            size += 12288  # a token with the TSA's chain; FIELD-NOTES: reserve generously
        return 2 * size

    def _validation_context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=self._trust_roots, other_certs=self._other_certs, allow_fetching=True,
            revocation_mode="hard-fail", time_tolerance=CLOCK_TOLERANCE,
        )

    def sign(self, data: bytes, request: SignatureRequest | None = None) -> SignedDocument:
        """Sign `data` (a PDF) as an incremental update and return the signed PDF."""
        request = request or SignatureRequest()
        writer = IncrementalPdfFileWriter.from_reader(open_document(data, self.settings.max_pdf_pages))
        signing_time = datetime.now(UTC).replace(microsecond=0)
        target = self._target(writer, request, signing_time)
        metadata = signers.PdfSignatureMetadata(
            field_name=target.field_name,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm=None,
            reason=request.reason,
            location=request.location,
            certify=request.certify,
            docmdp_permissions=request.docmdp,
            embed_validation_info=self.level.long_term,
            use_pades_lta=self.level is PadesLevel.B_LTA,
            validation_context=self._validation_context() if self.level.long_term else None,
            # The signer's certificates and OCSP/CRL go into the DSS of the signed revision itself, so a B-LT
            # signature covers the whole file (pdfsig: "Total document signed"); no legacy VRI entries.
            dss_settings=DSSContentSettings(
                placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False
            ),
        )
        pdf_signer = _PdfSignerAt(
            metadata, self.signer, timestamper=self.timestamper, stamp_style=target.style,
            new_field_spec=target.new_field, signing_time=signing_time,
        )
        try:
            output = pdf_signer.sign_pdf(
                writer, existing_fields_only=target.existing_field, bytes_reserved=self._bytes_reserved,
                appearance_text_params=target.text_params,
            )
        except (OSError, TimeoutError, TimestampRequestError) as exc:
            raise TimeServiceUnavailable(
                "Không kết nối được dịch vụ cấp dấu thời gian hoặc kiểm tra trạng thái chứng thư",
                f"the time-stamping or revocation service is unreachable: {exc}",
            ) from exc
        except (PyHankoSigningError, PdfError) as exc:
            raise _explain(exc) from exc
        return SignedDocument(output.getvalue(), target.field_name, signing_time, self.level)

    # -- where the signature goes and how it looks ------------------------------------------------------

    def _target(self, writer: IncrementalPdfFileWriter, request: SignatureRequest, signing_time: datetime) -> _Target:
        shown = request.appearance
        name = request.field_name
        if shown is None:
            if name and _empty_field_exists(writer, name):
                return _Target(name, None, None, {})
            name = name or _fresh_field_name(writer, "Signature")
            return _Target(name, SigFieldSpec(sig_field_name=name), None, {})
        if isinstance(shown, d30.PersonalSignature):
            style = d30.image_stamp_style(shown.image)
            spec = None
            if shown.placeholder is not None:
                name = shown.placeholder
                page, box = _fit_placeholder(writer, shown.placeholder, d30.image_aspect(shown.image))
            else:
                assert shown.placement is not None
                page, box = shown.placement.page, d30.fit_to_aspect(shown.placement.box, d30.image_aspect(shown.image))
                name = name or _fresh_field_name(writer, "ChuKy")
                spec = self._spec(writer, name, page, box)
            if request.certify and request.docmdp is not MDPPerm.NO_CHANGES:
                # After a certification signature only existing fields may be signed (a new field is a change
                # to the page): reserve the organisation's seal field now, where Decree 30 will want it.
                fields.append_signature_field(
                    writer, SigFieldSpec(SEAL_FIELD, on_page=page, box=d30.seal_box(box, request.seal_diameter_mm))
                )
            return _Target(name, spec, style, {})
        if isinstance(shown, d30.OrganizationSeal):
            page, personal_box = personal_signature_box(writer.prev.stream.getvalue(), self.settings)
            style = d30.image_stamp_style(shown.image)
            if _empty_field_exists(writer, SEAL_FIELD) and request.field_name in (None, SEAL_FIELD):
                return _Target(SEAL_FIELD, None, style, {})
            box = d30.seal_box(personal_box, shown.diameter_mm)
            name = name or _fresh_field_name(writer, SEAL_FIELD)
            return _Target(name, self._spec(writer, name, page, box), style, {})
        lines = shown.lines(signing_time)
        font = serif_font(self.settings.data_dir / "fonts")
        width, height = _page_size(writer, 0)
        box = d30.notice_box(lines, font, width, height)
        name = name or _fresh_field_name(writer, COPY_FIELD if isinstance(shown, d30.CopyNotice) else ATTACHMENT_FIELD)
        style = d30.notice_stamp_style(font)
        return _Target(name, self._spec(writer, name, 0, box), style, {"notice": "\n".join(lines)})

    def _spec(self, writer: IncrementalPdfFileWriter, name: str, page: int, box: d30.Box) -> SigFieldSpec:
        pages = int(writer.root["/Pages"]["/Count"])
        if not 0 <= page < pages:
            raise SigningError(f"Trang {page + 1} không tồn tại", f"page {page + 1} does not exist ({pages} pages)")
        return SigFieldSpec(sig_field_name=name, on_page=page, box=tuple(box))  # type: ignore[arg-type]


def _page_size(writer: IncrementalPdfFileWriter, page: int) -> tuple[float, float]:
    page_obj, _ = writer.find_page_for_modification(page)
    x1, y1, x2, y2 = (float(v) for v in page_obj.get_object().get("/CropBox", page_obj.get_object()["/MediaBox"]))
    return x2 - x1, y2 - y1


def _fresh_field_name(writer: IncrementalPdfFileWriter, stem: str) -> str:
    existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev, filled_status=None)}
    index = 1
    while f"{stem}{index}" in existing:
        index += 1
    return f"{stem}{index}"


def _empty_field_exists(writer: IncrementalPdfFileWriter, name: str) -> bool:
    return any(
        field_name == name and value is None
        for field_name, value, _ in fields.enumerate_sig_fields(writer.prev, filled_status=None)
    )


def _fit_placeholder(writer: IncrementalPdfFileWriter, name: str, aspect: float) -> tuple[int, d30.Box]:
    """Shrink the empty field's widget to the image's aspect, centred, so the widget is the drawn image;
    returns its page and new box."""
    for field_name, value, ref in fields.enumerate_sig_fields(writer.prev, filled_status=None):
        if field_name != name:
            continue
        if value is not None:
            raise SigningError(f"Ô chữ ký {name!r} đã được ký", f"the signature field {name!r} is already signed")
        widget = ref.get_object()
        if "/Rect" not in widget and "/Kids" in widget:
            widget = widget["/Kids"][0].get_object()
        rect = tuple(float(v) for v in widget["/Rect"])
        fitted = d30.fit_to_aspect(rect, aspect)  # type: ignore[arg-type]
        widget["/Rect"] = generic.ArrayObject([generic.FloatObject(v) for v in fitted])
        writer.update_container(widget)
        page = page_index_of(writer.prev, widget)
        if page is None:
            raise FieldNotFound(f"Ô chữ ký {name!r} không nằm trên trang nào", f"the field {name!r} is on no page")
        return page, fitted
    raise FieldNotFound(f"Không có ô chữ ký {name!r} trong văn bản", f"the document has no signature field {name!r}")


def personal_signature_box(data: bytes, settings: Settings) -> tuple[int, d30.Box]:
    """Page and image box of the latest valid signature of a competent person (a personal certificate).

    Revocation is checked soft: a revoked certificate refuses, an unreachable OCSP responder does not block
    the records clerk (the final document is validated with the strict policy anyway)."""
    from signing.errors import NoSignatures
    from signing.validation import DocumentValidator

    try:
        report = DocumentValidator(settings, revocation="soft").validate(data)
    except NoSignatures:
        report = None
    for signature in reversed(report.signatures if report else ()):
        usable = signature.intact and signature.valid and signature.trusted and signature.revocation != "revoked"
        if usable and signature.signer.is_person and signature.box is not None and signature.page is not None:
            if signature.verdict.value != "TOTAL-FAILED" and signature.subindication != "CONTENT_CHANGED":
                return signature.page, signature.box
    raise SealNeedsPersonalSignature(
        "Chỉ đóng dấu cơ quan lên văn bản đã có chữ ký số hợp lệ của người có thẩm quyền",
        "the organisation's seal can only go on a document that already carries a valid signature of the "
        "competent person (Decree 30/2020, Appendix I)",
    )


def _explain(exc: Exception) -> SigningError:
    text = str(exc)
    if "forbids all changes" in text or "Certification signatures must be the first" in text:
        return SigningError("Văn bản đã khóa, không thể ký thêm", f"the document does not allow this signature: {text}")
    if "could not be validated" in text:
        return CredentialUnusable(
            "Không xác thực được chứng thư người ký lúc ký (chứng thư bị thu hồi, hoặc không lấy được OCSP/CRL)",
            f"the signer's certificate could not be validated for a long-term signature (revoked, or no OCSP/CRL "
            f"could be obtained): {text}",
        )
    if "not found" in text.lower() and "field" in text.lower():
        return FieldNotFound("Không có ô chữ ký cần ký", text)
    return SigningError(f"Không ký được văn bản: {text}", f"signing failed: {text}")


def write_atomically(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise



def record_signature(
    database: Database, actor: str, credential: Credential, signed: SignedDocument, source_sha256: str
) -> None:
    """Append the signature to the audit trail: who, with which certificate, which document, what came out."""
    with database.transaction() as session:
        audit.append(
            session,
            actor=actor,
            action="document.sign",
            target=f"certificate:{credential.serial}",
            details={
                "level": signed.level.value,
                "field": signed.field_name,
                "signing_time": signed.signing_time.isoformat(),
                "input_sha256": source_sha256,
                "output_sha256": hashlib.sha256(signed.data).hexdigest(),
            },
        )
