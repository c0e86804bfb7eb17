"""Refusals of the remote-signing service as CSC error JSON: an `error` code, a description, an HTTP status."""

from __future__ import annotations


class CscError(Exception):
    """A refusal. `error` and `status` go on the wire; `reason` is stable for the audit trail, tests and metrics."""

    error = "invalid_request"
    status = 400
    reason = "invalid_request"

    def __init__(self, description: str, reason: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if reason is not None:
            self.reason = reason

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(CscError):
    """A missing or malformed parameter: bad base64, wrong hash length, unknown algorithm OID, too many hashes."""


class InvalidCredential(CscError):
    """Unknown credential, or one the caller does not hold (the two look the same from outside)."""

    reason = "invalid_credential"

    def __init__(self, reason: str = "invalid_credential") -> None:
        super().__init__("Invalid parameter credentialID", reason)


class InvalidSad(CscError):
    """The SAD is unknown, expired, used up, for another user or credential, or does not cover these hashes."""

    reason = "invalid_sad"


class CertificateUnusable(CscError):
    """The credential's certificate is revoked, suspended or expired: no signature, at once."""

    reason = "certificate_unusable"


class AccountDisabled(CscError):
    """The holder's account is disabled (or gone) in the identity provider."""

    error = "access_denied"
    status = 403
    reason = "account_disabled"


class DirectoryUnavailable(CscError):
    """The identity provider could not be asked whether the account is enabled; nothing is signed."""

    error = "temporarily_unavailable"
    status = 503
    reason = "directory_unavailable"
