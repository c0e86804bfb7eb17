"""Forged and misused tokens are refused, each with its reason, against the real realm's keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from idp.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    SessionEnded,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
)
from idp.jwks import JwksCache
from idp.tokens import TokenVerifier
from tests.support.sso import SsoWorld

pytestmark = pytest.mark.keycloak


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))


@pytest.fixture(scope="module")
def real_token(sso: SsoWorld) -> str:
    _, _, session = sso.login("portal-dvc", "citizen")
    return session.access_token


def refused(verifier: TokenVerifier, token: str, error: type[TokenError]) -> str:
    with pytest.raises(error) as caught:
        verifier.verify_token(token)
    return caught.value.reason


def test_the_genuine_token_verifies(sso: SsoWorld, real_token: str):
    verifier, _ = sso.verifier()
    access = verifier.verify_token(real_token)
    assert access.has_role("citizen") and access.acr == "loa1"


def test_alg_none_is_refused(sso: SsoWorld, real_token: str):
    header, claims = parts(real_token)
    forged = f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    assert refused(sso.verifier()[0], forged, AlgorithmNotAllowed) == "algorithm_not_allowed"


def test_hs256_keyed_with_the_realms_public_key_is_refused(sso: SsoWorld, real_token: str):
    header, claims = parts(real_token)
    verifier, _ = sso.verifier()
    verifier.verify_token(real_token)
    public_pem = verifier.keys.key(header["kid"]).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged_header = b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{forged_header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{forged_header}.{body}.{b64(signature)}"
    assert refused(sso.verifier()[0], forged, AlgorithmNotAllowed) == "algorithm_not_allowed"


def test_expired_token_is_refused(sso: SsoWorld, real_token: str):
    later, _ = sso.verifier(clock=lambda: time.time() + 3600)
    assert refused(later, real_token, TokenExpired) == "expired"


def test_token_from_the_future_is_refused(sso: SsoWorld, real_token: str):
    earlier, _ = sso.verifier(clock=lambda: time.time() - 3600)
    assert refused(earlier, real_token, TokenNotYetValid) == "not_yet_valid"


def test_not_before_in_the_future_is_refused(sso: SsoWorld, real_token: str):
    # Keycloak does not set nbf, so this token is signed by a key the verifier is given as trusted.
    key = rsa.generate_private_key(65537, 2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "test-nbf", "alg": "RS256", "use": "sig"}
    keys = JwksCache("test:jwks", fetch=lambda url: {"keys": [jwk]})
    verifier = TokenVerifier(sso.issuer, "portal-dvc", keys)
    _, claims = parts(real_token)
    token = jwt.encode({**claims, "nbf": int(time.time()) + 3600}, key, "RS256", headers={"kid": "test-nbf"})
    assert refused(verifier, token, TokenNotYetValid) == "not_yet_valid"
    token = jwt.encode(claims, key, "RS256", headers={"kid": "test-nbf"})
    assert verifier.verify_token(token).subject == claims["sub"]


def test_wrong_issuer_is_refused(sso: SsoWorld, real_token: str):
    verifier, _ = sso.verifier()
    other = TokenVerifier(sso.issuer.replace("/realms/egov", "/realms/vneid"), "portal-dvc", verifier.keys)
    assert refused(other, real_token, WrongIssuer) == "wrong_issuer"


def test_wrong_audience_is_refused(sso: SsoWorld, real_token: str):
    verifier, _ = sso.verifier()
    desk = TokenVerifier(sso.issuer, "signing-desk", verifier.keys)
    assert refused(desk, real_token, WrongAudience) == "wrong_audience"


def test_signature_from_another_key_under_a_known_kid_is_refused(sso: SsoWorld, real_token: str):
    header, claims = parts(real_token)
    impostor = rsa.generate_private_key(65537, 2048)
    forged = jwt.encode(claims, impostor, "RS256", headers={"kid": header["kid"], "typ": "JWT"})
    assert refused(sso.verifier()[0], forged, BadSignature) == "bad_signature"


def test_tampered_payload_is_refused(sso: SsoWorld, real_token: str):
    header, payload, signature = real_token.split(".")
    _, claims = parts(real_token)
    claims["realm_access"] = {"roles": ["ca-operator"]}
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert refused(sso.verifier()[0], forged, BadSignature) == "bad_signature"


def test_unknown_kid_a_thousand_times_costs_only_rate_limited_refetches(sso: SsoWorld, real_token: str):
    interval = 30.0
    verifier, fetch = sso.verifier(refetch_interval=interval)
    verifier.verify_token(real_token)
    assert fetch.calls == 1
    _, claims = parts(real_token)
    impostor = rsa.generate_private_key(65537, 2048)
    forged = [jwt.encode(claims, impostor, "RS256", headers={"kid": f"made-up-{i}"}) for i in range(1000)]
    started = time.monotonic()
    for token in forged:
        assert refused(verifier, token, UnknownKey) == "unknown_kid"
    elapsed = time.monotonic() - started
    refetches = fetch.calls - 1
    assert 1 <= refetches <= 1 + int(elapsed // interval)
    assert verifier.verify_token(real_token)  # the genuine keys are still there


def test_token_of_a_logged_out_session_is_refused(sso: SsoWorld):
    browser, _, session = sso.login("portal-dvc", "clerk")
    portal = sso.portal("portal-dvc")
    assert portal.verifier.verify_token(session.access_token)  # cached as valid first
    browser.open(sso.url("portal-dvc", "/logout"), method="POST")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not portal.logged_out.has_ended(session.access):
        time.sleep(0.1)
    assert refused(portal.verifier, session.access_token, SessionEnded) == "session_ended"
