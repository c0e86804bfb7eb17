"""Bearer tokens over HTTP: RFC 6750 / RFC 9470 challenges, the Flask decorator `require_token`, a WSGI middleware."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from idp.errors import InsufficientAuthentication, MalformedToken, TokenError
from idp.tokens import ANY, AccessToken, Requirement, TokenVerifier

EXTENSION = "egov.idp.verifier"
ENVIRON_KEY = "egov.access_token"
PROBLEM_BASE = "https://egov-trust.example/problems/"
F = TypeVar("F", bound=Callable[..., Any])


class MissingToken(TokenError):
    """No bearer token at all: RFC 6750 §3.1 says answer without an error code."""

    reason = "missing_token"


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise MissingToken("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise MalformedToken("Authorization is not 'Bearer <token>'")
    return token


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(error: TokenError, realm: str = "egov") -> str:
    """The WWW-Authenticate value for a refusal (RFC 6750 §3; RFC 9470 §3 for a step-up)."""
    parts = [f"realm={_quoted(realm)}"]
    if not isinstance(error, MissingToken):
        parts.append(f"error={_quoted(error.error)}")
        parts.append(f"error_description={_quoted(error.description)}")
    if isinstance(error, InsufficientAuthentication):
        if error.acr_values:
            parts.append(f"acr_values={_quoted(error.acr_values)}")
        if error.max_age is not None:
            parts.append(f"max_age={_quoted(str(error.max_age))}")
    return "Bearer " + ", ".join(parts)


_VIETNAMESE = {
    "missing_token": "Cần đăng nhập",
    "insufficient_user_authentication": "Cần xác thực mạnh hơn (OTP)",
    "insufficient_role": "Không đủ quyền",
    "session_ended": "Phiên đăng nhập đã kết thúc",
    "expired": "Mã truy cập đã hết hạn",
    "jwks_unavailable": "Tạm thời không kiểm tra được mã truy cập",
}


def problem(error: TokenError, realm: str = "egov") -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an RFC 9457 problem+json refusal with its challenge; never echoes the token."""
    body = {
        "type": PROBLEM_BASE + error.reason,
        "title": f"{_VIETNAMESE.get(error.reason, 'Mã truy cập không hợp lệ')} / {error.reason.replace('_', ' ')}",
        "status": error.status, "detail": error.description, "reason": error.reason,
    }
    if isinstance(error, InsufficientAuthentication):
        body["acr_values"] = error.acr_values
    headers = [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")]
    if error.status in (401, 403):
        headers.append(("WWW-Authenticate", challenge(error, realm)))
    return error.status, headers, json.dumps(body, ensure_ascii=False).encode()


def init_token_verification(app: Flask, verifier: TokenVerifier) -> None:
    """Bind the verifier that `require_token` uses in this app."""
    app.extensions[EXTENSION] = verifier


def require_token(roles: Iterable[str] = (), acr: str | None = None, max_age: int | None = None) -> Callable[[F], F]:
    """Refuse the request unless it carries a valid bearer token meeting the requirement; the verified token is in
    `flask.g.access_token`. Refusals are problem+json with RFC 6750 / RFC 9470 challenges."""
    requirement = Requirement.of(roles, acr, max_age) if (roles or acr or max_age is not None) else ANY

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            verifier: TokenVerifier = current_app.extensions[EXTENSION]
            try:
                g.access_token = verifier.verify_token(bearer_token(request.headers.get("Authorization")),
                                                       requirement)
            except TokenError as error:
                status, headers, body = problem(error)
                return Response(body, status=status, headers=headers)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def current_token() -> AccessToken:
    return g.access_token


class BearerTokenMiddleware:
    """Plain WSGI: every request under `prefix` needs a valid token (in `environ["egov.access_token"]` after)."""

    def __init__(self, app: Callable[..., Any], verifier: TokenVerifier, requirement: Requirement = ANY,
                 prefix: str = "/", realm: str = "egov") -> None:
        self.app = app
        self.verifier = verifier
        self.requirement = requirement
        self.prefix = prefix
        self.realm = realm

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "/").startswith(self.prefix):
            return self.app(environ, start_response)
        try:
            environ[ENVIRON_KEY] = self.verifier.verify_token(bearer_token(environ.get("HTTP_AUTHORIZATION")),
                                                              self.requirement)
        except TokenError as error:
            status, headers, body = problem(error, self.realm)
            reason = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}.get(status, "Error")
            start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)
