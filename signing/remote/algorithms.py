"""Which signature algorithms (by OID, as CSC names them) a key can serve, and how a signHash request maps onto
our `SignatureScheme`."""

from __future__ import annotations

from asn1crypto import algos
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ca.keys import SignatureScheme
from signing.remote.errors import InvalidRequest

HASH_OIDS = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512"}
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
# signAlgo → (key kind, the hash it implies or None when hashAlgo must say it, PSS)
SIGN_ALGORITHMS: dict[str, tuple[str, str | None, bool]] = {
    "1.2.840.113549.1.1.11": ("rsa", "sha256", False),
    "1.2.840.113549.1.1.12": ("rsa", "sha384", False),
    "1.2.840.113549.1.1.13": ("rsa", "sha512", False),
    RSASSA_PSS: ("rsa", None, True),
    RSA_ENCRYPTION: ("rsa", None, False),
    "1.2.840.10045.4.3.2": ("ec", "sha256", False),
    "1.2.840.10045.4.3.3": ("ec", "sha384", False),
    "1.2.840.10045.4.3.4": ("ec", "sha512", False),
    EC_PUBLIC_KEY: ("ec", None, False),
}
CURVE_OIDS = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34"}


def key_kind(public_key: PublicKeyTypes) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ec"
    raise InvalidRequest("the credential's key type is not supported")


def request_algorithms(public_key: PublicKeyTypes, hash_name: str) -> tuple[str, str]:
    """(hashAlgo, signAlgo) of a signHash request for this key and hash, with the exact PKCS#1 v1.5 or ECDSA
    mechanism: the inverse of `signature_scheme` for requests without signAlgoParams."""
    kind = key_kind(public_key)
    hash_oid = next(oid for oid, name in HASH_OIDS.items() if name == hash_name)
    sign_oid = next(oid for oid, known in SIGN_ALGORITHMS.items() if known == (kind, hash_name, False))
    return hash_oid, sign_oid


def supported_algorithms(public_key: PublicKeyTypes) -> list[str]:
    """`key.algo` of credentials/info: every exact mechanism (pyHanko refuses a list with only rsaEncryption)."""
    kind = key_kind(public_key)
    return [oid for oid, (family, _, _) in SIGN_ALGORITHMS.items() if family == kind]


def key_description(public_key: PublicKeyTypes) -> dict[str, object]:
    """`key` of credentials/info without `status`: algorithms, length in bits, and the curve for EC."""
    description: dict[str, object] = {"algo": supported_algorithms(public_key)}
    if isinstance(public_key, rsa.RSAPublicKey):
        description["len"] = public_key.key_size
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        description["len"] = public_key.curve.key_size
        description["curve"] = CURVE_OIDS.get(public_key.curve.name, public_key.curve.name)
    return description


def _pss_salt(encoded: bytes, hash_name: str, public_key: PublicKeyTypes) -> int:
    """The salt length RSASSA-PSS-params ask for; the hash and MGF1's hash must be the request's hash, and the salt
    must fit the key (pyHanko asks for the largest that fits)."""
    try:
        params = algos.RSASSAPSSParams.load(encoded)
        native = params.native
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("Invalid parameter signAlgoParams") from exc
    mask = native.get("mask_gen_algorithm") or {}
    mgf_hash = (mask.get("parameters") or {}).get("algorithm")
    if native["hash_algorithm"]["algorithm"] != hash_name or mask.get("algorithm") != "mgf1" or mgf_hash != hash_name:
        raise InvalidRequest("Invalid parameter signAlgoParams: the hash and MGF1's hash must be hashAlgo")
    salt = native["salt_length"]
    largest = (public_key.key_size + 7) // 8 - DIGEST_SIZES[hash_name] - 2 if isinstance(
        public_key, rsa.RSAPublicKey) else 0
    if not isinstance(salt, int) or not 0 <= salt <= largest:
        raise InvalidRequest("Invalid parameter signAlgoParams: the salt length does not fit the key")
    return salt


def signature_scheme(public_key: PublicKeyTypes, sign_algo: str, hash_algo: str | None,
                     sign_algo_params: bytes | None) -> SignatureScheme:
    """The scheme for a signHash request, or `InvalidRequest` naming the parameter that does not fit the key."""
    known = SIGN_ALGORITHMS.get(sign_algo)
    if known is None:
        raise InvalidRequest("Invalid parameter signAlgo: unsupported algorithm", "unsupported_algorithm")
    family, implied, pss = known
    if family != key_kind(public_key):
        raise InvalidRequest("Invalid parameter signAlgo: it does not fit the credential's key", "wrong_key_type")
    named = None
    if hash_algo is not None:
        named = HASH_OIDS.get(hash_algo)
        if named is None:
            raise InvalidRequest("Invalid parameter hashAlgo: unsupported hash algorithm", "unsupported_algorithm")
    if implied is not None and named is not None and implied != named:
        raise InvalidRequest("Invalid parameter hashAlgo: it contradicts signAlgo")
    hash_name = implied or named
    if hash_name is None:
        raise InvalidRequest("Missing (or invalid type) string parameter hashAlgo")
    salt = _pss_salt(sign_algo_params, hash_name, public_key) if pss and sign_algo_params is not None else None
    return SignatureScheme(hash_name, pss=pss, salt_length=salt)
