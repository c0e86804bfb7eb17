"""Enrolment: a key in the chosen backend, a certificate from our CA in the user's name, and the CSC credential
that binds it to the identity-provider user (`sub`); an organisation's seal can be bound to several clerks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.errors import InvalidRequest
from ca.models import CertificateRecord
from ca.names import OrganizationSubject, PersonSubject
from ca.profiles import SUBSCRIBER_PROFILES, get_profile
from egov import audit
from signing.remote.directory import DirectoryUser
from signing.remote.models import RemoteCredential

# Who may hold which credential: officials sign in person, records clerks apply their agency's seal.
HOLDER_ROLES = {"official": "official", "organization": "clerk"}


@dataclass(frozen=True)
class Enrolment:
    credential_id: str
    serial: str
    owner: str
    username: str
    profile: str
    subject: str


@dataclass(frozen=True)
class EnrolmentRequest:
    profile: str  # official | organisation
    backend: str | None = None
    key_algorithm: str | None = None
    title: str | None = None
    organization: str | None = None  # O= of a person; the agency's name for a seal
    province: str | None = None
    tax_code: str | None = None  # MST of the agency
    budget_code: str | None = None  # MNS of the agency
    certificate: str | None = None  # bind an existing seal certificate (serial) instead of issuing one


def _subject(user: DirectoryUser, request: EnrolmentRequest, profile: str) -> PersonSubject | OrganizationSubject:
    if profile == "official":
        if not user.id_number:
            raise InvalidRequest(
                f"Người dùng {user.username} chưa có số định danh (so_dinh_danh)",
                f"user {user.username} has no personal identification number (so_dinh_danh) in the directory",
            )
        return PersonSubject(full_name=user.full_name, cccd=user.id_number, organization=request.organization,
                             province=request.province, title=request.title)
    if not request.organization or not (request.tax_code or request.budget_code):
        raise InvalidRequest(
            "Con dấu của cơ quan cần tên cơ quan và mã số thuế (MST) hoặc mã quan hệ ngân sách (MNS)",
            "an organisation seal needs the agency's name and its MST or MNS (--org-name, --mst|--mns)",
        )
    return OrganizationSubject(name=request.organization, tax_code=request.tax_code,
                               budget_code=request.budget_code, province=request.province)


def enroll(authority: CertificateAuthority, user: DirectoryUser, request: EnrolmentRequest, actor: str) -> Enrolment:
    """Issue (or, for a seal, reuse) a certificate and bind a new credential to `user`."""
    profile = get_profile(request.profile).name
    if profile not in SUBSCRIBER_PROFILES:
        raise InvalidRequest(f"Hồ sơ {profile} không dùng để ký", f"profile {profile} is not for signing")
    if not user.enabled:
        raise InvalidRequest(f"Tài khoản {user.username} đang bị khóa", f"account {user.username} is disabled")
    role = HOLDER_ROLES[profile]
    if role not in user.roles:
        raise InvalidRequest(f"Người dùng {user.username} không có vai trò {role}",
                             f"user {user.username} lacks realm role {role!r} needed to hold a {profile} credential")
    if request.certificate:
        record = authority.get(request.certificate)
        if record.profile != "organization" or not record.key_uri:
            raise InvalidRequest("Chỉ gắn lại được chứng thư con dấu có khóa trong hệ thống",
                                 "only an organisation seal certificate whose key we hold can be bound again")
    else:
        issued = authority.issue(
            IssuanceRequest(profile=profile, subject=_subject(user, request, profile), key_spec=request.key_algorithm,
                            backend=request.backend, owner=user.subject),
            actor=actor,
        )
        record = issued.record
    credential_id = f"{user.username}-{secrets.token_hex(6)}"
    with authority.database.transaction() as session:
        existing = session.execute(select(RemoteCredential).where(
            RemoteCredential.certificate_id == record.id, RemoteCredential.owner == user.subject)).scalar_one_or_none()
        if existing is not None:
            raise InvalidRequest("Người dùng đã được gắn với chứng thư này",
                                 f"{user.username} already holds credential {existing.id} for this certificate")
        session.add(RemoteCredential(id=credential_id, certificate_id=record.id, owner=user.subject,
                                     owner_username=user.username, created_at=datetime.now(UTC)))
        audit.append(session, actor=actor, action="credential.enroll", target=f"credential:{credential_id}",
                     details={"certificate": record.serial, "owner": user.subject, "username": user.username,
                              "profile": profile, "key": record.key_uri})
    return Enrolment(credential_id, record.serial, user.subject, user.username, profile, record.subject)


def credentials_of(authority: CertificateAuthority, owner: str) -> list[tuple[RemoteCredential, CertificateRecord]]:
    with authority.database.transaction() as session:
        rows = session.execute(
            select(RemoteCredential, CertificateRecord)
            .join(CertificateRecord, CertificateRecord.id == RemoteCredential.certificate_id)
            .where(RemoteCredential.owner == owner).order_by(RemoteCredential.created_at)
        ).all()
        return [(credential, record) for credential, record in rows]
