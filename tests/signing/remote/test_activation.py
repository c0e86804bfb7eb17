"""SAD use counting in the service itself, on SQLite and on a real PostgreSQL: threads racing on one SAD never
get more signatures than it allows, and a refused request spends nothing."""

from __future__ import annotations

import base64
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

import pytest

from ca.authority import CertificateAuthority
from idp.tokens import AccessToken
from signing.remote.directory import DirectoryUser
from signing.remote.enrollment import EnrolmentRequest, enroll
from signing.remote.errors import AccountDisabled, InvalidSad
from signing.remote.service import Caller, RemoteSigningService

OFFICIAL = DirectoryUser("0f1c2d3e-0000-4000-8000-000000000001", "official", "Bình", "Trần Thị", "001085000002", True,
                         frozenset({"official"}))


class Directory:
    """Accounts as the identity provider would report them (the real Keycloak is in test_csc.py)."""

    def __init__(self) -> None:
        self.disabled: set[str] = set()

    def find(self, username: str) -> DirectoryUser:
        return OFFICIAL

    def require_enabled(self, subject: str) -> None:
        if subject in self.disabled:
            raise AccountDisabled("the account is disabled in the identity provider")


def caller(user: DirectoryUser = OFFICIAL) -> Caller:
    now = int(time.time())
    claims = {"sub": user.subject, "preferred_username": user.username, "acr": "loa2", "auth_time": now}
    token = AccessToken(user.subject, None, "loa2", now, now, now + 300, frozenset({"official"}),
                        MappingProxyType(claims))
    return Caller(token, "127.0.0.1")


def digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.fixture
def service(authority: CertificateAuthority) -> tuple[RemoteSigningService, str, Directory]:
    enrolment = enroll(authority, OFFICIAL, EnrolmentRequest("official", key_algorithm="ec-p256"), "test:operator")
    directory = Directory()
    return RemoteSigningService(authority.settings, authority, directory), enrolment.credential_id, directory


def test_threads_racing_on_one_sad_sign_exactly_num_signatures(service):
    remote, credential, _ = service
    bound = [digest(f"race {n}") for n in range(7)]
    sad = remote.authorize(caller(), {"credentialID": credential, "numSignatures": 7, "hash": bound}).sad

    def one(n: int) -> bool:
        try:
            remote.sign_hash(caller(), {"credentialID": credential, "SAD": sad, "hash": [bound[n % 7]],
                                        "signAlgo": "1.2.840.10045.4.3.2"})
        except InvalidSad:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(one, range(50)))
    assert outcomes.count(True) == 7
    records = remote.audit_trail(credential, limit=1000)
    assert sum(1 for r in records if r["details"]["result"] == "signed") == 7
    assert sum(1 for r in records if r["details"].get("reason") == "sad_used") == 43


def test_disabled_account_is_refused_and_the_refusal_spends_nothing(service):
    remote, credential, directory = service
    sad = remote.authorize(caller(), {"credentialID": credential, "numSignatures": 1, "hash": [digest("d")]}).sad
    body = {"credentialID": credential, "SAD": sad, "hash": [digest("d")], "signAlgo": "1.2.840.10045.4.3.2"}
    directory.disabled.add(OFFICIAL.subject)
    with pytest.raises(AccountDisabled):
        remote.sign_hash(caller(), body)
    directory.disabled.clear()
    assert len(remote.sign_hash(caller(), body)["signatures"]) == 1
