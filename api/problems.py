"""RFC 9457 problem+json answers for every error outside a protocol's own error format; never a stack trace."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from egov.errors import Refusal

PROBLEM_BASE = "https://egov-trust.example/problems/"
log = logging.getLogger(__name__)


def problem(status: int, code: str, title: str, detail: str | None = None) -> Response:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "http-error").lower().replace(" ", "-")


def init_app(app: Flask) -> None:
    """Turn CA refusals, HTTP errors and anything unexpected into problem+json."""

    @app.errorhandler(Refusal)
    def _refusal(exc: Refusal) -> Response:
        return problem(exc.status, exc.code, exc.english, f"{exc.vietnamese} / {exc.english}")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = problem(exc.code or 500, _http_code(exc), exc.name, exc.description)
        if exc.code == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal-error", "Internal Server Error", "Lỗi nội bộ / internal error")
