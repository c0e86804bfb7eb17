"""File key backend: encrypted PKCS#8 files in the data directory, named `file:NAME`."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ca.keys import KeyNotFound, KeySpec, SignatureScheme, UnsupportedKey
from egov.settings import Settings

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class FileKey:
    def __init__(self, uri: str, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self.uri = uri
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"FileKey({self.uri!r})"

    def public_key(self) -> PublicKeyTypes:
        return self._private_key.public_key()

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        prehashed = Prehashed(scheme.hash_algorithm)
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(digest, scheme.rsa_padding(), prehashed)
        return self._private_key.sign(digest, ec.ECDSA(prehashed))

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(data, scheme.rsa_padding(), scheme.hash_algorithm)
        return self._private_key.sign(data, ec.ECDSA(scheme.hash_algorithm))


class FileKeyBackend:
    """Keys as PKCS#8 files encrypted with the settings' passphrase (PBES2/AES-256), mode 0600.

    Loaded keys are kept for the life of the process: decrypting is deliberately slow (PBKDF2).
    """

    name = "file"
    _cache: dict[tuple[Path, str], FileKey] = {}
    _lock = threading.Lock()

    def __init__(self, directory: Path, passphrase: bytes) -> None:
        self.directory = directory
        self._passphrase = passphrase

    @classmethod
    def for_settings(cls, settings: Settings) -> FileKeyBackend:
        return cls(settings.keys_dir, settings.file_key_passphrase())

    def _path(self, uri: str) -> Path:
        if not uri.startswith("file:"):
            raise UnsupportedKey(f"not a file key URI: {uri!r}")
        name = uri[len("file:") :]
        if not _NAME.match(name):
            raise UnsupportedKey(f"bad file key name in {uri!r}")
        return self.directory / f"{name}.p8"

    def generate(self, label: str, spec: KeySpec) -> FileKey:
        uri = f"file:{label}"
        path = self._path(uri)
        if spec.kind == "rsa":
            private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(65537, spec.size)
        else:
            private_key = ec.generate_private_key(spec.curve)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a key
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        key = FileKey(uri, private_key)
        with self._lock:
            self._cache[(self.directory, uri)] = key
        return key

    def load(self, uri: str) -> FileKey:
        with self._lock:
            cached = self._cache.get((self.directory, uri))
        if cached is not None:
            return cached
        path = self._path(uri)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(f"no key at {uri}") from None
        try:
            private_key = serialization.load_pem_private_key(data, self._passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyNotFound(f"cannot decrypt {uri}: wrong passphrase or damaged file") from exc
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKey(f"{uri} holds an unsupported key type")
        key = FileKey(uri, private_key)
        with self._lock:
            self._cache[(self.directory, uri)] = key
        return key

    def delete(self, uri: str) -> None:
        with self._lock:
            self._cache.pop((self.directory, uri), None)
        self._path(uri).unlink(missing_ok=True)
