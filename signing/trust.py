"""Trust anchors for validation: our own root by default, plus any root the operator or user adds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from egov.settings import Settings
from signing.errors import SigningError


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle or a single DER file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"Không đọc được tệp chứng thư {path}", f"cannot read certificate file {path}: {exc}") \
            from exc
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SigningError(f"Tệp {path} không chứa chứng thư hợp lệ", f"{path} holds no valid certificate") from exc


def our_root(settings: Settings) -> list[x509.Certificate]:
    """The platform's root CA certificate, if this installation has initialised its CA."""
    from ca.authority import CertificateAuthority
    from egov.db import get_database

    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []  # nothing initialised here; do not create a database just to verify a file
    try:
        database = get_database(settings)
        record = CertificateAuthority(settings, database).find_role("root")
    except Exception:  # noqa: BLE001 - no database or no CA: a verifier may run without either
        return []
    return [record.certificate] if record is not None else []


def trust_anchors(
    settings: Settings, extra: Iterable[Path] = (), include_ours: bool = True
) -> tuple[x509.Certificate, ...]:
    """Our root (unless excluded), the settings' EGOV_TRUST_ANCHORS, then `extra` files; duplicates dropped."""
    anchors: list[x509.Certificate] = our_root(settings) if include_ours else []
    for path in (*settings.trust_anchors, *extra):
        anchors.extend(read_certificates(Path(path)))
    unique: dict[bytes, x509.Certificate] = {}
    for certificate in anchors:
        unique.setdefault(certificate.fingerprint(hashes.SHA256()), certificate)
    return tuple(unique.values())
