"""PKCS#11 key backend (an HSM; SoftHSM2 in tests): keys named `pkcs11:token=LABEL;object=LABEL` (RFC 7512).

Keys are generated inside the token as non-extractable, sensitive objects; signing happens in the token.
The digest is computed here and the token signs it (RSA: DigestInfo with CKM_RSA_PKCS, or CKM_RSA_PKCS_PSS;
EC: CKM_ECDSA), so one code path serves every hash and tokens without combined mechanisms (SoftHSM has no
CKM_ECDSA_SHA256).
"""

from __future__ import annotations

import threading
from urllib.parse import quote, unquote

import pkcs11
from asn1crypto import algos, core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from ca.keys import KeyError_, KeyNotFound, KeySpec, SignatureScheme, UnsupportedKey
from egov.settings import Settings

_CURVES = {256: "secp256r1", 384: "secp384r1"}
_PSS_MECHANISMS = {
    "sha256": (Mechanism.SHA256, pkcs11.MGF.SHA256, 32),
    "sha384": (Mechanism.SHA384, pkcs11.MGF.SHA384, 48),
    "sha512": (Mechanism.SHA512, pkcs11.MGF.SHA512, 64),
}


def parse_pkcs11_uri(uri: str) -> dict[str, str]:
    """The path attributes of an RFC 7512 URI (`token`, `object`, …), percent-decoded."""
    if not uri.startswith("pkcs11:"):
        raise UnsupportedKey(f"not a PKCS#11 URI: {uri!r}")
    path = uri[len("pkcs11:") :].split("?", 1)[0]
    attributes: dict[str, str] = {}
    for part in filter(None, path.split(";")):
        name, sep, value = part.partition("=")
        if not sep:
            raise UnsupportedKey(f"malformed PKCS#11 URI attribute {part!r}")
        attributes[name] = unquote(value)
    if "object" not in attributes:
        raise UnsupportedKey(f"PKCS#11 URI {uri!r} names no object")
    return attributes


def pkcs11_uri(token: str, label: str) -> str:
    return f"pkcs11:token={quote(token, safe='')};object={quote(label, safe='')}"


class Pkcs11Key:
    def __init__(self, uri: str, backend: Pkcs11KeyBackend, private_key: pkcs11.PrivateKey, public: PublicKeyTypes):
        self.uri = uri
        self._backend = backend
        self._private_key = private_key
        self._public = public
        self._is_rsa = private_key.key_type == KeyType.RSA

    def __repr__(self) -> str:
        return f"Pkcs11Key({self.uri!r})"

    def public_key(self) -> PublicKeyTypes:
        return self._public

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        with self._backend.lock:
            if not self._is_rsa:
                raw = self._private_key.sign(digest, mechanism=Mechanism.ECDSA)
                return encode_ecdsa_signature(raw)
            if scheme.pss:
                return self._private_key.sign(
                    digest, mechanism=Mechanism.RSA_PKCS_PSS,
                    mechanism_param=(*_PSS_MECHANISMS[scheme.hash_name][:2], scheme.pss_salt_length),
                )
            digest_info = algos.DigestInfo(
                {"digest_algorithm": {"algorithm": scheme.hash_name, "parameters": core.Null()}, "digest": digest}
            ).dump()
            return self._private_key.sign(digest_info, mechanism=Mechanism.RSA_PKCS)

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        return self.sign_digest(scheme.digest(data), scheme)


class Pkcs11KeyBackend:
    """One logged-in session per (module, token) for the life of the process, used under a lock."""

    name = "pkcs11"
    _sessions: dict[tuple[str, str], Pkcs11KeyBackend] = {}
    _registry_lock = threading.Lock()

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        if not pin:
            raise KeyError_("EGOV_PKCS11_PIN is not set: the PKCS#11 backend needs the token's user PIN")
        self.module = module
        self.token_label = token_label
        self.lock = threading.RLock()
        try:
            library = pkcs11.lib(module)
            token = library.get_token(token_label=token_label)
            self._session = token.open(user_pin=pin, rw=True)
        except (pkcs11.NoSuchToken, pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            # The exception text never carries the PIN; name the token so the operator can act.
            raise KeyError_(f"cannot open PKCS#11 token {token_label!r} via {module}: {type(exc).__name__}") from exc
        self._keys: dict[str, Pkcs11Key] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> Pkcs11KeyBackend:
        key = (settings.pkcs11_module, settings.pkcs11_token)
        with cls._registry_lock:
            backend = cls._sessions.get(key)
            if backend is None:
                backend = cls(settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin)
                cls._sessions[key] = backend
            return backend

    def _label_of(self, uri: str) -> str:
        attributes = parse_pkcs11_uri(uri)
        if attributes.get("token", self.token_label) != self.token_label:
            raise KeyNotFound(f"{uri} is on token {attributes['token']!r}, not {self.token_label!r}")
        return attributes["object"]

    def generate(self, label: str, spec: KeySpec) -> Pkcs11Key:
        uri = pkcs11_uri(self.token_label, label)
        template = {Attribute.TOKEN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
        with self.lock:
            if self._find_private(label) is not None:
                raise KeyError_(f"a key named {label!r} already exists on token {self.token_label!r}")
            if spec.kind == "rsa":
                self._session.generate_keypair(
                    KeyType.RSA, spec.size, label=label, id=label.encode(), store=True,
                    private_template=template,
                )
            else:
                parameters = self._session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVES[spec.size])},
                    local=True,
                )
                parameters.generate_keypair(label=label, id=label.encode(), store=True, private_template=template)
        return self.load(uri)

    def _find_private(self, label: str) -> pkcs11.PrivateKey | None:
        found = list(self._session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
        return found[0] if found else None

    def load(self, uri: str) -> Pkcs11Key:
        with self.lock:
            cached = self._keys.get(uri)
            if cached is not None:
                return cached
            label = self._label_of(uri)
            private_key = self._find_private(label)
            if private_key is None:
                raise KeyNotFound(f"no private key {label!r} on token {self.token_label!r}")
            public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
            if public.key_type == KeyType.RSA:
                public_key = serialization.load_der_public_key(
                    _rsa_spki(encode_rsa_public_key(public))
                )
            else:
                public_key = serialization.load_der_public_key(encode_ec_public_key(public))
            key = Pkcs11Key(uri, self, private_key, public_key)
            self._keys[uri] = key
            return key

    def delete(self, uri: str) -> None:
        with self.lock:
            self._keys.pop(uri, None)
            label = self._label_of(uri)
            for obj in list(self._session.get_objects({Attribute.LABEL: label})):
                obj.destroy()


def _rsa_spki(pkcs1_der: bytes) -> bytes:
    from asn1crypto import keys

    return keys.PublicKeyInfo.wrap(keys.RSAPublicKey.load(pkcs1_der), "rsa").dump()
