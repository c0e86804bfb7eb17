"""The certification authority: builds the hierarchy, issues certificates by profile, changes their status.

Policy (what may be issued, to whom, with which key) is checked before anything is created; the
certificate row and its audit record commit in one transaction; a key generated for a request that then
fails is deleted again, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ObjectIdentifier
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ca import names
from ca.errors import InvalidCSR, InvalidRequest, NotFound, NotInitialized, StatusConflict, WeakKey
from ca.keys import KeySpec, SignatureScheme, SigningKey, UnsupportedKey, backend_for, load_key
from ca.models import GOOD, REVOKED, SUSPENDED, CertificateRecord
from ca.profiles import Profile, check_key, get_profile
from ca.signature import sign_certificate
from egov import audit
from egov.db import Database, get_database
from egov.metrics import ISSUANCES, STATUS_CHANGES
from egov.settings import Settings, get_settings

# The platform's own certificates: role → (profile, issuing role, common name).
HIERARCHY: dict[str, tuple[str, str | None, str]] = {
    "root": ("root", None, "egov-trust Root CA"),
    "issuing-individuals": ("issuing-individuals", "root", "egov-trust Individuals CA"),
    "issuing-organizations": ("issuing-organizations", "root", "egov-trust Organizations CA"),
    "tsa": ("tsa", "issuing-organizations", "egov-trust Time-Stamping Authority"),
    "ocsp-individuals": ("ocsp", "issuing-individuals", "egov-trust OCSP Responder (Individuals CA)"),
    "ocsp-organizations": ("ocsp", "issuing-organizations", "egov-trust OCSP Responder (Organizations CA)"),
}
# Short names in published URLs (/ca/<slug>.crt, /crl/<slug>.crl).
CA_SLUGS = {"root": "root", "issuing-individuals": "individuals", "issuing-organizations": "organizations"}

REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
CLOCK_SKEW = timedelta(minutes=5)


def normalize_serial(text: str) -> str:
    """Serials as lowercase hex without separators; accepts `0A:1B…`, `0x0a1b…` and decimal-looking hex."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "")
    if not cleaned or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise InvalidRequest(f"Số hiệu {text!r} không hợp lệ", f"serial {text!r} is not hexadecimal")
    return cleaned.lstrip("0") or "0"


def serial_hex(serial: int) -> str:
    return format(serial, "x")


@dataclass(frozen=True)
class IssuanceRequest:
    """What to issue. Give either `csr` (PEM or DER PKCS#10) or `key_spec` for a key made in `backend`."""

    profile: str
    subject: names.PersonSubject | names.OrganizationSubject | x509.Name | None = None
    csr: bytes | None = None
    key_spec: str | None = None  # without a CSR: the settings' subscriber default
    backend: str | None = None
    validity_days: int | None = None
    owner: str | None = None
    role: str | None = None
    issuer_role: str | None = None
    key_label: str | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    record: CertificateRecord
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())

    @property
    def serial(self) -> str:
        return self.record.serial


class CertificateAuthority:
    """Everything the CA operator can do, over one database and the configured key backends."""

    def __init__(self, settings: Settings | None = None, database: Database | None = None) -> None:
        self.settings = settings or get_settings()
        self.database = database or get_database(self.settings)

    # -- hierarchy ---------------------------------------------------------------------------------------

    def init_hierarchy(self, actor: str, backend: str | None = None) -> list[CertificateRecord]:
        """Create what is missing of root, issuing CAs, TSA and OCSP responders; running it again changes
        nothing. Returns the records created now."""
        created = []
        for role, (profile, issuer_role, common_name) in HIERARCHY.items():
            if self.find_role(role) is not None:
                continue
            issued = self.issue(
                IssuanceRequest(
                    profile=profile,
                    subject=names.service_name(common_name, self.settings.ca_organization),
                    key_spec=self.settings.ca_key_algorithm if profile.startswith(("root", "issuing")) else None,
                    backend=backend,
                    role=role,
                    issuer_role=issuer_role,
                    key_label=f"{role}-{x509.random_serial_number():x}"[:48],
                ),
                actor=actor,
            )
            created.append(issued.record)
        return created

    def find_role(self, role: str) -> CertificateRecord | None:
        with self.database.transaction() as session:
            return session.execute(select(CertificateRecord).where(CertificateRecord.role == role)).scalar_one_or_none()

    def require_role(self, role: str) -> CertificateRecord:
        record = self.find_role(role)
        if record is None:
            raise NotInitialized(
                "CA chưa được khởi tạo: chạy `egov ca init`", f"the CA has no {role} certificate: run `egov ca init`"
            )
        return record

    def signing_key(self, record: CertificateRecord) -> SigningKey:
        if not record.key_uri:
            raise NotFound(f"Không có khóa cho {record.serial}", f"no key is held for certificate {record.serial}")
        return load_key(self.settings, record.key_uri)

    def chain(self, record: CertificateRecord) -> list[x509.Certificate]:
        """The certificate and its issuers up to the root, signer first."""
        chain = [record.certificate]
        with self.database.transaction() as session:
            current = session.get(CertificateRecord, record.id)
            while current is not None and current.issuer_id is not None:
                current = session.get(CertificateRecord, current.issuer_id)
                if current is not None:
                    chain.append(current.certificate)
        return chain

    # -- issuance ----------------------------------------------------------------------------------------

    def issue(self, request: IssuanceRequest, actor: str) -> IssuedCertificate:
        profile = get_profile(request.profile)
        subject = self._subject(profile, request)
        validity = self._validity(profile, request.validity_days)
        public_key, generated = self._public_key(profile, request)
        try:
            return self._issue(profile, request, subject, validity, public_key, generated, actor)
        except BaseException:
            if generated is not None:
                backend_for(self.settings, generated.uri.split(":", 1)[0]).delete(generated.uri)
            raise

    def _subject(self, profile: Profile, request: IssuanceRequest) -> x509.Name:
        subject = request.subject
        if subject is None and request.csr is not None:
            subject = subject_from_name(profile, _load_csr(request.csr).subject)
        if subject is None:
            raise InvalidRequest("Thiếu thông tin chủ thể", "the subject is required (options or the CSR's subject)")
        if isinstance(subject, x509.Name):
            if profile.subject_kind != "service":
                subject = subject_from_name(profile, subject)
            else:
                return subject
        expected = names.PersonSubject if profile.subject_kind == "person" else names.OrganizationSubject
        if not isinstance(subject, expected):
            raise InvalidRequest(
                f"Hồ sơ {profile.name} cần chủ thể kiểu {expected.__name__}",
                f"profile {profile.name} needs a {expected.__name__}",
            )
        return subject.to_name()

    def _validity(self, profile: Profile, days: int | None) -> timedelta:
        if days is None:
            return profile.default_validity
        validity = timedelta(days=days)
        if days < 1 or validity > profile.max_validity:
            raise InvalidRequest(
                f"Thời hạn {days} ngày vượt giới hạn của hồ sơ {profile.name} ({profile.max_validity.days} ngày)",
                f"validity of {days} days is outside 1..{profile.max_validity.days} for profile {profile.name}",
            )
        return validity

    def _public_key(self, profile: Profile, request: IssuanceRequest) -> tuple[PublicKeyTypes, SigningKey | None]:
        if request.csr is not None and request.key_spec is not None:
            raise InvalidRequest(
                "Cần đúng một trong: CSR hoặc yêu cầu sinh khóa", "give either a CSR or a key to generate, not both"
            )
        if request.csr is not None:
            public_key = _load_csr(request.csr).public_key()
            check_key(profile, public_key)
            return public_key, None
        try:
            spec = KeySpec.parse(request.key_spec or self.settings.subscriber_key_algorithm)
        except UnsupportedKey as exc:
            raise WeakKey(f"Thuật toán khóa {request.key_spec!r} không được phép", str(exc)) from exc
        if str(spec) not in profile.allowed_keys:
            raise InvalidRequest(f"Hồ sơ {profile.name} không cho phép {spec}", f"{profile.name} does not allow {spec}")
        label = request.key_label or f"{profile.name}-{x509.random_serial_number():x}"[:64]
        key = backend_for(self.settings, request.backend).generate(label, spec)
        return key.public_key(), key

    def _issue(
        self,
        profile: Profile,
        request: IssuanceRequest,
        subject: x509.Name,
        validity: timedelta,
        public_key: PublicKeyTypes,
        generated: SigningKey | None,
        actor: str,
    ) -> IssuedCertificate:
        now = datetime.now(UTC).replace(microsecond=0)
        issuer_role = request.issuer_role if request.issuer_role is not None else profile.issuer_role
        for _attempt in range(5):
            serial = x509.random_serial_number()  # 159 bits from the OS CSPRNG
            try:
                with self.database.transaction() as session:
                    issuer = None
                    if issuer_role:
                        issuer = session.execute(
                            select(CertificateRecord).where(CertificateRecord.role == issuer_role)
                        ).scalar_one_or_none()
                        if issuer is None:
                            raise NotInitialized(
                                "CA chưa được khởi tạo: chạy `egov ca init`",
                                f"issuer {issuer_role} does not exist: run `egov ca init`",
                            )
                        if issuer.status != GOOD or issuer.not_after <= now:
                            raise StatusConflict(
                                "CA cấp phát không còn hiệu lực", f"issuer {issuer_role} is {issuer.status} or expired"
                            )
                    not_after = now + validity
                    if issuer is not None:
                        not_after = min(not_after, issuer.not_after)
                    builder = self._builder(profile, subject, public_key, serial, now, not_after, issuer)
                    signer = self.signing_key(issuer) if issuer is not None else generated
                    if signer is None:
                        raise InvalidRequest("Gốc tự ký cần khóa được sinh", "a self-signed root needs a generated key")
                    certificate = sign_certificate(builder, signer, SignatureScheme.default_for(signer.public_key()))
                    record = CertificateRecord(
                        serial=serial_hex(serial),
                        issuer_id=issuer.id if issuer else None,
                        profile=profile.name,
                        role=request.role,
                        subject=names.describe(subject),
                        common_name=names.common_name(subject),
                        identifier=names.identifier(subject),
                        owner=request.owner,
                        not_before=certificate.not_valid_before_utc,
                        not_after=certificate.not_valid_after_utc,
                        der=certificate.public_bytes(Encoding.DER),
                        sha256=hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
                        key_uri=generated.uri if generated else None,
                        status=GOOD,
                        created_at=datetime.now(UTC),
                    )
                    session.add(record)
                    session.flush()
                    audit.append(
                        session,
                        actor=actor,
                        action="certificate.issue",
                        target=f"certificate:{record.serial}",
                        details={
                            "profile": profile.name,
                            "subject": record.subject,
                            "issuer": issuer.serial if issuer else None,
                            "not_after": record.not_after.isoformat(),
                            "key": record.key_uri,
                            "role": record.role,
                            "owner": record.owner,
                        },
                    )
                ISSUANCES.labels(profile.name).inc()
                return IssuedCertificate(record, certificate, tuple(self.chain(record)[1:]))
            except IntegrityError as exc:
                if request.role and self.find_role(request.role) is not None:
                    raise StatusConflict("Vai trò đã có chứng thư", f"role {request.role} already exists") from exc
                continue  # a serial collision (2^-159): draw again
        raise InvalidRequest("Không cấp được số hiệu duy nhất", "could not allocate a unique serial")

    def _builder(
        self,
        profile: Profile,
        subject: x509.Name,
        public_key: PublicKeyTypes,
        serial: int,
        now: datetime,
        not_after: datetime,
        issuer: CertificateRecord | None,
    ) -> x509.CertificateBuilder:
        issuer_cert = issuer.certificate if issuer else None
        issuer_public = issuer_cert.public_key() if issuer_cert else public_key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_cert.subject if issuer_cert else subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(now - CLOCK_SKEW if issuer else now)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=profile.is_ca, path_length=profile.path_length), critical=True)
            .add_extension(profile.key_usage.extension(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
        )
        if profile.extended_key_usage:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=profile.eku_critical
            )
        if profile.ocsp_no_check:
            builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        if issuer is not None:
            base = self.settings.public_base_url
            slug = CA_SLUGS[issuer.role or ""]
            access = [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(f"{base}/ca/{slug}.crt")
                )
            ]
            if profile.ocsp_url:
                access.insert(
                    0,
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base}/ocsp")
                    ),
                )
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
            if profile.crl_distribution_point:
                point = x509.DistributionPoint(
                    [x509.UniformResourceIdentifier(f"{base}/crl/{slug}.crl")], None, None, None
                )
                builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
            builder = builder.add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(self.settings.policy_oid), None)]),
                critical=False,
            )
        return builder

    # -- status ------------------------------------------------------------------------------------------

    def get(self, serial: str) -> CertificateRecord:
        with self.database.transaction() as session:
            return self._locked(session, serial, lock=False)

    def _locked(self, session: Session, serial: str, lock: bool = True) -> CertificateRecord:
        query = select(CertificateRecord).where(CertificateRecord.serial == normalize_serial(serial))
        record = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if record is None:
            raise NotFound(f"Không có chứng thư số hiệu {serial}", f"no certificate with serial {serial}")
        return record

    def revoke(
        self,
        serial: str,
        reason: str,
        actor: str,
        revoked_at: datetime | None = None,
        invalidity_date: datetime | None = None,
    ) -> CertificateRecord:
        if reason not in REVOCATION_REASONS:
            raise InvalidRequest(
                f"Lý do thu hồi {reason!r} không hợp lệ; dùng: {', '.join(REVOCATION_REASONS)}",
                f"revocation reason {reason!r} is not one of {', '.join(REVOCATION_REASONS)} "
                "(use suspend for certificateHold)",
            )
        now = datetime.now(UTC)
        for moment in (revoked_at, invalidity_date):
            if moment is not None and (moment.tzinfo is None or moment > now + CLOCK_SKEW):
                raise InvalidRequest("Thời điểm không hợp lệ", "times must be timezone-aware and not in the future")
        return self._change(
            serial, actor, "certificate.revoke", allowed_from=(GOOD, SUSPENDED), new_status=REVOKED,
            reason=reason, at=revoked_at or now, invalidity_date=invalidity_date,
        )

    def suspend(self, serial: str, actor: str) -> CertificateRecord:
        return self._change(
            serial, actor, "certificate.suspend", allowed_from=(GOOD,), new_status=SUSPENDED,
            reason="certificateHold", at=datetime.now(UTC),
        )

    def release(self, serial: str, actor: str) -> CertificateRecord:
        return self._change(serial, actor, "certificate.release", allowed_from=(SUSPENDED,), new_status=GOOD)

    def _change(
        self,
        serial: str,
        actor: str,
        action: str,
        *,
        allowed_from: Sequence[str],
        new_status: str,
        reason: str | None = None,
        at: datetime | None = None,
        invalidity_date: datetime | None = None,
    ) -> CertificateRecord:
        with self.database.transaction() as session:
            record = self._locked(session, serial)
            if record.status not in allowed_from:
                raise StatusConflict(
                    f"Chứng thư {record.serial} đang ở trạng thái {record.status}, không thể {action.split('.')[1]}",
                    f"certificate {record.serial} is {record.status}; cannot {action.split('.')[1]} it",
                )
            previous = record.status
            record.status = new_status
            record.status_changed_at = at
            record.revocation_reason = reason
            record.invalidity_date = invalidity_date
            audit.append(
                session,
                actor=actor,
                action=action,
                target=f"certificate:{record.serial}",
                details={
                    "from": previous,
                    "to": new_status,
                    "reason": reason,
                    "at": at.isoformat() if at else None,
                    "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
                },
            )
        STATUS_CHANGES.labels(action).inc()
        return record

    def list(self, status: str | None = None, profile: str | None = None, limit: int = 1000) -> list[CertificateRecord]:
        query = select(CertificateRecord).order_by(CertificateRecord.id).limit(limit)
        if status:
            query = query.where(CertificateRecord.status == status)
        if profile:
            query = query.where(CertificateRecord.profile == get_profile(profile).name)
        with self.database.transaction() as session:
            return list(session.execute(query).scalars())

    def export(self, directory: Path) -> list[Path]:
        """Write every platform certificate as PEM, plus a chain file per issuing CA."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for role in HIERARCHY:
            record = self.require_role(role)
            path = directory / f"{role}.pem"
            path.write_bytes(record.certificate.public_bytes(Encoding.PEM))
            written.append(path)
            if role.startswith("issuing-"):
                chain = directory / f"chain-{CA_SLUGS[role]}.pem"
                chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in self.chain(record)))
                written.append(chain)
        return written


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = (
            x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----BEGIN") else x509.load_der_x509_csr(data)
        )
        signature_ok = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidCSR("CSR không đọc được (PKCS#10 hỏng)", f"the CSR is not valid PKCS#10: {exc}") from exc
    if not signature_ok:
        raise InvalidCSR(
            "Chữ ký của CSR không hợp lệ (không chứng minh được quyền sở hữu khóa)",
            "the CSR's signature does not verify (no proof of possession of the key)",
        )
    return csr


def subject_from_name(profile: Profile, name: x509.Name) -> names.PersonSubject | names.OrganizationSubject:
    """Read a person's or organisation's subject from a name (e.g. a CSR's), validating it like typed input."""
    from cryptography.x509.oid import NameOID

    def first(oid: ObjectIdentifier) -> str | None:
        values = name.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    uid = first(NameOID.USER_ID) or ""
    kind, _, number = uid.partition(":")
    if profile.subject_kind == "person":
        if kind != "CCCD":
            raise names.InvalidSubject("Thiếu UID=CCCD:<12 chữ số>", "the subject needs UID=CCCD:<12 digits>")
        return names.PersonSubject(
            full_name=first(NameOID.COMMON_NAME) or "",
            cccd=number,
            organization=first(NameOID.ORGANIZATION_NAME),
            province=first(NameOID.STATE_OR_PROVINCE_NAME),
            title=first(NameOID.TITLE),
        )
    if kind not in ("MST", "MNS"):
        raise names.InvalidSubject("Thiếu UID=MST:… hoặc UID=MNS:…", "the subject needs UID=MST:… or UID=MNS:…")
    return names.OrganizationSubject(
        name=first(NameOID.COMMON_NAME) or first(NameOID.ORGANIZATION_NAME) or "",
        tax_code=number if kind == "MST" else None,
        budget_code=number if kind == "MNS" else None,
        province=first(NameOID.STATE_OR_PROVINCE_NAME),
    )
