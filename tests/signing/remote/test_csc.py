"""The CSC API against the real service, the real Keycloak and real keys: pyHanko's CSCSigner signs PDFs that
pyHanko and pdfsig accept, and every refusal of sole control (SCAL2) holds."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)

from api.app import create_app
from egov import audit
from egov.settings import Settings
from tests.signing.remote.conftest import CscWorld
from tests.support.documents import official_document
from tests.support.pdfpeers import nss_database, pdfsig, pyhanko_statuses

SHA256_RSA = "1.2.840.113549.1.1.11"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SHA256 = "2.16.840.1.101.3.4.2.1"


def digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def authorize(csc: CscWorld, token: str, credential: str, hashes_b64: list[str], **extra: object) -> dict:
    answer = csc.post("credentials/authorize", {"credentialID": credential, "numSignatures": len(hashes_b64),
                                                "hash": hashes_b64, **extra}, token)
    assert answer.status_code == 200, answer.text
    return answer.json()


def sign_hash_body(credential: str, sad: str, hashes_b64: list[str], sign_algo: str = SHA256_RSA) -> dict:
    return {"credentialID": credential, "SAD": sad, "hash": hashes_b64, "hashAlgo": SHA256, "signAlgo": sign_algo}


def refused(answer: object, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json if isinstance(answer.json, dict) else answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "error_description"}
    assert words in body["error_description"], body


class AuthorizeWithHashes(CSCAuthorizationManager):
    """What a signing client does at the official's approval: credentials/authorize with exactly these hashes."""

    def __init__(self, session_info: CSCServiceSessionInfo, credential_info: object, http: aiohttp.ClientSession,
                 description: str) -> None:
        super().__init__(session_info, credential_info)  # type: ignore[arg-type]
        self.http = http
        self.description = description
        self.batches: list[list[str]] = []

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        self.batches.append(list(hash_b64s))
        body = self.format_csc_auth_request(hash_b64s=hash_b64s, description=self.description)
        async with self.http.post(self.csc_session_info.endpoint_url("credentials/authorize"), json=body,
                                  headers=self.auth_headers, raise_for_status=True) as response:
            return self.parse_csc_auth_response(await response.json())


async def _sign_with_csc_signer(url: str, credential: str, token: str, documents: list[bytes], batch_size: int,
                                prefer_pss: bool) -> tuple[list[bytes], list[list[str]]]:
    async with aiohttp.ClientSession() as http:  # created inside the loop that uses it
        session_info = CSCServiceSessionInfo(url, credential, oauth_token=token)
        credential_info = await fetch_certs_in_csc_credential(http, session_info)
        manager = AuthorizeWithHashes(session_info, credential_info, http, "Quyết định 123/QĐ-UBND")
        signer = CSCSigner(http, manager, batch_size=batch_size, prefer_pss=prefer_pss)
        metadata = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)

        async def one(data: bytes) -> bytes:
            output = await signers.PdfSigner(metadata, signer).async_sign_pdf(IncrementalPdfFileWriter(BytesIO(data)))
            return output.getvalue()

        signed = await asyncio.gather(*(one(d) for d in documents))
        return list(signed), manager.batches


def sign_with_csc_signer(csc: CscWorld, credential: str, documents: list[bytes], batch_size: int = 1,
                         prefer_pss: bool = False) -> tuple[list[bytes], list[list[str]]]:
    token = csc.tokens.get("official")
    return asyncio.run(_sign_with_csc_signer(csc.url, credential, token, documents, batch_size, prefer_pss))


def assert_valid_for_peers(csc: CscWorld, signed: bytes, tmp_path: Path, name: str) -> None:
    root = csc.authority.require_role("root").certificate
    statuses = pyhanko_statuses(signed, [root])
    assert len(statuses) == 1 and statuses[0].intact and statuses[0].valid and statuses[0].trusted, \
        statuses[0].pretty_print_details()
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(signed)
    report = pdfsig(path, nss_database(tmp_path / f"nss-{name}", [root]))
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert "Total document signed" in report, report


# -- signing with pyHanko's CSC client ------------------------------------------------------------------------


@pytest.mark.parametrize(("credential", "prefer_pss"), [("official-rsa", False), ("official-rsa", True),
                                                         ("official-ec-hsm", False)],
                         ids=["rsa-pkcs1-file", "rsa-pss-file", "ecdsa-softhsm"])
def test_pyhanko_csc_signer_signs_a_pdf_that_pyhanko_and_pdfsig_accept(csc: CscWorld, tmp_path: Path,
                                                                       credential: str, prefer_pss: bool):
    (signed,), batches = sign_with_csc_signer(csc, csc.credential(credential), [official_document().data],
                                              prefer_pss=prefer_pss)
    assert len(batches) == 1 and len(batches[0]) == 1
    assert_valid_for_peers(csc, signed, tmp_path, credential)


def test_batch_of_documents_is_approved_once_and_signed_in_one_sign_hash(csc: CscWorld, tmp_path: Path):
    documents = [official_document(number=f"{n}/QĐ-UBND").data for n in (201, 202, 203)]
    signed, batches = sign_with_csc_signer(csc, csc.credential("official-rsa"), documents, batch_size=3)
    assert [len(b) for b in batches] == [3]  # one approval, bound to the three documents' hashes
    for index, data in enumerate(signed):
        assert_valid_for_peers(csc, data, tmp_path, f"batch-{index}")


def test_credentials_info_has_the_shapes_pyhanko_needs(csc: CscWorld):
    token = csc.tokens.get("official")
    listed = csc.post("credentials/list", {}, token).json()["credentialIDs"]
    assert {csc.credential(n) for n in ("official-rsa", "official-ec-hsm")} <= set(listed)
    assert csc.credential("clerk-seal") not in listed
    info = csc.post("credentials/info", {"credentialID": csc.credential("official-rsa"), "certificates": "chain",
                                         "certInfo": True}, token).json()
    assert info["SCAL"] == "2" and info["multisign"] >= 1 and info["key"]["status"] == "enabled"
    assert {SHA256_RSA, "1.2.840.113549.1.1.10"} <= set(info["key"]["algo"]) and info["key"]["len"] == 2048
    assert len(info["cert"]["certificates"]) == 3 and info["cert"]["status"] == "valid"
    assert "UID=CCCD:001085000002" in info["cert"]["subjectDN"] and "Trần Thị Bình" in info["cert"]["subjectDN"]
    ec_info = csc.post("credentials/info", {"credentialID": csc.credential("official-ec-hsm")}, token).json()
    assert ECDSA_SHA256 in ec_info["key"]["algo"] and SHA256_RSA not in ec_info["key"]["algo"]
    assert len(ec_info["cert"]["certificates"]) == 1  # "single" by default
    seal = csc.post("credentials/info", {"credentialID": csc.credential("clerk-seal")},
                    csc.tokens.get("clerk")).json()
    assert seal["description"] == "Ủy ban nhân dân tỉnh Bình Phước (organization)"
    info_csc = csc.post("info", {}, None).json()
    assert info_csc["specs"] == "1.0.4.0" and "signatures/signHash" in info_csc["methods"]


def test_ecdsa_answers_are_der_and_rsa_answers_verify_over_digest_info(csc: CscWorld):
    token = csc.tokens.get("official")
    for name, algo in (("official-ec-hsm", ECDSA_SHA256), ("official-rsa", SHA256_RSA)):
        credential = csc.credential(name)
        message = f"signed attributes for {name}".encode()
        hashed = base64.b64encode(hashlib.sha256(message).digest()).decode()
        sad = authorize(csc, token, credential, [hashed])["SAD"]
        answer = csc.post("signatures/signHash", sign_hash_body(credential, sad, [hashed], algo), token)
        assert answer.status_code == 200, answer.text
        (signature,) = [base64.b64decode(s) for s in answer.json()["signatures"]]
        public_key = csc.authority.get(csc.serial(name)).certificate.public_key()
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            utils.decode_dss_signature(signature)  # DER, not raw r||s
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


# -- refusals ---------------------------------------------------------------------------------------------------


def test_loa1_token_gets_an_rfc9470_step_up_challenge(csc: CscWorld):
    token = csc.tokens.get("official", acr="loa1")
    answer = csc.post("credentials/authorize", {"credentialID": csc.credential("official-rsa"), "numSignatures": 1,
                                                "hash": [digest("loa1")]}, token)
    refused(answer, 401, "loa2")
    assert answer.json()["error"] == "insufficient_user_authentication"
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="loa2"' in challenge and 'max_age="300"' in challenge
    # the same token may still read its credentials: only approving a signature needs the second factor
    assert csc.post("credentials/list", {}, token).status_code == 200


def _app_with(csc: CscWorld, **env: str):  # noqa: ANN202 - a Flask test client
    """The same service in this process, over the same database, with stricter settings."""
    return create_app(Settings.from_env({**csc.env, **env})).test_client()


def test_stale_auth_time_gets_a_step_up_challenge(csc: CscWorld):
    client = _app_with(csc, EGOV_SIGNING_MAX_AUTH_AGE_SECONDS="1")
    token = csc.tokens.get("official")
    time.sleep(2.2)  # now - auth_time >= 2 s > 1 s
    body = {"credentialID": csc.credential("official-rsa"), "numSignatures": 1, "hash": [digest("stale")]}
    stale = client.post("/csc/v1/credentials/authorize", json=body, headers={"Authorization": f"Bearer {token}"})
    refused(stale, 401, "older than 1 s")
    assert stale.json["error"] == "insufficient_user_authentication"
    challenge = stale.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge and 'acr_values="loa2"' in challenge
    assert 'max_age="1"' in challenge


def test_expired_sad_is_refused(csc: CscWorld):
    client = _app_with(csc, EGOV_SAD_LIFETIME_SECONDS="1")
    token = csc.tokens.get("official")
    headers = {"Authorization": f"Bearer {token}"}
    credential = csc.credential("official-rsa")
    granted = client.post("/csc/v1/credentials/authorize", headers=headers,
                          json={"credentialID": credential, "numSignatures": 1, "hash": [digest("expiring")]})
    assert granted.status_code == 200 and granted.json["expiresIn"] == 1
    time.sleep(1.5)
    expired = client.post("/csc/v1/signatures/signHash", headers=headers,
                          json=sign_hash_body(credential, granted.json["SAD"], [digest("expiring")]))
    refused(expired, 400, "SAD expired")


def test_another_officials_credential_is_refused(csc: CscWorld):
    token = csc.tokens.get("official")
    seal = csc.credential("clerk-seal")
    refused(csc.post("credentials/authorize", {"credentialID": seal, "numSignatures": 1, "hash": [digest("x")]},
                     token), 400, "credentialID")
    refused(csc.post("credentials/info", {"credentialID": seal}, token), 400, "credentialID")
    clerk_sad = authorize(csc, csc.tokens.get("clerk"), seal, [digest("seal")])["SAD"]
    refused(csc.post("signatures/signHash", sign_hash_body(seal, clerk_sad, [digest("seal")]), token), 400,
            "credentialID")
    # the clerk's SAD with the official's own credential: issued to another user
    refused(csc.post("signatures/signHash", sign_hash_body(csc.credential("official-rsa"), clerk_sad,
                                                           [digest("seal")]), token), 400, "another user")


def test_sad_replay_is_refused(csc: CscWorld):
    token = csc.tokens.get("official")
    credential = csc.credential("official-rsa")
    sad = authorize(csc, token, credential, [digest("replay")])["SAD"]
    body = sign_hash_body(credential, sad, [digest("replay")])
    assert csc.post("signatures/signHash", body, token).status_code == 200
    refused(csc.post("signatures/signHash", body, token), 400, "already been used")


def test_hash_not_bound_to_the_sad_is_refused_without_spending_it(csc: CscWorld):
    token = csc.tokens.get("official")
    credential = csc.credential("official-rsa")
    sad = authorize(csc, token, credential, [digest("shown")])["SAD"]
    refused(csc.post("signatures/signHash", sign_hash_body(credential, sad, [digest("swapped")]), token), 400,
            "not authorized by the SAD")
    refused(csc.post("signatures/signHash", sign_hash_body(credential, sad, [digest("shown"), digest("shown")]),
                     token), 400, "already been used")  # two signatures of a one-signature SAD
    assert csc.post("signatures/signHash", sign_hash_body(credential, sad, [digest("shown")]), token).status_code \
        == 200


def test_revoked_certificate_cannot_sign_even_with_a_sad_from_before(csc: CscWorld):
    token = csc.tokens.get("official")
    credential = csc.credential("official-to-revoke")
    sad = authorize(csc, token, credential, [digest("before revocation")])["SAD"]
    csc.authority.revoke(csc.serial("official-to-revoke"), "keyCompromise", "test:operator")
    refused(csc.post("signatures/signHash", sign_hash_body(credential, sad, [digest("before revocation")],
                                                           ECDSA_SHA256), token), 400, "revoked")
    refused(csc.post("credentials/authorize", {"credentialID": credential, "numSignatures": 1,
                                                "hash": [digest("after")]}, token), 400, "revoked")
    info = csc.post("credentials/info", {"credentialID": credential}, token).json()
    assert info["cert"]["status"] == "revoked" and info["key"]["status"] == "disabled"


def test_suspended_certificate_is_refused_then_works_again_after_release(csc: CscWorld):
    token = csc.tokens.get("official")
    credential, serial = csc.credential("official-to-suspend"), csc.serial("official-to-suspend")
    body = sign_hash_body(credential, authorize(csc, token, credential, [digest("held")])["SAD"], [digest("held")],
                          ECDSA_SHA256)
    csc.authority.suspend(serial, "test:operator")
    refused(csc.post("signatures/signHash", body, token), 400, "suspended")
    refused(csc.post("credentials/authorize", {"credentialID": credential, "numSignatures": 1,
                                                "hash": [digest("held 2")]}, token), 400, "suspended")
    csc.authority.release(serial, "test:operator")
    assert csc.post("signatures/signHash", body, token).status_code == 200  # the refusal did not spend the SAD
    assert authorize(csc, token, credential, [digest("released")])["SAD"]


def test_disabled_account_stops_signing_at_once(csc: CscWorld):
    token = csc.tokens.get("clerk")
    seal = csc.credential("clerk-seal")
    sad = authorize(csc, token, seal, [digest("before disabling")])["SAD"]
    admin = csc.sso.admin()
    clerk = admin.get_user_id("clerk")
    admin.update_user(clerk, {"enabled": False})
    try:
        answer = csc.post("signatures/signHash", sign_hash_body(seal, sad, [digest("before disabling")]), token)
        refused(answer, 403, "disabled")
        assert answer.json()["error"] == "access_denied"
        refused(csc.post("credentials/authorize", {"credentialID": seal, "numSignatures": 1,
                                                    "hash": [digest("x")]}, token), 403, "disabled")
    finally:
        admin.update_user(clerk, {"enabled": True})
    assert csc.post("signatures/signHash", sign_hash_body(seal, sad, [digest("before disabling")]),
                    token).status_code == 200


def test_fifty_concurrent_sign_hash_calls_never_exceed_num_signatures(csc: CscWorld):
    token = csc.tokens.get("official")
    credential = csc.credential("official-rsa")
    bound = [digest(f"concurrent {n}") for n in range(10)]
    sad = authorize(csc, token, credential, bound)["SAD"]

    def one(n: int) -> int:
        return csc.post("signatures/signHash", sign_hash_body(credential, sad, [bound[n % 10]]), token).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses.count(200) == 10 and statuses.count(400) == 40, statuses


@pytest.mark.parametrize(("endpoint", "body", "words"), [
    ("credentials/authorize", {"numSignatures": 1, "hash": ["AA=="]}, "credentialID"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": 1, "hash": ["not base64!"]}, "Base64"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": 1, "hash": ["AAAA"]}, "wrong length"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": 2, "hash": ["H"]}, "numSignatures"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": "1", "hash": ["H"]}, "numSignatures"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": 1, "hash": "H"}, "hash"),
    ("credentials/authorize", {"credentialID": "C", "numSignatures": 101, "hash": ["H"] * 101}, "at most"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": "1.2.3.4"}, "signAlgo"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": ECDSA_SHA256}, "signAlgo"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": "1.2.840.113549.1.1.1",
                             "hashAlgo": "9.9.9"}, "hashAlgo"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": "1.2.840.113549.1.1.1"},
     "hashAlgo"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"]}, "signAlgo"),
    ("signatures/signHash", {"credentialID": "C", "hash": ["H"], "signAlgo": SHA256_RSA}, "SAD"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["AAAA"], "signAlgo": SHA256_RSA},
     "wrong length"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": SHA256_RSA,
                             "hashAlgo": "2.16.840.1.101.3.4.2.2"}, "contradicts"),
    ("signatures/signHash", {"credentialID": "C", "SAD": "s", "hash": ["H"], "signAlgo": "1.2.840.113549.1.1.10",
                             "hashAlgo": SHA256, "signAlgoParams": "%%"}, "Base64"),
    ("credentials/info", {"credentialID": "C", "certificates": "all"}, "certificates"),
    ("credentials/info", [], "JSON object"),
    ("credentials/list", {"maxResults": 0}, "maxResults"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_client_mistakes_get_csc_errors_never_a_500(csc: CscWorld, endpoint: str, body: object, words: str):
    credential = csc.credential("official-rsa")
    sad = None
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"C"', json.dumps(credential)).replace('"H"', json.dumps(
            digest("mistake"))))
        if body.get("SAD") == "s":
            sad = authorize(csc, csc.tokens.get("official"), credential, [digest("mistake")])["SAD"]
            body["SAD"] = sad
    refused(csc.post(endpoint, body, csc.tokens.get("official")), 400, words)


def test_garbage_body_and_missing_token_are_answered_in_csc_json(csc: CscWorld):
    import requests

    answer = requests.post(f"{csc.url}/csc/v1/signatures/signHash", data=b"\xff{", timeout=10,
                           headers={"Authorization": f"Bearer {csc.tokens.get('official')}"})
    refused(answer, 400, "JSON object")
    with csc.authority.database.transaction() as session:
        before = audit.list_records(session, limit=1)[0].seq
    answer = csc.post("signatures/signHash", {}, None)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    answer = csc.post("credentials/authorize", {}, "not.a.token")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    with csc.authority.database.transaction() as session:  # no user, nothing to record: a flood cannot clog the chain
        assert audit.list_records(session, limit=1)[0].seq == before


# -- audit --------------------------------------------------------------------------------------------------------


def test_auditor_lists_every_authorize_and_sign_hash_with_user_hashes_result_and_address(csc: CscWorld):
    token = csc.tokens.get("official")
    credential = csc.credential("official-rsa")
    hashed = digest("audited")
    sad = authorize(csc, token, credential, [hashed], description="Công văn 45/UBND-VP")["SAD"]
    assert csc.post("signatures/signHash", sign_hash_body(credential, sad, [hashed]), token).status_code == 200
    refused(csc.post("signatures/signHash", sign_hash_body(credential, sad, [hashed]), token), 400, "already")
    import requests

    listing = requests.get(f"{csc.url}/audit/remote-signing", params={"credential": credential, "limit": "3"},
                           headers={"Authorization": f"Bearer {csc.tokens.get('auditor', acr='loa1')}"}, timeout=10)
    assert listing.status_code == 200, listing.text
    replay, signed, granted = listing.json()["records"]
    official = csc.tokens.subject("official")
    assert granted["action"] == "csc.authorize" and granted["details"]["result"] == "granted"
    assert granted["details"]["documents"] == "Công văn 45/UBND-VP" and granted["details"]["hashes"] == [hashed]
    assert signed["action"] == "csc.signHash" and signed["details"]["result"] == "signed"
    assert replay["details"]["result"] == "refused" and replay["details"]["reason"] == "sad_used"
    for record in (replay, signed, granted):
        assert record["actor"] == official and record["details"]["client"] == "127.0.0.1"
        assert record["details"]["username"] == "official"
        assert sad not in json.dumps(record)  # never the SAD itself
    assert granted["details"]["activation"] == signed["details"]["activation"]
    forbidden = requests.get(f"{csc.url}/audit/remote-signing", headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
    assert forbidden.status_code == 403
    with csc.authority.database.transaction() as session:
        assert audit.verify_chain(session).ok


def test_enrolment_binds_the_seal_to_a_second_clerk_and_refuses_users_without_the_role(csc: CscWorld):
    from tests.signing.remote.conftest import enroll
    from tests.support.sso import run_egov

    admin = csc.sso.admin()
    if admin.get_user_id("clerk2") is None:
        admin.create_user({"username": "clerk2", "enabled": True, "email": "clerk2@demo.egov.vn", "firstName": "Giang",
                           "lastName": "Hoàng Thị", "emailVerified": True})
        admin.assign_realm_roles(admin.get_user_id("clerk2"), [admin.get_realm_role("clerk")])
    credential, serial = enroll(csc.env, "--user", "clerk2", "--profile", "organisation", "--certificate",
                                csc.serial("clerk-seal"))
    assert serial == csc.serial("clerk-seal") and credential != csc.credential("clerk-seal")
    with csc.authority.database.transaction() as session:
        from signing.remote.models import RemoteCredential

        assert session.get(RemoteCredential, credential).owner == admin.get_user_id("clerk2")
    not_a_clerk = run_egov(csc.env, "ca", "enroll", "--user", "official", "--profile", "organisation",
                           "--certificate", csc.serial("clerk-seal"))
    assert not_a_clerk.returncode == 2 and "clerk" in not_a_clerk.stderr, not_a_clerk.stderr
    not_an_official = run_egov(csc.env, "ca", "enroll", "--user", "clerk2", "--profile", "official")
    assert not_an_official.returncode == 2 and "official" in not_an_official.stderr, not_an_official.stderr
    unknown = run_egov(csc.env, "ca", "enroll", "--user", "nobody-here", "--profile", "official")
    assert unknown.returncode != 0 and "nobody-here" in unknown.stderr and "Traceback" not in unknown.stderr
