"""Signing X.509 structures with a key that stays in its backend.

`cryptography`'s builders only sign with an in-memory private key. We let the builder encode the
to-be-signed structure with a throwaway stand-in key of the same family (which fixes the exact
signatureAlgorithm identifier), then sign those TBS bytes with the real key through its backend and put the
outer SEQUENCE back together. The stand-in's signature is discarded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ca.keys import SignatureScheme, SigningKey, UnsupportedKey

_stand_ins: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {}
_lock = threading.Lock()


def _stand_in(key: SigningKey) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    public = key.public_key()
    family = "rsa" if isinstance(public, rsa.RSAPublicKey) else "ec"
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedKey(f"cannot sign with a {type(public).__name__}")
    with _lock:
        if family not in _stand_ins:
            _stand_ins[family] = (
                rsa.generate_private_key(65537, 2048) if family == "rsa" else ec.generate_private_key(ec.SECP256R1())
            )
        return _stand_ins[family]


def _reassemble(provisional_der: bytes, tbs: bytes, key: SigningKey, scheme: SignatureScheme) -> bytes:
    outer = core.Sequence.load(provisional_der)
    algorithm = outer[1].dump()
    signature = core.OctetBitString(key.sign(tbs, scheme)).dump()
    return _sequence(tbs + algorithm + signature)


def _sequence(body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        header = bytes([0x30, length])
    else:
        encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x30, 0x80 | len(encoded)]) + encoded
    return header + body


def _padding_args(key: SigningKey, scheme: SignatureScheme) -> dict[str, object]:
    if isinstance(key.public_key(), rsa.RSAPublicKey) and scheme.pss:
        return {"rsa_padding": scheme.rsa_padding()}
    return {}


def sign_certificate(builder: x509.CertificateBuilder, key: SigningKey, scheme: SignatureScheme) -> x509.Certificate:
    provisional = builder.sign(_stand_in(key), scheme.hash_algorithm, **_padding_args(key, scheme))
    der = _reassemble(provisional.public_bytes(Encoding.DER), provisional.tbs_certificate_bytes, key, scheme)
    return x509.load_der_x509_certificate(der)


def sign_crl(
    builder: x509.CertificateRevocationListBuilder,
    key: SigningKey,
    scheme: SignatureScheme,
    edit_tbs: Callable[[bytes], bytes] | None = None,
) -> x509.CertificateRevocationList:
    """Sign the builder's CRL; `edit_tbs` may rewrite the to-be-signed bytes first (ca.crl adds its entries so)."""
    provisional = builder.sign(_stand_in(key), scheme.hash_algorithm, **_padding_args(key, scheme))
    tbs = provisional.tbs_certlist_bytes
    if edit_tbs is not None:
        tbs = edit_tbs(tbs)
    der = _reassemble(provisional.public_bytes(Encoding.DER), tbs, key, scheme)
    return x509.load_der_x509_crl(der)


def signature_algorithm_der(key: SigningKey, scheme: SignatureScheme) -> bytes:
    """The DER AlgorithmIdentifier this key and scheme produce (for structures we build with asn1crypto)."""
    from asn1crypto import algos

    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return algos.SignedDigestAlgorithm({"algorithm": f"{scheme.hash_name}_ecdsa"}).dump()
    if scheme.pss:
        size = scheme.hash_algorithm.digest_size
        return algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": scheme.hash_name},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": scheme.hash_name}},
                    "salt_length": size,
                },
            }
        ).dump()
    return algos.SignedDigestAlgorithm({"algorithm": f"{scheme.hash_name}_rsa"}).dump()
