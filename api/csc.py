"""CSC API v1.0.4 over HTTP (`/csc/v1/…`) and the auditor's listing of remote signatures: parse, call the
remote-signing service, render JSON or CSC error JSON (with RFC 6750 / RFC 9470 challenges)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.settings import Settings
from idp.errors import TokenError
from idp.jwks import JwksCache
from idp.realm import API_CLIENT, EGOV_REALM
from idp.tokens import Requirement, TokenVerifier
from idp.web import bearer_token, challenge
from signing.remote.directory import KeycloakDirectory
from signing.remote.errors import CscError, InvalidRequest
from signing.remote.service import Caller, RemoteSigningService

EXTENSION = "egov.csc"
blueprint = Blueprint("csc", __name__)
AUDITOR = Requirement.of(roles=["auditor"])


def csc_json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def refusal(error: CscError | TokenError) -> Response:
    if isinstance(error, TokenError):
        headers = {"WWW-Authenticate": challenge(error)} if error.status in (401, 403) else {}
        return csc_json({"error": error.error, "error_description": error.description}, error.status, headers)
    return csc_json(error.body(), error.status)


def remote_signing_service() -> RemoteSigningService:
    return current_app.extensions[EXTENSION]["service"]


def caller_of_request() -> Caller:
    verifier: TokenVerifier = current_app.extensions[EXTENSION]["verifier"]
    try:
        token = verifier.verify_token(bearer_token(request.headers.get("Authorization")))
    except TokenError as error:
        return Caller(None, request.remote_addr, error)
    return Caller(token, request.remote_addr)


def _body() -> dict[str, Any] | None:
    """The JSON object sent, `{}` for an empty body, None for anything else (the service refuses it after the
    token check, so a bad token is always answered as such)."""
    body = request.get_json(silent=True, force=True) if request.content_length else {}
    return body if isinstance(body, dict) else None


def _answer(call: Callable[[Caller, dict[str, Any] | None], object]) -> Response:
    caller = caller_of_request()
    try:
        result = call(caller, _body())
    except (CscError, TokenError) as error:
        return refusal(error)
    return csc_json(result.body() if hasattr(result, "body") else result)


@blueprint.route("/csc/v1/info", methods=["GET", "POST"])
def info() -> Response:
    return csc_json(remote_signing_service().info())


@blueprint.post("/csc/v1/credentials/list")
def credentials_list() -> Response:
    return _answer(remote_signing_service().list_credentials)


@blueprint.post("/csc/v1/credentials/info")
def credentials_info() -> Response:
    return _answer(remote_signing_service().credential_info)


@blueprint.post("/csc/v1/credentials/authorize")
def credentials_authorize() -> Response:
    return _answer(remote_signing_service().authorize)


@blueprint.post("/csc/v1/signatures/signHash")
def signatures_sign_hash() -> Response:
    return _answer(remote_signing_service().sign_hash)


@blueprint.get("/audit/remote-signing")
def remote_signing_audit() -> Response:
    """Authorize and signHash records for auditors (role `auditor`), newest first; `?credential=&limit=&before=`."""
    caller = caller_of_request()
    try:
        verifier: TokenVerifier = current_app.extensions[EXTENSION]["verifier"]
        verifier.check_requirement(caller.require_token(), AUDITOR)
        limit, before = request.args.get("limit", "100"), request.args.get("before")
        if not limit.isdigit() or (before is not None and not before.isdigit()):
            raise InvalidRequest("limit and before must be positive integers")
        records = remote_signing_service().audit_trail(request.args.get("credential"), int(limit),
                                                       int(before) if before else None)
    except (CscError, TokenError) as error:
        return refusal(error)
    return csc_json({"records": records})


def init_app(app: Flask, settings: Settings) -> None:
    """Bind the CSC service and an access-token verifier for audience `egov-api` (JWKS fetched on first use)."""
    issuer = f"{settings.keycloak_url}/realms/{EGOV_REALM}"
    keys = JwksCache(f"{issuer}/protocol/openid-connect/certs")  # the realm's keys, shared by every verifier here
    verifier = TokenVerifier(issuer, API_CLIENT, keys)
    authority = CertificateAuthority(settings, get_database(settings))
    service = RemoteSigningService(settings, authority, KeycloakDirectory.for_settings(settings))
    app.extensions[EXTENSION] = {"service": service, "verifier": verifier, "keys": keys}
    app.register_blueprint(blueprint)
