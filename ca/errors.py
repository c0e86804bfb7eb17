"""Typed CA errors, each with a stable problem type and a message in Vietnamese with English beside it."""

from __future__ import annotations

from egov.errors import Refusal


class CAError(Refusal):
    """Base for every refusal of the CA."""

    code = "ca-error"


class InvalidRequest(CAError):
    code = "invalid-request"


class InvalidCSR(InvalidRequest):
    code = "invalid-csr"


class WeakKey(InvalidRequest):
    code = "weak-key"


class UnknownProfile(InvalidRequest):
    code = "unknown-profile"


class InvalidSubject(InvalidRequest):
    code = "invalid-subject"


class NotFound(CAError):
    code = "not-found"
    status = 404


class StatusConflict(CAError):
    code = "status-conflict"
    status = 409


class NotInitialized(CAError):
    code = "ca-not-initialized"
    status = 409
