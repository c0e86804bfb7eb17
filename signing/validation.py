"""Validation of signed PDFs: one report per signature and an overall verdict in ETSI EN 319 102-1 terms.

pyHanko's AdES procedures do the heavy lifting (ETSI EN 319 102-1 basic validation for B-B, long-term
validation with past proof of existence for B-T and above, so a certificate revoked after a B-LT signature's
timestamp still passes). On top we read what the issue asks for in plain terms: who signed (name, CCCD/MST),
where, the PAdES level reached, what the signature covers and whether a later revision changed content.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import ades, generic_cms
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.poe import KnownPOE, POEType, ValidationObject, ValidationObjectType, digest_for_poe
from pyhanko_certvalidator.policy_decl import (
    NO_REVOCATION,
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from egov.settings import Settings
from signing.appearance import vietnam_iso
from signing.documents import open_document, page_index_of
from signing.errors import NoSignatures
from signing.signer import CLOCK_TOLERANCE

log = logging.getLogger(__name__)

REVOCATION_POLICIES: dict[str, RevocationCheckingPolicy] = {
    "require": REQUIRE_REVINFO,  # evidence of non-revocation for every certificate that declares where to find it
    "soft": RevocationCheckingPolicy(
        RevocationCheckingRule.CHECK_IF_DECLARED_SOFT, RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
    ),
    "off": NO_REVOCATION,
}


# Current-time indications that a proof of existence before the event can turn into a pass (§5.6.2.4).
_NEEDS_PAST = frozenset({
    AdESIndeterminate.REVOKED_NO_POE,
    AdESIndeterminate.REVOKED_CA_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    AdESIndeterminate.TRY_LATER,
})


class Verdict(enum.Enum):
    """ETSI EN 319 102-1 main indications."""

    TOTAL_PASSED = "TOTAL-PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL-FAILED"

    @property
    def vietnamese(self) -> str:
        return {"TOTAL-PASSED": "HỢP LỆ", "INDETERMINATE": "KHÔNG XÁC ĐỊNH", "TOTAL-FAILED": "KHÔNG HỢP LỆ"}[self.value]

    @property
    def rank(self) -> int:
        return {"TOTAL-PASSED": 0, "INDETERMINATE": 1, "TOTAL-FAILED": 2}[self.value]


# Sub-indications explained, Vietnamese and English.
REASONS: dict[str, tuple[str, str]] = {
    "OK": ("Chữ ký hợp lệ", "the signature is valid"),
    "HASH_FAILURE": ("Nội dung đã bị thay đổi sau khi ký (sai giá trị băm)",
                     "the signed content was altered (digest mismatch)"),
    "SIG_CRYPTO_FAILURE": ("Chữ ký số không khớp với khóa công khai của người ký",
                           "the signature value does not verify with the signer's public key"),
    "FORMAT_FAILURE": ("Chữ ký sai định dạng", "the signature is malformed"),
    "REVOKED": ("Chứng thư số đã bị thu hồi trước thời điểm ký", "the certificate was revoked before the signing time"),
    "REVOKED_NO_POE": ("Chứng thư số đã bị thu hồi và không có bằng chứng chữ ký có trước thời điểm thu hồi",
                       "the certificate is revoked and nothing proves the signature existed before that"),
    "REVOKED_CA_NO_POE": ("Chứng thư của CA đã bị thu hồi", "a CA certificate in the chain is revoked"),
    "NO_CERTIFICATE_CHAIN_FOUND": ("Không xây dựng được chuỗi chứng thư tới CA gốc tin cậy",
                                   "no certificate chain to a trusted root"),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": ("Chuỗi chứng thư không hợp lệ", "the certificate chain is not valid"),
    "CHAIN_CONSTRAINTS_FAILURE": ("Chuỗi chứng thư vi phạm ràng buộc", "the certificate chain violates constraints"),
    "TRY_LATER": ("Chưa lấy được thông tin trạng thái chứng thư (OCSP/CRL); thử lại sau",
                  "no revocation information (OCSP/CRL) could be obtained yet; try later"),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": ("Thông tin thu hồi không bao trùm thời điểm ký",
                                        "the revocation information does not cover the signing time"),
    "OUT_OF_BOUNDS_NO_POE": ("Chứng thư hết hạn và không có dấu thời gian chứng minh chữ ký có trước",
                             "the certificate expired and no timestamp proves the signature existed before"),
    "OUT_OF_BOUNDS_NOT_REVOKED": ("Chứng thư đã hết hạn", "the certificate has expired"),
    "EXPIRED": ("Chứng thư đã hết hạn", "the certificate has expired"),
    "NOT_YET_VALID": ("Chứng thư chưa có hiệu lực tại thời điểm ký", "the certificate was not yet valid"),
    "SIG_CONSTRAINTS_FAILURE": ("Chữ ký không đáp ứng ràng buộc", "the signature does not meet the constraints"),
    "CRYPTO_CONSTRAINTS_FAILURE": ("Thuật toán không còn an toàn", "an algorithm is no longer acceptable"),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": ("Thuật toán không còn an toàn", "an algorithm is no longer acceptable"),
    "NO_POE": ("Không có bằng chứng thời điểm tồn tại", "no proof of existence"),
    "TIMESTAMP_ORDER_FAILURE": ("Thứ tự dấu thời gian không hợp lệ", "the timestamps are out of order"),
    "CONTENT_CHANGED": ("Văn bản đã bị sửa nội dung sau khi ký (ở phiên bản cập nhật sau)",
                        "the document's content was changed by a later incremental update"),
    "DOCMDP_VIOLATED": ("Văn bản bị thay đổi trái với quyền mà chữ ký chứng nhận cho phép",
                        "the document was changed beyond what its certification signature permits"),
    "NOT_COVERED": ("Chữ ký không bao trùm toàn bộ phiên bản đã ký", "the signature does not cover its whole revision"),
}


@dataclass(frozen=True)
class SignerIdentity:
    name: str
    identifier: str | None  # "CCCD:…", "MST:…" or "MNS:…"
    organization: str | None
    title: str | None
    subject: str
    issuer: str
    serial: str

    @property
    def is_person(self) -> bool:
        return bool(self.identifier and self.identifier.startswith("CCCD:"))

    @classmethod
    def of(cls, certificate: asn1_x509.Certificate) -> SignerIdentity:
        parsed = x509.load_der_x509_certificate(certificate.dump())

        def first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
            values = name.get_attributes_for_oid(oid)
            return str(values[0].value) if values else None

        subject = parsed.subject
        return cls(
            name=first(subject, NameOID.COMMON_NAME) or subject.rfc4514_string(),
            identifier=first(subject, NameOID.USER_ID),
            organization=first(subject, NameOID.ORGANIZATION_NAME),
            title=first(subject, NameOID.TITLE),
            subject=subject.rfc4514_string(),
            issuer=first(parsed.issuer, NameOID.COMMON_NAME) or parsed.issuer.rfc4514_string(),
            serial=format(parsed.serial_number, "x"),
        )


@dataclass(frozen=True)
class SignatureReport:
    """Everything one signature tells, and the verdict on it."""

    field_name: str
    signer: SignerIdentity
    verdict: Verdict
    subindication: str
    reason_vi: str
    reason_en: str
    level: str  # PAdES level reached: B-B, B-T, B-LT, B-LTA
    claimed_signing_time: datetime | None
    timestamp_time: datetime | None
    timestamp_valid: bool | None  # None when there is no signature timestamp
    intact: bool
    valid: bool
    trusted: bool
    revocation: str  # good | revoked | unknown | not-checked
    revoked_at: datetime | None
    coverage: str  # entire-file | entire-revision | partial
    modification: str  # none | ltv-updates | form-filling | annotations | other
    signed_revision: int
    revisions: int
    certification: bool
    page: int | None
    box: tuple[float, float, float, float] | None

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["signer"]["is_person"] = self.signer.is_person
        for key in ("claimed_signing_time", "timestamp_time", "revoked_at"):
            data[key] = vietnam_iso(data[key]) if data[key] else None
        data["box"] = list(self.box) if self.box else None
        return data


@dataclass(frozen=True)
class ValidationReport:
    """The report on one document: each signature, and the worst verdict among them as the document's."""

    sha256: str
    signatures: tuple[SignatureReport, ...]
    revisions: int
    name: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        return max((s.verdict for s in self.signatures), key=lambda v: v.rank, default=Verdict.INDETERMINATE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document": self.name,
            "sha256": self.sha256,
            "verdict": self.verdict.value,
            "revisions": self.revisions,
            "signatures": [s.to_dict() for s in self.signatures],
        }


class DocumentValidator:
    """Validates every signature of a PDF against a fixed set of trust anchors and a revocation policy."""

    def __init__(
        self,
        settings: Settings,
        trust_anchors: Iterable[x509.Certificate] | None = None,
        revocation: str = "require",
        allow_fetching: bool = True,
    ) -> None:
        if trust_anchors is None:
            from signing.trust import trust_anchors as configured

            trust_anchors = configured(settings)
        self.settings = settings
        self._revocation = revocation
        self.anchors = tuple(trust_anchors)
        roots = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in self.anchors]
        self._anchor_roots = roots
        fetching = RevinfoOnlineFetchingRule.ALWAYS_FETCH if allow_fetching else RevinfoOnlineFetchingRule.LOCAL_ONLY
        self.spec = PdfSignatureValidationSpec(
            SignatureValidationSpec(
                cert_validation_policy=CertValidationPolicySpec(
                    trust_manager=SimpleTrustManager.build(trust_roots=roots),
                    revinfo_policy=CertRevTrustPolicy(REVOCATION_POLICIES[revocation]),
                    time_tolerance=CLOCK_TOLERANCE,
                ),
                revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=fetching),
            )
        )

    def validate(self, data: bytes, name: str | None = None) -> ValidationReport:
        reader = open_document(data, self.settings.max_pdf_pages)
        signatures = reader.embedded_regular_signatures
        if not signatures:
            raise NoSignatures("Văn bản không có chữ ký số nào", "the document carries no signatures")
        reports = asyncio.run(self._validate_all(reader, signatures))
        return ValidationReport(
            sha256=hashlib.sha256(data).hexdigest(),
            signatures=tuple(reports),
            revisions=reader.xrefs.total_revisions,
            name=name,
        )

    async def _validate_all(
        self, reader: PdfFileReader, signatures: list[EmbeddedPdfSignature]
    ) -> list[SignatureReport]:
        return [await self._validate_one(reader, signature) for signature in signatures]

    async def _validate_one(self, reader: PdfFileReader, sig: EmbeddedPdfSignature) -> SignatureReport:
        signer = SignerIdentity.of(sig.signer_cert)
        try:
            sig.compute_integrity_info(self.spec.diff_policy)
        except SignatureValidationError as exc:
            return self._failed_format(reader, sig, signer, str(exc))
        has_timestamp = next(generic_cms.extract_tst_data_iter(sig.signer_info, signed=False), None) is not None
        timestamp_time = None
        timestamp_valid = None
        if has_timestamp:
            result: Any = await self._validate_with_time(reader, sig)
            ts = getattr(result, "signature_timestamp_status", None)
            if ts is not None:
                timestamp_valid = ts.ades_subindic.status is AdESStatus.PASSED
                timestamp_time = getattr(ts.api_status, "timestamp", None)
            elif result.api_status is not None and result.api_status.timestamp_validity is not None:
                timestamp_time = result.api_status.timestamp_validity.timestamp
                timestamp_valid = result.api_status.timestamp_validity.valid
        else:
            result = await ades.ades_basic_validation(
                sig.signed_data, self.spec.signature_validation_spec, raw_digest=sig.compute_digest()
            )
        status = result.api_status
        integrity = sig.summarise_integrity_info()
        intact = bool(status and status.intact)
        valid = bool(status and status.valid)
        trusted = bool(status and status.trusted)
        subindic = result.ades_subindic
        revocation, revoked_at = _revocation(status, subindic, self.spec)
        modification = _modification(integrity["diff_result"])
        coverage = _coverage(integrity["coverage"])
        certification = sig.docmdp_level is not None and sig.sig_object.get("/Reference") is not None
        signed_no_later_than = timestamp_time if timestamp_valid else sig.self_reported_timestamp
        # Revocation times have whole seconds: within the same second we cannot say which came first.
        revoked_before_signing = revoked_at is not None and signed_no_later_than is not None \
            and revoked_at < signed_no_later_than.replace(microsecond=0)
        verdict, code = _judge(intact, valid, revoked_before_signing, subindic, integrity["docmdp_ok"], modification,
                               coverage, sig)
        if code == "CERTIFICATE_CHAIN_GENERAL_FAILURE" and await self._chain_holds_without_revocation(sig):
            code, revocation = "TRY_LATER", "unknown"  # the chain is fine; the OCSP/CRL evidence is what is missing
        reason_vi, reason_en = REASONS.get(code, (code, code))
        if result.failure_msg and verdict is not Verdict.TOTAL_PASSED and code == subindic.name:
            log.debug("signature %s: %s", sig.field_name, result.failure_msg)
        page, box = _widget_position(reader, sig)
        return SignatureReport(
            field_name=sig.field_name,
            signer=signer,
            verdict=verdict,
            subindication=code,
            reason_vi=reason_vi,
            reason_en=reason_en,
            level=_level(reader, sig, has_timestamp),
            claimed_signing_time=sig.self_reported_timestamp,
            timestamp_time=timestamp_time,
            timestamp_valid=timestamp_valid,
            intact=intact,
            valid=valid,
            trusted=trusted,
            revocation=revocation,
            revoked_at=revoked_at,
            coverage=coverage,
            modification=modification,
            signed_revision=sig.signed_revision,
            revisions=reader.xrefs.total_revisions,
            certification=certification,
            page=page,
            box=box,
        )

    async def _validate_with_time(self, reader: PdfFileReader, sig: EmbeddedPdfSignature) -> Any:
        """ETSI EN 319 102-1 validation with time (§5.5) using the embedded DSS; when that is not conclusive
        for a reason a proof of existence can cure (revoked or expired since, stale OCSP/CRL), the long-term
        procedure (§5.6.3) with past-signature validation."""
        spec = self._with_certificates_known_now(sig)
        # pyHanko keeps its DSS reader private; 0.38 is pinned in pyproject.toml.
        dss = ades._dss_to_local_knowledge(reader=reader)
        with_dss = _knowing(spec, known_ocsps=dss.known_ocsps, known_crls=dss.known_crls, known_certs=dss.known_certs)
        with_time = await ades.ades_with_time_validation(
            sig.signed_data, with_dss.signature_validation_spec, raw_digest=sig.compute_digest(),
        )
        if with_time.ades_subindic.status is AdESStatus.PASSED or with_time.ades_subindic not in _NEEDS_PAST:
            return with_time
        # Validation data we put in the DSS of the signed revision is covered by the signature, and the
        # signature timestamp proves the signature existed at best-signature-time: so did that data.
        signed_dss = ades._dss_to_local_knowledge(reader=reader.get_historical_resolver(sig.signed_revision))
        proofs = list(signed_dss.assert_existence_known_at(with_time.best_signature_time))
        return await ades.ades_lta_validation(sig, _knowing(spec, known_poes=proofs))

    def _with_certificates_known_now(self, sig: EmbeddedPdfSignature) -> PdfSignatureValidationSpec:
        """The spec, plus proof that the certificates in the signature and our anchors exist now.

        pyHanko's long-term procedure runs past-signature validation even when validation at the current time
        passed, and that step wants a proof of existence for every CA certificate at the control time (now).
        We hold those certificates now, which is exactly such a proof; without it a fresh B-T reads NO_POE.
        """
        now = datetime.now(UTC)
        certificates = [c.chosen for c in sig.signed_data["certificates"] if c.name == "certificate"]
        poes = [
            KnownPOE(POEType.PROVIDED, digest_for_poe(c.dump()), now,
                     ValidationObject(ValidationObjectType.CERTIFICATE, c))
            for c in [*certificates, *self._anchor_roots]
        ]
        return _knowing(self.spec, known_poes=poes)

    async def _chain_holds_without_revocation(self, sig: EmbeddedPdfSignature) -> bool:
        """pyHanko reports missing revocation data as a general chain failure; tell the two apart."""
        if self._revocation == "off":
            return False
        lenient = dataclasses.replace(
            self.spec.signature_validation_spec,
            cert_validation_policy=dataclasses.replace(
                self.spec.signature_validation_spec.cert_validation_policy,
                revinfo_policy=CertRevTrustPolicy(NO_REVOCATION),
            ),
        )
        result = await ades.ades_basic_validation(sig.signed_data, lenient, raw_digest=sig.compute_digest())
        return result.ades_subindic.status is AdESStatus.PASSED

    def _failed_format(
        self, reader: PdfFileReader, sig: EmbeddedPdfSignature, signer: SignerIdentity, detail: str
    ) -> SignatureReport:
        vi, en = REASONS["FORMAT_FAILURE"]
        page, box = _widget_position(reader, sig)
        return SignatureReport(
            field_name=sig.field_name, signer=signer, verdict=Verdict.TOTAL_FAILED, subindication="FORMAT_FAILURE",
            reason_vi=vi, reason_en=f"{en}: {detail}", level="B-B", claimed_signing_time=None, timestamp_time=None,
            timestamp_valid=None, intact=False, valid=False, trusted=False, revocation="not-checked",
            revoked_at=None, coverage="partial", modification="other", signed_revision=sig.signed_revision,
            revisions=reader.xrefs.total_revisions, certification=False, page=page, box=box,
        )


def _knowing(spec: PdfSignatureValidationSpec, **more: Iterable[Any]) -> PdfSignatureValidationSpec:
    """`spec` whose local knowledge also holds `more` (known_certs, known_ocsps, known_crls, known_poes)."""
    base = spec.signature_validation_spec
    knowledge = dataclasses.replace(
        base.local_knowledge, **{name: [*getattr(base.local_knowledge, name), *items] for name, items in more.items()})
    return dataclasses.replace(spec, signature_validation_spec=dataclasses.replace(base, local_knowledge=knowledge))


def _judge(
    intact: bool,
    valid: bool,
    revoked_before_signing: bool,
    subindic: Any,
    docmdp_ok: bool | None,
    modification: str,
    coverage: str,
    sig: EmbeddedPdfSignature,
) -> tuple[Verdict, str]:
    if not intact:
        return Verdict.TOTAL_FAILED, "HASH_FAILURE"
    if not valid:
        return Verdict.TOTAL_FAILED, "SIG_CRYPTO_FAILURE"
    if revoked_before_signing:
        # EN 319 102-1 §5.3.4: revoked before the (claimed or proven) signing time is a failure, not a doubt.
        return Verdict.TOTAL_FAILED, "REVOKED"
    if subindic.status is AdESStatus.FAILED:
        return Verdict.TOTAL_FAILED, subindic.name
    if coverage == "partial":
        return Verdict.TOTAL_FAILED, "NOT_COVERED"
    if docmdp_ok is False:
        # A certification signature that forbade the change fails; otherwise the signature itself is sound but
        # what is shown is not what was signed.
        return (Verdict.TOTAL_FAILED, "DOCMDP_VIOLATED") if sig.docmdp_level is not None and modification != "other" \
            else (Verdict.INDETERMINATE, "CONTENT_CHANGED")
    if modification == "other":
        return Verdict.INDETERMINATE, "CONTENT_CHANGED"
    if subindic.status is AdESStatus.INDETERMINATE:
        return Verdict.INDETERMINATE, subindic.name
    return Verdict.TOTAL_PASSED, "OK"


def _revocation(status: PdfSignatureStatus | None, subindic: Any, spec: PdfSignatureValidationSpec
                ) -> tuple[str, datetime | None]:
    details = getattr(status, "revocation_details", None) if status is not None else None
    if details is not None:
        return "revoked", details.revocation_date
    if subindic in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE, AdESFailure.REVOKED):
        return "revoked", None
    if subindic in (AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE):
        return "unknown", None
    policy = spec.signature_validation_spec.cert_validation_policy.revinfo_policy.revocation_checking_policy
    if policy is NO_REVOCATION:
        return "not-checked", None
    return ("good", None) if status is not None and status.trusted else ("unknown", None)


def _modification(diff_result: object) -> str:
    # A SuspiciousModification (an exception object) in place of a DiffResult means "other".
    level = diff_result.modification_level if isinstance(diff_result, DiffResult) else None
    return {
        None: "other",
        ModificationLevel.NONE: "none",
        ModificationLevel.LTA_UPDATES: "ltv-updates",
        ModificationLevel.FORM_FILLING: "form-filling",
        ModificationLevel.ANNOTATIONS: "annotations",
        ModificationLevel.OTHER: "other",
    }[level]


def _coverage(coverage: SignatureCoverageLevel | None) -> str:
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return "entire-file"
    if coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        return "entire-revision"
    return "partial"


def _level(reader: PdfFileReader, sig: EmbeddedPdfSignature, has_timestamp: bool) -> str:
    if not has_timestamp:
        return "B-B"
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        has_revinfo = bool(dss.ocsps or dss.crls)
    except NoDSSFoundError:
        has_revinfo = False
    if not has_revinfo:
        return "B-T"
    later_document_timestamps = [
        ts for ts in reader.embedded_timestamp_signatures if ts.signed_revision > sig.signed_revision
    ]
    return "B-LTA" if later_document_timestamps else "B-LT"


def _widget_position(
    reader: PdfFileReader, sig: EmbeddedPdfSignature
) -> tuple[int | None, tuple[float, float, float, float] | None]:
    """Page index and rectangle of the signature's widget (None for an invisible one without a page)."""
    widget = sig.sig_field
    if "/Rect" not in widget and "/Kids" in widget:
        widget = widget["/Kids"][0].get_object()
    try:
        rect = tuple(float(v) for v in widget["/Rect"])
    except KeyError:
        return None, None
    page_index = page_index_of(reader, widget)
    if rect[2] - rect[0] <= 0 or rect[3] - rect[1] <= 0:
        return page_index, None
    return page_index, rect  # type: ignore[return-value]


def validate_pdf(data: bytes, settings: Settings, **options: Any) -> ValidationReport:
    """Validate the signatures of a PDF with the configured trust anchors (see `DocumentValidator`)."""
    return DocumentValidator(settings, **options).validate(data)
