"""Access-token verification for apps: `verify_token` returns an `AccessToken` or raises a `TokenError`."""

from __future__ import annotations

import binascii
import functools
import time
from binascii import a2b_base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature

from idp.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    InsufficientAuthentication,
    InsufficientRole,
    MalformedToken,
    MissingClaim,
    SessionEnded,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTokenType,
)
from idp.jwks import DEFAULT_ALGORITHMS, JwksCache, discover, http_json
from idp.sessions import LoggedOutSessions

try:  # orjson parses a token's claims ~3x faster; the standard library is the fallback
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    from json import loads as _json_loads

DEFAULT_LEEWAY = 30  # seconds of clock skew tolerated on exp, nbf and iat
_ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
ACR_LEVELS: Mapping[str, int] = MappingProxyType({"loa1": 1, "loa2": 2})
MAX_TOKEN_BYTES = 16 * 1024
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PADDING = (b"", b"", b"==", b"=")


try:  # SIMD base64 (pybase64) is ~4x faster than binascii on a 1 KiB payload; binascii is the fallback
    from pybase64 import b64decode as _simd_b64decode

    def _b64url(segment: bytes) -> bytes:
        return _simd_b64decode(segment + _PADDING[len(segment) % 4], altchars=b"-_", validate=True)
except ImportError:  # pragma: no cover - pybase64 is a dependency

    def _b64url(segment: bytes) -> bytes:
        return a2b_base64(segment.translate(_URLSAFE_TO_STANDARD) + _PADDING[len(segment) % 4])


def _b64url_signed(segment: bytes) -> bytes:
    """Decode a segment the signature already covers (any change to it fails the signature check)."""
    try:
        return _b64url(segment)
    except binascii.Error as exc:
        raise MalformedToken("segment is not base64url") from exc


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 §2), in C: any byte outside the alphabet is refused."""
    if segment.translate(None, _BASE64URL_ALPHABET) or len(segment) % 4 == 1:
        raise MalformedToken("segment is not base64url")
    return _b64url_signed(segment)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = _json_loads(data)
    except ValueError as exc:
        raise MalformedToken(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedToken(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a resource demands beyond a valid token: realm roles (all of them), a minimum `acr`, a recent login."""

    roles: frozenset[str] = frozenset()
    acr: str | None = None
    max_age: int | None = None

    @classmethod
    def of(cls, roles: Iterable[str] = (), acr: str | None = None, max_age: int | None = None) -> Requirement:
        return cls(frozenset(roles), acr, max_age)


ANY = Requirement()


class AccessToken(NamedTuple):
    """The verified claims an app acts on (immutable); `claims` holds everything else, read-only."""

    subject: str
    session_id: str | None
    acr: str | None
    auth_time: int | None
    issued_at: int
    expires_at: int
    realm_roles: frozenset[str]
    claims: Mapping[str, Any]

    @property
    def issuer(self) -> str:
        return self.claims["iss"]

    @property
    def authorized_party(self) -> str | None:
        azp = self.claims.get("azp")
        return azp if isinstance(azp, str) else None

    @property
    def audience(self) -> tuple[str, ...]:
        aud = self.claims.get("aud")
        return (aud,) if isinstance(aud, str) else tuple(a for a in aud or () if isinstance(a, str))

    @property
    def scope(self) -> frozenset[str]:
        scope = self.claims.get("scope")
        return frozenset(scope.split()) if isinstance(scope, str) else frozenset()

    def client_roles(self, client: str) -> frozenset[str]:
        """Roles of a client (`resource_access.<client>.roles`)."""
        access = self.claims.get("resource_access")
        client_access = access.get(client) if isinstance(access, dict) else None
        roles = client_access.get("roles") if isinstance(client_access, dict) else None
        return frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()

    def has_role(self, role: str, client: str | None = None) -> bool:
        return role in (self.realm_roles if client is None else self.client_roles(client))

    @property
    def name(self) -> str:
        return str(self.claims.get("name") or self.claims.get("preferred_username") or self.subject)


_new_access_token = functools.partial(tuple.__new__, AccessToken)  # skips NamedTuple's Python-level __new__
_NUMBER = (int, float)


def _realm_roles(claims: Mapping[str, Any]) -> frozenset[str]:
    realm = claims.get("realm_access")
    if realm is None:
        return frozenset()
    try:
        return frozenset(realm.get("roles", ()))
    except (AttributeError, TypeError) as exc:
        raise MalformedToken("realm_access is not {roles: [...]}") from exc


class SignedTokenDecoder:
    """The JWS part shared by access, ID and logout tokens: shape, algorithm allow-list, key, signature."""

    def __init__(self, keys: JwksCache, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> None:
        self.keys = keys
        self.algorithms = frozenset(algorithms) & frozenset(keys.algorithms)
        self._headers: dict[bytes, tuple[str, str, str | None]] = {}  # Keycloak reuses a handful of headers

    def _header(self, segment: bytes) -> tuple[str, str, str | None]:
        known = self._headers.get(segment)
        if known is not None:
            return known
        header = _json_object(b64url_decode(segment), "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AlgorithmNotAllowed(f"alg {str(alg)[:20]!r} is not allowed")
        if "crit" in header:
            raise MalformedToken("critical header parameters are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise MalformedToken("header has no kid")
        typ = header.get("typ")
        parsed = (alg, kid, typ.lower() if isinstance(typ, str) else None)
        if len(self._headers) < 64:
            self._headers[segment] = parsed
        return parsed

    def decode(self, token: str) -> tuple[str | None, dict[str, Any]]:
        """(header typ, claims) of a token whose signature checked out; raises a `TokenError` otherwise."""
        # One straight path of C calls: this runs on every first sight of a token, next to a ~16 µs RSA check.
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise MalformedToken("not a compact JWS")
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError as exc:
            raise MalformedToken("not a compact JWS") from exc
        signing_input, dot, signature_segment = raw.rpartition(b".")
        header_segment, dot2, payload_segment = signing_input.partition(b".")
        if not dot or not dot2 or b"." in payload_segment:
            raise MalformedToken("not a compact JWS")
        alg, kid, typ = self._headers.get(header_segment) or self._header(header_segment)
        check = self.keys.key(kid).checks.get(alg)
        if check is None:
            raise AlgorithmNotAllowed(f"key {kid[:64]!r} is not for {alg}")
        if signature_segment.translate(None, _BASE64URL_ALPHABET) or len(signature_segment) % 4 == 1:
            raise MalformedToken("signature is not base64url")
        try:
            check(_b64url(signature_segment), signing_input)
            claims = _json_loads(_b64url(payload_segment))
        except InvalidSignature as exc:
            raise BadSignature("signature does not verify") from exc
        except (binascii.Error, ValueError) as exc:
            raise MalformedToken("payload is not base64url JSON") from exc
        if not isinstance(claims, dict):
            raise MalformedToken("payload is not a JSON object")
        return typ, claims


def check_times(claims: Mapping[str, Any], now: float, leeway: int, require_exp: bool = True) -> None:
    exp = claims.get("exp")
    if exp is None:
        if require_exp:
            raise MissingClaim("no exp")
    elif not isinstance(exp, _NUMBER):
        raise MalformedToken("exp is not a number")
    elif now > exp + leeway:
        raise TokenExpired("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, _NUMBER) or now + leeway < nbf):
        raise TokenNotYetValid("token not valid yet (nbf)")
    iat = claims.get("iat")
    if not isinstance(iat, _NUMBER):
        raise MissingClaim("no iat")
    if now + leeway < iat:
        raise TokenNotYetValid("token issued in the future (iat)")


def check_issuer_audience(claims: Mapping[str, Any], issuer: str, audiences: frozenset[str],
                          accept_azp: bool) -> None:
    """`iss` is exactly ours; `aud` (a string or a list) names one of our audiences, or else `azp` does."""
    if claims.get("iss") != issuer:
        raise WrongIssuer("token from another issuer")
    aud = claims.get("aud")
    if isinstance(aud, str):
        matched = aud in audiences
    elif isinstance(aud, list):
        matched = any(isinstance(a, str) and a in audiences for a in aud)
    else:
        matched = False
    if not matched:
        azp = claims.get("azp")
        if not (accept_azp and isinstance(azp, str) and azp in audiences):
            raise WrongAudience("token is not for this audience")


class TokenVerifier:
    """Verifies access tokens offline against the cached JWKS. A token seen before comes from a bounded cache, where
    expiry, logout and the caller's requirement are still checked on every call."""

    def __init__(
        self, issuer: str, audience: str | Iterable[str], keys: JwksCache, *,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS, leeway: int = DEFAULT_LEEWAY, token_type: str = "Bearer",
        accept_azp: bool = True, sessions: LoggedOutSessions | None = None,
        acr_levels: Mapping[str, int] = ACR_LEVELS, cache_size: int = 10_000, clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audiences = frozenset([audience] if isinstance(audience, str) else audience)
        self.decoder = SignedTokenDecoder(keys, algorithms)
        self.leeway = leeway
        self.token_type = token_type
        self.accept_azp = accept_azp
        self.sessions = sessions
        self.acr_levels = dict(acr_levels)
        self.cache_size = cache_size
        self.clock = clock
        self._cache: dict[str, AccessToken] = {}
        keys.on_keys_removed(self._cache.clear)

    @classmethod
    def from_issuer(cls, issuer: str, audience: str | Iterable[str], *, refetch_interval: float = 30.0,
                    algorithms: Iterable[str] = DEFAULT_ALGORITHMS, **options: Any) -> TokenVerifier:
        """A verifier whose JWKS location comes from the issuer's discovery document."""
        document = discover(issuer)
        keys = JwksCache(str(document["jwks_uri"]), algorithms=algorithms, refetch_interval=refetch_interval,
                         fetch=http_json)
        return cls(issuer, audience, keys, algorithms=algorithms, **options)

    @property
    def keys(self) -> JwksCache:
        return self.decoder.keys

    def verify_token(self, token: str, requirement: Requirement = ANY) -> AccessToken:
        """The token's verified claims, or a `TokenError` saying why not (signature, time, issuer, audience, type,
        logout, then the requirement: `InsufficientAuthentication` for acr/auth_time, `InsufficientRole`)."""
        now = self.clock()
        access = self._cache.get(token)
        if access is None:
            access = self._first_sight(token, now)
        elif now > access.expires_at + self.leeway:
            self._cache.pop(token, None)
            raise TokenExpired("token expired")
        if self.sessions is not None and self.sessions.has_ended(access):
            raise SessionEnded("the session of this token was logged out")
        if requirement is not ANY:
            self.check_requirement(access, requirement, now)
        return access

    def _first_sight(self, token: str, now: float) -> AccessToken:
        typ, claims = self.decoder.decode(token)
        if typ is not None and typ not in _ACCESS_TOKEN_TYPES:
            raise WrongTokenType(f"header typ {typ[:20]!r} is not an access token")
        if claims.get("typ", self.token_type) != self.token_type:
            raise WrongTokenType(f"typ {str(claims.get('typ'))[:20]!r} is not {self.token_type!r}")
        check_times(claims, now, self.leeway)
        check_issuer_audience(claims, self.issuer, self.audiences, self.accept_azp)
        subject, sid, acr, auth_time = claims.get("sub"), claims.get("sid"), claims.get("acr"), claims.get("auth_time")
        if not isinstance(subject, str):
            raise MissingClaim("no sub")
        access = _new_access_token((
            subject, sid if isinstance(sid, str) else None, acr if isinstance(acr, str) else None,
            int(auth_time) if isinstance(auth_time, _NUMBER) else None, int(claims["iat"]),
            int(claims["exp"]), _realm_roles(claims), MappingProxyType(claims),
        ))
        if self.cache_size:
            cache = self._cache
            if len(cache) >= self.cache_size:
                try:  # drop the oldest entry; a dict keeps insertion order
                    del cache[next(iter(cache))]
                except (StopIteration, KeyError, RuntimeError):
                    pass
            cache[token] = access
        return access

    def check_requirement(self, access: AccessToken, requirement: Requirement, now: float | None = None) -> None:
        if requirement.acr is not None:
            wanted = self.acr_levels.get(requirement.acr)
            if wanted is None:
                raise ValueError(f"unknown acr {requirement.acr!r}; known: {', '.join(self.acr_levels)}")
            if self.acr_levels.get(access.acr or "", 0) < wanted:
                raise InsufficientAuthentication(
                    f"acr {access.acr!r} is below {requirement.acr!r}", acr_values=requirement.acr,
                    max_age=requirement.max_age)
        if requirement.max_age is not None:
            now = self.clock() if now is None else now
            if access.auth_time is None or now - access.auth_time > requirement.max_age + self.leeway:
                raise InsufficientAuthentication(
                    f"authentication older than {requirement.max_age} s", acr_values=requirement.acr,
                    max_age=requirement.max_age)
        if requirement.roles and not requirement.roles <= access.realm_roles:
            missing = ", ".join(sorted(requirement.roles - access.realm_roles))
            raise InsufficientRole(f"missing role(s): {missing}")


class IdTokenVerifier:
    """ID tokens for the app's own login callback: signature, issuer, audience = the client, nonce, times."""

    def __init__(self, issuer: str, client_id: str, keys: JwksCache, *, algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
                 leeway: int = DEFAULT_LEEWAY, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.decoder = SignedTokenDecoder(keys, algorithms)
        self.leeway = leeway
        self.clock = clock

    def verify(self, token: str, nonce: str) -> Mapping[str, Any]:
        _, claims = self.decoder.decode(token)
        if claims.get("typ", "ID") != "ID":
            raise WrongTokenType("not an ID token")
        check_times(claims, self.clock(), self.leeway)
        check_issuer_audience(claims, self.issuer, frozenset([self.client_id]), accept_azp=False)
        if claims.get("nonce") != nonce:
            raise WrongNonce("nonce does not match this login")
        return MappingProxyType(claims)


__all__ = [
    "ANY", "AccessToken", "IdTokenVerifier", "Requirement", "SignedTokenDecoder", "TokenError", "TokenVerifier",
    "b64url_decode",
]
