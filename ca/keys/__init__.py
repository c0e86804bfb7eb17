"""Key backends behind one interface; a key is named by a URI (`file:NAME`, `pkcs11:token=…;object=…`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from egov.settings import Settings


class KeyError_(Exception):
    """Base for key backend failures (named with a trailing underscore to keep the builtin KeyError)."""


class KeyNotFound(KeyError_):
    pass


class UnsupportedKey(KeyError_):
    pass


HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class KeySpec:
    """What key to make: `rsa-2048|3072|4096` or `ec-p256|p384`."""

    kind: str  # "rsa" | "ec"
    size: int  # RSA modulus bits, or the curve's bits

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        specs = {
            "rsa-2048": cls("rsa", 2048),
            "rsa-3072": cls("rsa", 3072),
            "rsa-4096": cls("rsa", 4096),
            "ec-p256": cls("ec", 256),
            "ec-p384": cls("ec", 384),
        }
        try:
            return specs[text.lower()]
        except KeyError:
            raise UnsupportedKey(f"unsupported key algorithm {text!r}; use one of {', '.join(specs)}") from None

    @property
    def curve(self) -> ec.EllipticCurve:
        return {256: ec.SECP256R1(), 384: ec.SECP384R1()}[self.size]

    def __str__(self) -> str:
        return f"rsa-{self.size}" if self.kind == "rsa" else f"ec-p{self.size}"


@dataclass(frozen=True)
class SignatureScheme:
    """How to sign: the hash, and for RSA the padding (PKCS#1 v1.5 or PSS with salt = hash length)."""

    hash_name: str = "sha256"
    pss: bool = False
    salt_length: int | None = None  # PSS salt in bytes; None = the hash length (remote clients may ask for more)

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return HASHES[self.hash_name]()

    @property
    def pss_salt_length(self) -> int:
        return self.hash_algorithm.digest_size if self.salt_length is None else self.salt_length

    def digest(self, data: bytes) -> bytes:
        return hashlib.new(self.hash_name, data).digest()

    def rsa_padding(self) -> padding.AsymmetricPadding:
        if self.pss:
            return padding.PSS(mgf=padding.MGF1(self.hash_algorithm), salt_length=self.pss_salt_length)
        return padding.PKCS1v15()

    @classmethod
    def default_for(cls, public_key: PublicKeyTypes, pss: bool = False) -> SignatureScheme:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            return cls("sha384" if public_key.curve.key_size >= 384 else "sha256")
        if isinstance(public_key, rsa.RSAPublicKey):
            return cls("sha256", pss=pss)
        raise UnsupportedKey(f"unsupported public key type {type(public_key).__name__}")


@runtime_checkable
class SigningKey(Protocol):
    """A private key that stays in its backend: it signs, and shows its public half."""

    uri: str

    def public_key(self) -> PublicKeyTypes: ...

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        """Sign a precomputed digest; ECDSA signatures come back DER-encoded."""
        ...

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes: ...


class KeyBackend(Protocol):
    name: str

    def generate(self, label: str, spec: KeySpec) -> SigningKey: ...

    def load(self, uri: str) -> SigningKey: ...

    def delete(self, uri: str) -> None: ...


def backend_for(settings: Settings, name: str | None = None) -> KeyBackend:
    """The backend named (or the settings' default): `file` or `pkcs11`."""
    name = name or settings.key_backend
    if name == "file":
        from ca.keys.file import FileKeyBackend

        return FileKeyBackend.for_settings(settings)
    if name == "pkcs11":
        from ca.keys.pkcs11 import Pkcs11KeyBackend

        return Pkcs11KeyBackend.for_settings(settings)
    raise UnsupportedKey(f"unknown key backend {name!r}; use file or pkcs11")


def load_key(settings: Settings, uri: str) -> SigningKey:
    """Open a key by its URI, whichever backend holds it."""
    scheme = uri.split(":", 1)[0]
    return backend_for(settings, scheme).load(uri)
