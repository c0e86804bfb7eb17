"""Why a token was refused: one exception type per reason, each with a stable code and its RFC 6750/9470 answer."""

from __future__ import annotations


class TokenError(Exception):
    """A token was refused. `reason` is stable (logs, metrics, tests); the message never contains the token."""

    reason = "invalid_token"
    error = "invalid_token"  # the RFC 6750 error code in WWW-Authenticate
    status = 401

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def __str__(self) -> str:
        return f"{self.reason}: {self.description}"


class MalformedToken(TokenError):
    reason = "malformed"


class AlgorithmNotAllowed(TokenError):
    reason = "algorithm_not_allowed"


class UnknownKey(TokenError):
    reason = "unknown_kid"


class BadSignature(TokenError):
    reason = "bad_signature"


class TokenExpired(TokenError):
    reason = "expired"


class TokenNotYetValid(TokenError):
    reason = "not_yet_valid"


class WrongIssuer(TokenError):
    reason = "wrong_issuer"


class WrongAudience(TokenError):
    reason = "wrong_audience"


class WrongTokenType(TokenError):
    reason = "wrong_type"


class MissingClaim(TokenError):
    reason = "missing_claim"


class SessionEnded(TokenError):
    """The token's session (`sid`) or user (`sub`) was logged out; the token may still look valid otherwise."""

    reason = "session_ended"


class ReplayedToken(TokenError):
    """A logout token's `jti` was seen before."""

    reason = "replayed"


class WrongNonce(TokenError):
    reason = "wrong_nonce"


class InsufficientAuthentication(TokenError):
    """Valid token, but not strong or recent enough (RFC 9470): the client must step up and come back."""

    reason = "insufficient_user_authentication"
    error = "insufficient_user_authentication"

    def __init__(self, description: str, acr_values: str | None = None, max_age: int | None = None) -> None:
        super().__init__(description)
        self.acr_values = acr_values
        self.max_age = max_age


class InsufficientRole(TokenError):
    """Valid token, but the user lacks a required role (RFC 6750 insufficient_scope, 403)."""

    reason = "insufficient_role"
    error = "insufficient_scope"
    status = 403


class KeySetUnavailable(TokenError):
    """The JWKS could not be fetched; the token is not judged (503 rather than 401)."""

    reason = "jwks_unavailable"
    error = "temporarily_unavailable"
    status = 503
