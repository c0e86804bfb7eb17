"""Public PKI endpoints over plain HTTP: CRLs, the OCSP responder, the RFC 3161 TSA and the CA certificates.

Thin views: each parses the request, calls one function in `ca`, and renders the answer. The protocol endpoints
answer in their protocol (OCSP error statuses, TSA rejections); only oversized bodies get a 413 problem. POST /ocsp,
the hot path, is answered by a small WSGI wrapper in front of Flask (`OcspPostFastPath`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cached_property

from flask import Blueprint, Flask, Response, abort, current_app, request

from api.ops import log_request, security_headers
from ca.authority import CertificateAuthority
from ca.crl import CrlPublisher, role_for_slug
from ca.ocsp import OcspAnswer, OcspResponder, error_answer
from ca.tsa import TimeStampAuthority
from egov.db import get_database
from egov.metrics import LATENCY, REQUESTS
from egov.settings import Settings

# OCSP and timestamp requests are a few hundred bytes; anything past this is refused before it is parsed.
PROTOCOL_MAX_BYTES = 64 * 1024
CRL_MAX_AGE = 60  # seconds HTTP caches may keep a CRL: a status change shows within a minute

blueprint = Blueprint("pki", __name__)


class PublicPki:
    """The CA's public services of one process, built on first use (the database may not exist at start-up)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()

    @cached_property
    def authority(self) -> CertificateAuthority:
        with self._lock:
            return CertificateAuthority(self.settings, get_database(self.settings))

    @cached_property
    def crls(self) -> CrlPublisher:
        with self._lock:
            return CrlPublisher(self.authority)

    @cached_property
    def responder(self) -> OcspResponder:
        with self._lock:
            return OcspResponder(self.authority)

    @cached_property
    def tsa(self) -> TimeStampAuthority:
        with self._lock:
            return TimeStampAuthority(self.authority)


def init_app(app: Flask, settings: Settings) -> None:
    services = PublicPki(settings)
    app.extensions["egov.pki"] = services
    app.register_blueprint(blueprint)
    app.wsgi_app = OcspPostFastPath(  # type: ignore[method-assign]
        app.wsgi_app, services, settings.public_base_url.startswith("https://"))


class OcspPostFastPath:
    """POST /ocsp with a body of known, acceptable size answered without Flask's request machinery.

    OCSP is the one endpoint every relying party calls for every signature it checks; Flask's per-request work
    (contexts, routing, hooks) cost as much as the pre-signed answer itself and halved the answers per second
    (docs/benchmarks.md). Everything else, including oversized, chunked or odd requests to /ocsp, goes to the
    Flask view, which gives the same answers; request metrics and the request log line are kept the same.
    """

    def __init__(self, app: Callable, services: PublicPki, tls: bool) -> None:
        self.app = app
        self.services = services
        self.headers = [("Content-Type", "application/ocsp-response"), ("Cache-Control", "no-store"),
                        *security_headers("application/ocsp-response", tls)]
        self.requests = REQUESTS.labels("POST", "/ocsp", "200")
        self.latency = LATENCY.labels("/ocsp")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/ocsp":
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self.app(environ, start_response)
        if not 0 <= length <= PROTOCOL_MAX_BYTES:
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            answer = self.services.responder.respond(environ["wsgi.input"].read(length))
        except Exception:  # the responder answers every request itself; this is the last line, never a 500
            logging.getLogger(__name__).exception("OCSP fast path failed")
            answer = error_answer("internal_error")
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(answer.der)))])
        elapsed = time.perf_counter() - started
        self.requests.inc()
        self.latency.observe(elapsed)
        log_request("POST", "/ocsp", 200, elapsed, environ.get("REMOTE_ADDR"))
        return [answer.der]


def _pki() -> PublicPki:
    return current_app.extensions["egov.pki"]


def _protocol_body() -> bytes:
    """The request body, or a 413 when it is larger than any OCSP or timestamp request."""
    length = request.content_length
    if length is not None and length > PROTOCOL_MAX_BYTES:
        _drain()
        abort(413, description=f"OCSP and timestamp requests are at most {PROTOCOL_MAX_BYTES} bytes")
    data = request.stream.read(PROTOCOL_MAX_BYTES + 1)
    if len(data) > PROTOCOL_MAX_BYTES:
        _drain()
        abort(413, description=f"OCSP and timestamp requests are at most {PROTOCOL_MAX_BYTES} bytes")
    return data


def _drain() -> None:
    """Read and drop the rest of an oversized body (within the app-wide limit), so the client gets our 413
    instead of a reset connection."""
    while request.stream.read(1 << 16):
        pass


def _cacheable(response: Response, der: bytes, this_update: datetime, next_update: datetime, max_age: int) -> None:
    """RFC 5019 §6.2 headers: caches may keep the answer until nextUpdate and must revalidate after."""
    response.last_modified = this_update.astimezone(UTC)
    response.expires = next_update.astimezone(UTC)
    response.set_etag(hashlib.sha1(der).hexdigest())
    response.headers["Cache-Control"] = f"max-age={max(max_age, 0)}, public, no-transform, must-revalidate"


def _ocsp_response(answer: OcspAnswer, cache: bool) -> Response:
    response = Response(answer.der, mimetype="application/ocsp-response")
    if cache and answer.cacheable and answer.this_update and answer.next_update:
        max_age = int((answer.next_update - datetime.now(UTC)).total_seconds())
        _cacheable(response, answer.der, answer.this_update, answer.next_update, max_age)
        return response.make_conditional(request)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/ocsp")
@blueprint.post("/ocsp/")
def ocsp_post() -> Response:
    return _ocsp_response(_pki().responder.respond(_protocol_body()), cache=False)


@blueprint.get("/ocsp/", defaults={"encoded": ""})
@blueprint.get("/ocsp/<path:encoded>", merge_slashes=False)
def ocsp_get(encoded: str) -> Response:
    """RFC 5019 GET: the DER request, base64 and URL-encoded, as the last path segment(s)."""
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        der = b""  # not base64: answered as malformedRequest
    return _ocsp_response(_pki().responder.respond(der), cache=True)


@blueprint.post("/tsa")
def timestamp() -> Response:
    answer = _pki().tsa.respond(_protocol_body())
    response = Response(answer.der, mimetype="application/timestamp-reply")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/crl/<slug>.crl")
def crl(slug: str) -> Response:
    published = _pki().crls.current(slug)
    response = Response(published.der, mimetype="application/pkix-crl")
    _cacheable(response, published.der, published.this_update, published.next_update, CRL_MAX_AGE)
    return response.make_conditional(request)


@blueprint.get("/ca/<slug>.crt")
def ca_certificate(slug: str) -> Response:
    record = _pki().crls.issuer(role_for_slug(slug))
    response = Response(record.der, mimetype="application/pkix-cert")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.set_etag(record.sha256)
    return response.make_conditional(request)

