"""Signing fixtures: an official's and an organisation's credential from a real CA, and a fresh document."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography import x509

from ca.authority import CertificateAuthority, IssuanceRequest
from ca.names import OrganizationSubject, PersonSubject
from signing.credentials import Credential, load_credential
from tests.support.documents import OfficialDocument, official_document

OFFICIAL = PersonSubject("Nguyễn Thị Hồng Đào", "070186000123", "Ủy ban nhân dân tỉnh Bình Phước", "Bình Phước",
                         "Chủ tịch")
AGENCY = OrganizationSubject("Ủy ban nhân dân tỉnh Bình Phước", tax_code="3800123456", province="Bình Phước")


@dataclass(frozen=True)
class Signers:
    authority: CertificateAuthority
    official: Credential
    agency: Credential

    @property
    def root(self) -> x509.Certificate:
        return self.official.root


def issue_signers(authority: CertificateAuthority, backend: str | None = None) -> Signers:
    official = authority.issue(IssuanceRequest(profile="official", subject=OFFICIAL, backend=backend), "test:setup")
    agency = authority.issue(IssuanceRequest(profile="organization", subject=AGENCY, backend=backend), "test:setup")
    return Signers(authority, load_credential(authority, official.serial), load_credential(authority, agency.serial))


@pytest.fixture
def signers(sqlite_authority: CertificateAuthority) -> Signers:
    return issue_signers(sqlite_authority)


@pytest.fixture(scope="session")
def document() -> OfficialDocument:
    return official_document()
