"""Certificate profiles: what each kind of certificate may contain, who issues it, and for how long."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from ca.errors import UnknownProfile, WeakKey

# RFC 9336 id-kp-documentSigning.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class KeyUsages:
    digital_signature: bool = False
    content_commitment: bool = False
    key_cert_sign: bool = False
    crl_sign: bool = False

    def extension(self) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=self.digital_signature,
            content_commitment=self.content_commitment,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=self.key_cert_sign,
            crl_sign=self.crl_sign,
            encipher_only=False,
            decipher_only=False,
        )


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    issuer_role: str | None  # the CA role that signs it; None for the self-signed root
    key_usage: KeyUsages
    max_validity: timedelta
    default_validity: timedelta
    subject_kind: str  # "person" | "organization" | "service"
    is_ca: bool = False
    path_length: int | None = None
    extended_key_usage: tuple[ObjectIdentifier, ...] = ()
    eku_critical: bool = False
    ocsp_no_check: bool = False
    # Service certificates (TSA, OCSP) are checked through their issuer's CRL; leaves also get OCSP.
    ocsp_url: bool = True
    crl_distribution_point: bool = True
    allowed_keys: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")


_SIGNING = KeyUsages(digital_signature=True, content_commitment=True)
_CA = KeyUsages(key_cert_sign=True, crl_sign=True, digital_signature=True)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("root", "Root CA / CA gốc", None, _CA, 20 * YEAR, 20 * YEAR, "service", is_ca=True, path_length=1,
                ocsp_url=False, crl_distribution_point=False),
        Profile("issuing-individuals", "Issuing CA for individuals / CA cấp cho cá nhân", "root", _CA, 20 * YEAR,
                10 * YEAR, "service", is_ca=True, path_length=0, ocsp_url=False),
        Profile("issuing-organizations", "Issuing CA for organisations / CA cấp cho tổ chức", "root", _CA,
                20 * YEAR, 10 * YEAR, "service", is_ca=True, path_length=0, ocsp_url=False),
        Profile("official", "Signing certificate of an official / Chứng thư số cá nhân (người có thẩm quyền)",
                "issuing-individuals", _SIGNING, 5 * YEAR, 2 * YEAR, "person",
                extended_key_usage=(DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION)),
        Profile("organization", "Organisation seal certificate / Chứng thư số của cơ quan, tổ chức",
                "issuing-organizations", _SIGNING, 5 * YEAR, 3 * YEAR, "organization",
                extended_key_usage=(DOCUMENT_SIGNING,)),
        Profile("tsa", "Time-stamping authority / Dịch vụ cấp dấu thời gian", "issuing-organizations",
                KeyUsages(digital_signature=True, content_commitment=True), 5 * YEAR, 5 * YEAR, "service",
                extended_key_usage=(ExtendedKeyUsageOID.TIME_STAMPING,), eku_critical=True, ocsp_url=False),
        Profile("ocsp", "Delegated OCSP responder / Máy chủ OCSP được ủy quyền", "", KeyUsages(digital_signature=True),
                YEAR, YEAR, "service", extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,), ocsp_no_check=True,
                ocsp_url=False, crl_distribution_point=False),
    )
}
# Profile names people type, in either language of the docs.
ALIASES = {"organisation": "organization", "person": "official", "seal": "organization"}
SUBSCRIBER_PROFILES = ("official", "organization")


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[ALIASES.get(name, name)]
    except KeyError:
        raise UnknownProfile(
            f"Không có hồ sơ chứng thư {name!r}; dùng một trong: {', '.join(PROFILES)}",
            f"unknown certificate profile {name!r}; use one of {', '.join(PROFILES)}",
        ) from None


def key_spec_name(public_key: PublicKeyTypes) -> str:
    """The policy name of a public key (`rsa-2048`, `ec-p256`, …); refuses what policy does not allow."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise WeakKey(
                f"Khóa RSA {public_key.key_size} bit quá yếu: tối thiểu 2048 bit",
                f"RSA key of {public_key.key_size} bits is too weak: at least 2048 bits",
            )
        if public_key.public_numbers().e != 65537:
            raise WeakKey("Số mũ công khai RSA phải là 65537", "the RSA public exponent must be 65537")
        return f"rsa-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curves = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}
        if public_key.curve.name not in curves:
            raise WeakKey(
                f"Đường cong {public_key.curve.name} không được phép: dùng P-256 hoặc P-384",
                f"curve {public_key.curve.name} is not allowed: use P-256 or P-384",
            )
        return curves[public_key.curve.name]
    raise WeakKey(
        f"Loại khóa {type(public_key).__name__} không được phép", f"key type {type(public_key).__name__} is not allowed"
    )


def check_key(profile: Profile, public_key: PublicKeyTypes) -> str:
    spec = key_spec_name(public_key)
    if spec not in profile.allowed_keys:
        raise WeakKey(
            f"Hồ sơ {profile.name} không cho phép khóa {spec}", f"profile {profile.name} does not allow {spec}"
        )
    return spec
