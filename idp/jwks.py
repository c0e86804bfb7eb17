"""The provider's signing keys: discovery, the JWKS fetched once and cached, one rate-limited refetch on a new `kid`."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.utils import base64url_decode

from idp.errors import KeySetUnavailable, UnknownKey

Fetch = Callable[[str], Mapping[str, Any]]
SignatureCheck = Callable[[bytes, bytes], None]  # (signature, signing input); raises InvalidSignature

# Only asymmetric algorithms: a verifier holds public keys, so HMAC ("HS256" keyed with a public key) and "none"
# can never be accepted, whatever a token's header says.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVES = {"P-256": (ec.SECP256R1, "ES256", 32), "P-384": (ec.SECP384R1, "ES384", 48),
           "P-521": (ec.SECP521R1, "ES512", 66)}


def http_json(url: str, timeout: float = 5.0) -> Mapping[str, Any]:
    response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return document


def discover(issuer: str, fetch: Fetch = http_json) -> Mapping[str, Any]:
    """The provider's OpenID configuration; its `issuer` must be exactly the one asked for (OIDC Discovery §4.3)."""
    issuer = issuer.rstrip("/")
    document = fetch(f"{issuer}/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise ValueError(f"discovery document names issuer {document.get('issuer')!r}, expected {issuer!r}")
    return document


def _rsa_check(key: rsa.RSAPublicKey, alg: str) -> SignatureCheck:
    hash_algorithm = _HASHES[alg[2:]]()
    scheme = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(
        mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
    verify = key.verify

    def check(signature: bytes, signing_input: bytes) -> None:
        verify(signature, signing_input, scheme, hash_algorithm)

    return check


def _ec_check(key: ec.EllipticCurvePublicKey, alg: str, size: int) -> SignatureCheck:
    scheme = ec.ECDSA(_HASHES[alg[2:]]())
    verify = key.verify
    from_bytes = int.from_bytes

    def check(signature: bytes, signing_input: bytes) -> None:
        if len(signature) != 2 * size:  # JWS carries R || S (RFC 7518 §3.4), not DER
            raise InvalidSignature("ECDSA signature of the wrong length")
        der = encode_dss_signature(from_bytes(signature[:size], "big"), from_bytes(signature[size:], "big"))
        verify(der, signing_input, scheme)

    return check


@dataclass(frozen=True)
class VerificationKey:
    """One public key from the JWKS with the signature checks it may be used for (bound to its own `alg`)."""

    kid: str
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    checks: Mapping[str, SignatureCheck]


def _b64int(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError("JWK number is not a string")
    return int.from_bytes(base64url_decode(value), "big")


def parse_jwk(jwk: Mapping[str, Any], allowed: Iterable[str]) -> VerificationKey | None:
    """A signing key from one JWK, or None for keys we must not verify with (encryption keys, other types)."""
    kid, kty, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("alg")
    if not isinstance(kid, str) or jwk.get("use", "sig") != "sig":
        return None
    allowed = set(allowed)
    if kty == "RSA":
        public_key = rsa.RSAPublicNumbers(_b64int(jwk.get("e")), _b64int(jwk.get("n"))).public_key()
        if public_key.key_size < 2048:
            return None
        algorithms = [alg] if alg else [a for a in ASYMMETRIC_ALGORITHMS if a[:2] in ("RS", "PS")]
        checks = {a: _rsa_check(public_key, a) for a in algorithms if a in allowed and a[:2] in ("RS", "PS")}
    elif kty == "EC" and jwk.get("crv") in _CURVES:
        curve, curve_alg, size = _CURVES[jwk["crv"]]
        public_key = ec.EllipticCurvePublicNumbers(_b64int(jwk.get("x")), _b64int(jwk.get("y")), curve()).public_key()
        checks = {curve_alg: _ec_check(public_key, curve_alg, size)} if curve_alg in allowed and alg in (
            None, curve_alg) else {}
    else:
        return None
    return VerificationKey(kid, public_key, checks) if checks else None


class JwksCache:
    """The JWKS in memory. A `kid` it does not know triggers one refetch, then none until `refetch_interval` passed,
    so a flood of made-up `kid`s costs one request per interval, while a real key rotation is picked up at once."""

    def __init__(self, jwks_uri: str, *, algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
                 refetch_interval: float = 30.0, fetch: Fetch = http_json) -> None:
        self.jwks_uri = jwks_uri
        self.algorithms = tuple(a for a in algorithms if a in ASYMMETRIC_ALGORITHMS)
        self.refetch_interval = refetch_interval
        self._fetch = fetch
        self._keys: dict[str, VerificationKey] = {}
        self._lock = threading.Lock()
        self._loaded = False
        self._last_refetch = -math.inf
        self._failed_at = -math.inf  # a provider that is down is asked again only after refetch_interval
        self._listeners: list[Callable[[], None]] = []
        self.fetches = 0  # HTTP fetches of the JWKS so far (tests and metrics read it)

    def on_keys_removed(self, listener: Callable[[], None]) -> None:
        """Call `listener` when a refetch drops a key (caches of tokens signed with it must go)."""
        self._listeners.append(listener)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def key(self, kid: str) -> VerificationKey:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)  # another thread may have refetched meanwhile
            if key is not None:
                return key
            now = time.monotonic()
            if now - self._failed_at < self.refetch_interval:
                raise KeySetUnavailable("JWKS unavailable (retry rate-limited)")
            if self._loaded:
                if now - self._last_refetch < self.refetch_interval:
                    raise UnknownKey(f"kid {kid[:64]!r} not in the JWKS (refetch rate-limited)")
                self._last_refetch = now
            self._load()
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKey(f"kid {kid[:64]!r} not in the JWKS")
        return key

    def refresh(self) -> None:
        """Fetch the JWKS now (at start-up, or on a schedule to drop retired keys)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        self.fetches += 1
        try:
            document = self._fetch(self.jwks_uri)
            keys = {}
            for jwk in document.get("keys", []):
                parsed = parse_jwk(jwk, self.algorithms)
                if parsed is not None:
                    keys[parsed.kid] = parsed
        except (requests.RequestException, ValueError, TypeError, AttributeError) as exc:
            self._failed_at = time.monotonic()
            raise KeySetUnavailable(f"JWKS {self.jwks_uri} unavailable: {exc.__class__.__name__}") from exc
        removed = set(self._keys) - set(keys)
        self._keys = keys
        self._loaded = True
        if removed:
            for listener in self._listeners:
                listener()
