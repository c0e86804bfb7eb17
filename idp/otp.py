"""TOTP (RFC 6238) as Keycloak computes it: HMAC over the raw secret bytes, shared with apps as base32."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def base32_secret(raw: str) -> str:
    """The secret an authenticator app (or pyotp) takes for a Keycloak OTP credential whose value is `raw`."""
    return base64.b32encode(raw.encode()).decode().rstrip("=")


def totp(secret_b32: str, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """The TOTP code for `secret_b32` at time `at` (now by default), HMAC-SHA1 as Keycloak's default policy."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def otpauth_uri(secret_b32: str, account: str, issuer: str = "egov-trust") -> str:
    """What a QR code for an authenticator app carries."""
    return f"otpauth://totp/{issuer}:{account}?secret={secret_b32}&issuer={issuer}&algorithm=SHA1&digits=6&period=30"
