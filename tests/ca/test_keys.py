"""Key backends: encrypted files and a real SoftHSM2 token, every algorithm, keys that never leave."""

from __future__ import annotations

import hashlib

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ca.keys import KeyNotFound, KeySpec, SignatureScheme, SigningKey, UnsupportedKey, backend_for, load_key
from ca.keys.pkcs11 import parse_pkcs11_uri, pkcs11_uri
from egov.settings import Settings

ALGORITHMS = ["rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384"]
SCHEMES = [SignatureScheme("sha256"), SignatureScheme("sha384"), SignatureScheme("sha256", pss=True)]


def verify(key: SigningKey, signature: bytes, data: bytes, scheme: SignatureScheme) -> None:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, scheme.rsa_padding(), scheme.hash_algorithm)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, data, ec.ECDSA(scheme.hash_algorithm))


@pytest.fixture(scope="module")
def generated_keys(tmp_path_factory: pytest.TempPathFactory, softhsm) -> dict[tuple[str, str], SigningKey]:
    """One key per backend and algorithm (RSA-4096 generation is slow: made once for the module)."""
    settings = Settings.from_env(
        {
            "EGOV_DATA_DIR": str(tmp_path_factory.mktemp("keys")),
            "EGOV_KEY_PASSPHRASE": "module passphrase",
            "EGOV_PKCS11_MODULE": softhsm.module,
            "EGOV_PKCS11_TOKEN": softhsm.label,
            "EGOV_PKCS11_PIN": softhsm.pin,
        }
    )
    keys = {}
    for backend in ("file", "pkcs11"):
        for algorithm in ALGORITHMS:
            label = f"test-keys-{backend}-{algorithm}"
            keys[(backend, algorithm)] = backend_for(settings, backend).generate(label, KeySpec.parse(algorithm))
    return keys


# PSS is an RSA padding: EC keys are tested with the plain schemes only.
COMBINATIONS = [
    (algorithm, scheme)
    for algorithm in ALGORITHMS
    for scheme in SCHEMES
    if not (algorithm.startswith("ec") and scheme.pss)
]


@pytest.mark.parametrize("backend", ["file", pytest.param("pkcs11", marks=pytest.mark.pkcs11)])
@pytest.mark.parametrize(
    ("algorithm", "scheme"), COMBINATIONS, ids=[f"{a}-{'pss-' if s.pss else ''}{s.hash_name}" for a, s in COMBINATIONS]
)
def test_key_signs_and_signature_verifies(generated_keys, backend: str, algorithm: str, scheme: SignatureScheme):
    key = generated_keys[(backend, algorithm)]
    data = "Quyết định số 12/QĐ-UBND — Nguyễn Thị Hồng Đào".encode()
    signature = key.sign(data, scheme)
    verify(key, signature, data, scheme)
    with pytest.raises(InvalidSignature):
        verify(key, signature, data + b".", scheme)


@pytest.mark.parametrize("backend", ["file", pytest.param("pkcs11", marks=pytest.mark.pkcs11)])
@pytest.mark.parametrize("algorithm", ["rsa-2048", "ec-p256"])
def test_sign_digest_matches_a_signature_over_the_data(generated_keys, backend: str, algorithm: str):
    key = generated_keys[(backend, algorithm)]
    scheme = SignatureScheme("sha256")
    data = b"signed attributes"
    signature = key.sign_digest(hashlib.sha256(data).digest(), scheme)
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, hashlib.sha256(data).digest(), scheme.rsa_padding(), Prehashed(scheme.hash_algorithm))
    else:
        public.verify(signature, data, ec.ECDSA(scheme.hash_algorithm))


def test_file_key_is_encrypted_at_rest_and_private_to_its_owner(settings: Settings):
    key = backend_for(settings, "file").generate("at-rest", KeySpec.parse("ec-p256"))
    path = settings.keys_dir / "at-rest.p8"
    pem = path.read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, b"wrong passphrase")
    assert key.uri == "file:at-rest"


def test_file_key_loads_by_uri_in_a_fresh_backend(settings: Settings):
    made = backend_for(settings, "file").generate("reload-me", KeySpec.parse("rsa-2048"))
    from ca.keys.file import FileKeyBackend

    FileKeyBackend._cache.clear()  # as a new process would
    loaded = load_key(settings, made.uri)
    scheme = SignatureScheme("sha256")
    verify(made, loaded.sign(b"x", scheme), b"x", scheme)


def test_wrong_passphrase_cannot_open_a_file_key(settings: Settings, settings_env: dict[str, str]):
    made = backend_for(settings, "file").generate("locked", KeySpec.parse("ec-p256"))
    from ca.keys.file import FileKeyBackend

    FileKeyBackend._cache.clear()
    wrong = Settings.from_env({**settings_env, "EGOV_KEY_PASSPHRASE": "not the passphrase"})
    with pytest.raises(KeyNotFound):
        load_key(wrong, made.uri)


def test_file_backend_refuses_names_that_escape_its_directory(settings: Settings):
    with pytest.raises(UnsupportedKey):
        load_key(settings, "file:../../etc/passwd")


def test_existing_key_is_never_overwritten(settings: Settings):
    backend = backend_for(settings, "file")
    backend.generate("only-once", KeySpec.parse("ec-p256"))
    with pytest.raises(FileExistsError):
        backend.generate("only-once", KeySpec.parse("ec-p256"))


@pytest.mark.pkcs11
def test_pkcs11_private_key_is_sensitive_and_not_extractable(generated_keys):
    key = generated_keys[("pkcs11", "rsa-2048")]
    private = key._private_key  # the token object itself: what an attacker in our process could reach
    assert private[pkcs11.Attribute.SENSITIVE] is True
    assert private[pkcs11.Attribute.EXTRACTABLE] is False
    with pytest.raises(pkcs11.PKCS11Error):
        private[pkcs11.Attribute.PRIVATE_EXPONENT]


def test_pkcs11_uri_round_trips_with_percent_encoding():
    uri = pkcs11_uri("egov token", "khóa;1")
    assert uri == "pkcs11:token=egov%20token;object=kh%C3%B3a%3B1"
    assert parse_pkcs11_uri(uri) == {"token": "egov token", "object": "khóa;1"}


@pytest.mark.parametrize("bad", ["pkcs11:token=x", "pkcs11:object", "file:x"])
def test_malformed_pkcs11_uri_is_refused(bad: str):
    with pytest.raises(UnsupportedKey):
        parse_pkcs11_uri(bad)


def test_unknown_key_algorithm_is_refused():
    with pytest.raises(UnsupportedKey):
        KeySpec.parse("rsa-1024")
