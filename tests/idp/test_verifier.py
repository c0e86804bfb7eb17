"""The verifier, the logout-token checks and the HTTP layer on locally signed tokens (no Keycloak needed)."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, jsonify
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from werkzeug.test import Client

from idp.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    InsufficientAuthentication,
    InsufficientRole,
    KeySetUnavailable,
    MalformedToken,
    MissingClaim,
    ReplayedToken,
    SessionEnded,
    TokenError,
    TokenExpired,
    WrongAudience,
    WrongTokenType,
)
from idp.jwks import JwksCache
from idp.logout import BACKCHANNEL_LOGOUT_EVENT, LogoutTokenVerifier
from idp.sessions import LoggedOutSessions
from idp.tokens import Requirement, TokenVerifier, b64url_decode
from idp.web import BearerTokenMiddleware, init_token_verification, require_token

ISSUER = "http://localhost:8180/realms/egov"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Realm:
    """A stand-in provider: an RSA and an EC signing key plus an encryption key that must never verify anything."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(65537, 2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.fetches = 0
        self.jwks = {"keys": [
            {**json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "rsa1", "alg": "RS256", "use": "sig"},
            {**json.loads(ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "ec1", "alg": "ES256", "use": "sig"},
            {**json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "enc1", "alg": "RSA-OAEP",
             "use": "enc"},
        ]}

    def fetch(self, url: str) -> dict:
        self.fetches += 1
        return self.jwks

    def claims(self, **overrides: object) -> dict:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "user-1", "aud": ["egov-api"], "azp": "portal-dvc", "typ": "Bearer",
                  "iat": now, "exp": now + 300, "auth_time": now, "sid": "sid-1", "acr": "loa1",
                  "realm_access": {"roles": ["citizen"]}, "scope": "openid profile"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str = "rsa1", **overrides: object) -> str:
        key, alg = (self.rsa, "RS256") if kid in ("rsa1", "enc1") else (self.ec, "ES256")
        return jwt.encode(self.claims(**overrides), key, alg, headers={"kid": kid})


@pytest.fixture
def realm() -> Realm:
    return Realm()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock: Clock) -> LoggedOutSessions:
    return LoggedOutSessions(clock=clock)


@pytest.fixture
def verifier(realm: Realm, clock: Clock, sessions: LoggedOutSessions) -> TokenVerifier:
    return TokenVerifier(ISSUER, "egov-api", JwksCache("test:jwks", fetch=realm.fetch), clock=clock, sessions=sessions)


def test_rs256_and_es256_tokens_verify_into_claims(realm: Realm, verifier: TokenVerifier):
    for kid in ("rsa1", "ec1"):
        access = verifier.verify_token(realm.token(kid))
        assert access.subject == "user-1" and access.session_id == "sid-1" and access.acr == "loa1"
        assert access.realm_roles == {"citizen"} and access.scope == {"openid", "profile"}
    assert realm.fetches == 1


def test_an_encryption_key_never_verifies_a_signature(realm: Realm, verifier: TokenVerifier):
    with pytest.raises(TokenError) as caught:  # the reason says which
        verifier.verify_token(realm.token("enc1"))
    assert caught.value.reason == "unknown_kid"


def test_azp_is_accepted_as_the_audience_of_the_apps_own_tokens(realm: Realm, clock: Clock):
    portal = TokenVerifier(ISSUER, "portal-dvc", JwksCache("t", fetch=realm.fetch), clock=clock)
    assert portal.verify_token(realm.token(aud=None)).authorized_party == "portal-dvc"
    strict = TokenVerifier(ISSUER, "portal-dvc", JwksCache("t", fetch=realm.fetch), clock=clock, accept_azp=False)
    with pytest.raises(WrongAudience):
        strict.verify_token(realm.token())


def test_an_id_token_is_not_an_access_token(realm: Realm, verifier: TokenVerifier):
    with pytest.raises(WrongTokenType):
        verifier.verify_token(realm.token(typ="ID"))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_required_claims_must_be_there(realm: Realm, verifier: TokenVerifier, claim: str):
    with pytest.raises(MissingClaim):
        verifier.verify_token(realm.token(**{claim: None}))


def test_hmac_is_never_allowed_even_if_asked_for(realm: Realm, clock: Clock):
    keys = JwksCache("t", fetch=realm.fetch, algorithms=("HS256", "RS256"))
    loose = TokenVerifier(ISSUER, "egov-api", keys, algorithms=("HS256", "RS256"), clock=clock)
    forged = jwt.encode(realm.claims(), "s" * 32, "HS256", headers={"kid": "rsa1"})
    with pytest.raises(AlgorithmNotAllowed):
        loose.verify_token(forged)


@pytest.mark.parametrize("segment", [b"ab+c", b"ab/c", b"abc=", b"a", b"ab c", "é".encode()])
def test_base64url_is_strict(segment: bytes):
    with pytest.raises(MalformedToken):
        b64url_decode(segment)


def test_garbage_is_malformed(verifier: TokenVerifier):
    for token in ("", "a.b", "a.b.c.d", "é.é.é", "x" * 20000):
        with pytest.raises(MalformedToken):
            verifier.verify_token(token)


def test_a_cached_token_still_expires(realm: Realm, verifier: TokenVerifier, clock: Clock):
    token = realm.token()
    verifier.verify_token(token)
    verifier.verify_token(token)
    clock.now += 300 + verifier.leeway + 1
    with pytest.raises(TokenExpired):
        verifier.verify_token(token)


def test_a_cached_token_of_an_ended_session_is_refused(realm: Realm, verifier: TokenVerifier,
                                                       sessions: LoggedOutSessions):
    token = realm.token()
    verifier.verify_token(token)
    sessions.end(session_id="sid-1")
    with pytest.raises(SessionEnded):
        verifier.verify_token(token)
    assert verifier.verify_token(realm.token(sid="sid-2")).session_id == "sid-2"


def test_a_logout_by_subject_refuses_tokens_issued_before_it(realm: Realm, verifier: TokenVerifier,
                                                            sessions: LoggedOutSessions, clock: Clock):
    old = realm.token(iat=int(clock.now) - 10)
    sessions.end(subject="user-1")
    with pytest.raises(SessionEnded):
        verifier.verify_token(old)
    assert verifier.verify_token(realm.token(iat=int(clock.now) + 5))


def test_the_cache_is_bounded(realm: Realm, clock: Clock):
    small = TokenVerifier(ISSUER, "egov-api", JwksCache("t", fetch=realm.fetch), clock=clock, cache_size=3)
    for i in range(10):
        small.verify_token(realm.token(jti=str(i)))
    assert len(small._cache) == 3


def test_a_forged_token_is_never_served_from_the_cache(realm: Realm, verifier: TokenVerifier):
    token = realm.token()
    verifier.verify_token(token)
    header, payload, signature = token.split(".")
    with pytest.raises(BadSignature):
        verifier.verify_token(f"{header}.{payload}.{signature[:-4]}AAAA")


def test_requirements_acr_max_age_and_roles(realm: Realm, verifier: TokenVerifier, clock: Clock):
    token = realm.token(auth_time=int(clock.now) - 1000)
    with pytest.raises(InsufficientAuthentication) as caught:
        verifier.verify_token(token, Requirement.of(acr="loa2"))
    assert caught.value.acr_values == "loa2"
    with pytest.raises(InsufficientAuthentication):
        verifier.verify_token(token, Requirement.of(max_age=300))
    with pytest.raises(InsufficientRole):
        verifier.verify_token(token, Requirement.of(roles=["official"]))
    assert verifier.verify_token(realm.token(acr="loa2"), Requirement.of(acr="loa2", max_age=300, roles=["citizen"]))


# -- back-channel logout tokens ------------------------------------------------------------------------------------

def logout_token(realm: Realm, **overrides: object) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "portal-dvc", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()),
              "sid": "sid-1", "sub": "user-1", "typ": "Logout", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, realm.rsa, "RS256", headers={"kid": "rsa1", "typ": "logout+jwt"})


@pytest.fixture
def logout(realm: Realm, sessions: LoggedOutSessions, clock: Clock) -> LogoutTokenVerifier:
    return LogoutTokenVerifier(ISSUER, "portal-dvc", JwksCache("t", fetch=realm.fetch), sessions, clock=clock)


def test_a_logout_token_ends_its_session_once(realm: Realm, logout: LogoutTokenVerifier, verifier: TokenVerifier):
    token = logout_token(realm)
    event = logout.verify(token)
    assert event.session_id == "sid-1"
    with pytest.raises(SessionEnded):
        verifier.verify_token(realm.token())
    with pytest.raises(ReplayedToken):
        logout.verify(token)


@pytest.mark.parametrize("overrides, reason", [
    ({"events": None}, "wrong_type"),
    ({"events": {"http://example.com/other": {}}}, "wrong_type"),
    ({"nonce": "n"}, "malformed"),
    ({"sid": None, "sub": None}, "missing_claim"),
    ({"jti": None}, "missing_claim"),
    ({"aud": "portal-motcua"}, "wrong_audience"),
    ({"iss": "http://localhost:8180/realms/vneid"}, "wrong_issuer"),
    ({"iat": int(time.time()) - 3600, "exp": None}, "expired"),
    ({"iat": int(time.time()) + 3600}, "not_yet_valid"),
])
def test_bad_logout_tokens_are_refused(realm: Realm, logout: LogoutTokenVerifier, overrides: dict, reason: str):
    with pytest.raises(TokenError) as caught:
        logout.verify(logout_token(realm, **overrides))
    assert caught.value.reason == reason


# -- HTTP: RFC 6750 / RFC 9470 ---------------------------------------------------------------------------------------

@pytest.fixture
def app(verifier: TokenVerifier) -> Flask:
    app = Flask("t")
    init_token_verification(app, verifier)

    @app.get("/me")
    @require_token()
    def me():
        return jsonify(ok=True)

    @app.post("/sign")
    @require_token(roles=["official"], acr="loa2", max_age=300)
    def sign():
        return jsonify(ok=True)

    return app


def test_no_token_gets_a_bare_bearer_challenge(app: Flask):
    response = app.test_client().get("/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="egov"'
    assert response.content_type == "application/problem+json"


def test_bad_token_gets_invalid_token(app: Flask, realm: Realm):
    response = app.test_client().get("/me", headers={"Authorization": f"Bearer {realm.token(exp=1, iat=0)}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json["reason"] == "expired"
    assert "eyJ" not in response.get_data(as_text=True)  # the token is never echoed


def test_step_up_challenge_follows_rfc_9470(app: Flask, realm: Realm):
    headers = {"Authorization": f"Bearer {realm.token(realm_access={'roles': ['official']})}"}
    response = app.test_client().post("/sign", headers=headers)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="loa2"' in challenge and 'max_age="300"' in challenge


def test_missing_role_is_forbidden_with_insufficient_scope(app: Flask, realm: Realm):
    headers = {"Authorization": f"Bearer {realm.token(acr='loa2')}"}
    response = app.test_client().post("/sign", headers=headers)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_wsgi_middleware_guards_a_plain_app(verifier: TokenVerifier, realm: Realm):
    def plain(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["egov.access_token"].subject.encode()]

    client = Client(BearerTokenMiddleware(plain, verifier, Requirement.of(acr="loa2")))
    assert client.get("/", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    low = client.get("/", headers={"Authorization": f"Bearer {realm.token()}"})
    assert low.status_code == 401 and "insufficient_user_authentication" in low.headers["WWW-Authenticate"]
    ok = client.get("/", headers={"Authorization": f"Bearer {realm.token(acr='loa2')}"})
    assert ok.status_code == 200 and ok.get_data() == b"user-1"


def test_a_provider_that_is_down_is_not_hammered(realm: Realm, clock: Clock):
    calls = []

    def down(url: str) -> dict:
        calls.append(url)
        raise requests.ConnectionError("refused")

    verifier = TokenVerifier(ISSUER, "egov-api", JwksCache("t", fetch=down), clock=clock)
    for _ in range(100):
        with pytest.raises(KeySetUnavailable) as caught:
            verifier.verify_token(realm.token())
        assert caught.value.status == 503
    assert len(calls) == 1
