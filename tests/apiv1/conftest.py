"""One real `egov serve` (gunicorn) for the API and page tests, over a CA of its own, pointed at the session's real
Keycloak; signed documents made with file keys from that CA: valid, sealed, tampered, changed after signing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from signing.signer import DocumentSigner
from tests.conftest import settings_env_for
from tests.signing.conftest import Signers, issue_signers
from tests.signing.test_signing import PERSONAL, sign_and_seal
from tests.signing.test_validation import add_content_after_signing, flip_inside_signed_range
from tests.support.documents import official_document
from tests.support.server import PkiServer, start_pki_server
from tests.support.softhsm import SoftHsmToken
from tests.support.sso import SsoWorld

MAX_UPLOAD = 2 * 1024 * 1024  # small, so the 413 tests send little


@dataclass(frozen=True)
class SignedDocuments:
    valid: bytes  # the competent person's signature, B-B
    sealed: bytes  # … and the organisation's seal over it
    tampered: bytes  # one byte changed inside the signed range
    changed: bytes  # sealed, then a later incremental update draws on the page
    unsigned: bytes  # an empty signature field, no signature


@pytest.fixture(scope="package")
def api_server(tmp_path_factory: pytest.TempPathFactory, softhsm: SoftHsmToken, sso: SsoWorld) -> Iterator[PkiServer]:
    env = settings_env_for(tmp_path_factory.mktemp("apiv1") / "data", softhsm)
    env["EGOV_KEYCLOAK_PORT"] = sso.env["EGOV_KEYCLOAK_PORT"]
    env["EGOV_MAX_REQUEST_BYTES"] = str(MAX_UPLOAD)
    # Three workers: a verification's OCSP and CRL requests go back to this same server.
    server = start_pki_server(env, workers=3)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def signers(api_server: PkiServer) -> Signers:
    assert api_server.authority is not None
    return issue_signers(api_server.authority)


@pytest.fixture(scope="package")
def documents(signers: Signers) -> SignedDocuments:
    document = official_document()
    valid = DocumentSigner(signers.official, signers.authority.settings).sign(document.data, PERSONAL).data
    _, sealed = sign_and_seal(signers, document)
    return SignedDocuments(valid, sealed, flip_inside_signed_range(valid), add_content_after_signing(sealed),
                           document.data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auditor_token(sso: SsoWorld) -> str:
    return sso.login("portal-dvc", "auditor")[2].access_token


@pytest.fixture
def citizen_token(sso: SsoWorld) -> str:
    return sso.login("portal-dvc", "citizen")[2].access_token


class PageVisitor:
    """A browser-like client of /verify: keeps the session cookie and sends the form's CSRF token."""

    def __init__(self, server: PkiServer) -> None:
        self.url = f"{server.url}/verify"
        self.http = requests.Session()

    def form_token(self) -> str:
        page = self.http.get(self.url, timeout=30)
        assert page.status_code == 200
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "the form carries no CSRF token"
        return match.group(1)

    def upload(self, data: bytes, name: str = "document.pdf", csrf: bool = True) -> requests.Response:
        form = {"csrf_token": self.form_token()} if csrf else {}
        return self.http.post(self.url, data=form, files={"file": (name, data, "application/pdf")}, timeout=120)


@pytest.fixture
def visitor(api_server: PkiServer) -> PageVisitor:
    return PageVisitor(api_server)
