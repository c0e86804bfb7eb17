"""Operations endpoints and cross-cutting HTTP behaviour: /healthz, /readyz, /metrics, security headers,
request metrics and JSON request logs without secrets."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable

import requests
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import text

from egov.db import get_database
from egov.metrics import LATENCY, REQUESTS
from egov.settings import Settings

log = logging.getLogger("egov.http")
blueprint = Blueprint("ops", __name__)

def page_csp(form_action: str = "'self'") -> str:
    """The pages' Content-Security-Policy: only our own scripts and styles, no framing; forms post to `form_action`."""
    return ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
            f"frame-ancestors 'none'; base-uri 'self'; form-action {form_action}")


CSP = page_csp()


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up (liveness): no dependency is consulted."""
    return Response(json.dumps({"status": "ok"}), mimetype="application/json")


def readiness_checks(settings: Settings) -> dict[str, Callable[[], None]]:
    """What must work before this instance takes traffic; each check raises on failure."""

    def database() -> None:
        with get_database(settings).transaction() as session:
            session.execute(text("SELECT 1"))

    def key_backend() -> None:
        from ca.authority import CertificateAuthority

        authority = CertificateAuthority(settings)
        record = authority.find_role("issuing-individuals")
        if record is None:
            raise RuntimeError("the CA is not initialised")
        authority.signing_key(record).public_key()

    def keycloak_jwks() -> None:
        from idp.realm import EGOV_REALM

        answer = requests.get(f"{settings.keycloak_url}/realms/{EGOV_REALM}/protocol/openid-connect/certs", timeout=2)
        answer.raise_for_status()
        if not answer.json().get("keys"):
            raise RuntimeError("the JWKS has no keys")

    return {"database": database, "key_backend": key_backend, "keycloak_jwks": keycloak_jwks}


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready for traffic: database, key backend and the identity provider's JWKS all answer."""
    from flask import current_app

    results: dict[str, str] = {}
    for name, check in current_app.extensions["egov.readiness"].items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes the instance unready; say which
            results[name] = f"fail: {type(exc).__name__}"
    ready = all(value == "ok" for value in results.values())
    body = {"status": "ready" if ready else "unready", "checks": results}
    return Response(json.dumps(body), status=200 if ready else 503, mimetype="application/json")


@blueprint.get("/metrics")
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def security_headers(mimetype: str, tls: bool) -> list[tuple[str, str]]:
    """The headers every answer carries (a view may set its own CSP first): no sniffing, no referrer, no framing,
    a CSP (for pages: only our own scripts and styles), HSTS behind TLS."""
    headers = [
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", CSP if mimetype == "text/html" else "default-src 'none'; frame-ancestors 'none'"),
    ]
    if tls:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def log_request(method: str, path: str, status: int, elapsed: float, remote: str | None) -> None:
    """The JSON request log line: the path only, since query strings and headers carry codes and tokens."""
    if log.isEnabledFor(logging.INFO):
        log.info("request", extra={"http": {"method": method, "path": path, "status": status,
                                            "ms": round(elapsed * 1000, 2), "remote": remote}})


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["egov.readiness"] = readiness_checks(settings)
    app.register_blueprint(blueprint)
    tls = settings.public_base_url.startswith("https://")

    @app.before_request
    def _start_timer() -> None:
        g.egov_started = time.perf_counter()

    @app.after_request
    def _headers_metrics_and_log(response: Response) -> Response:
        for name, value in security_headers(response.mimetype, tls):
            response.headers.setdefault(name, value)
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("egov_started", time.perf_counter())
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        log_request(request.method, request.path, response.status_code, elapsed, request.remote_addr)
        return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields from `extra={"http": …}` are kept, nothing else from the request."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("http", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
