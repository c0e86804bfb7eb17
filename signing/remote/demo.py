"""The demo credentials `egov up` enrols once per data dir: user `official`'s personal credential and the seal of
user `clerk`'s agency."""

from __future__ import annotations

from dataclasses import dataclass

from ca.authority import CertificateAuthority
from signing.remote.directory import AccountDirectory
from signing.remote.enrollment import EnrolmentRequest, credentials_of, enroll

DEMO_AGENCY = "Ủy ban nhân dân tỉnh Bình Phước"
DEMO_PROVINCE = "Bình Phước"
DEMO_CREDENTIALS = (
    ("official", EnrolmentRequest(profile="official", title="Chủ tịch", organization=DEMO_AGENCY,
                                  province=DEMO_PROVINCE)),
    ("clerk", EnrolmentRequest(profile="organization", organization=DEMO_AGENCY, tax_code="3800123456",
                               province=DEMO_PROVINCE)),
)


@dataclass(frozen=True)
class DemoCredential:
    username: str
    profile: str
    credential_id: str
    serial: str
    subject: str
    enrolled_now: bool


def ensure_demo_credentials(authority: CertificateAuthority, directory: AccountDirectory,
                            actor: str) -> list[DemoCredential]:
    """Each demo user's credential of its profile: the one already held (first enrolled), else enrolled now."""
    held = []
    for username, request in DEMO_CREDENTIALS:
        user = directory.find(username)
        existing = [(c, r) for c, r in credentials_of(authority, user.subject) if r.profile == request.profile]
        if existing:
            credential, record = existing[0]
            held.append(DemoCredential(username, record.profile, credential.id, record.serial, record.subject, False))
            continue
        enrolment = enroll(authority, user, request, actor)
        held.append(DemoCredential(username, enrolment.profile, enrolment.credential_id, enrolment.serial,
                                   enrolment.subject, True))
    return held
