"""The JSON API under /api/v1 (document verification, certificate status, the audit trail for auditors) and its
OpenAPI description at /openapi.json. Every error is problem+json (RFC 9457)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID
from flask import Blueprint, Flask, Response, current_app, request
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.validation.errors import SignatureValidationError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from api.csc import csc_json
from api.openapi import document as openapi_document
from api.problems import problem
from api.web import current_settings
from ca.authority import CertificateAuthority
from ca.models import GOOD, REVOKED, SUSPENDED, CertificateRecord
from egov import audit
from egov.db import get_database
from egov.errors import Refusal
from egov.settings import Settings
from idp.web import init_token_verification, require_token
from signing.appearance import vietnam_iso
from signing.errors import InvalidDocument, SigningError
from signing.explanation import VERDICTS, kind_of
from signing.validation import DocumentValidator, ValidationReport

PREFIX = "/api/v1"
AUDIT_MAX_LIMIT = 500
AUDIT_DEFAULT_LIMIT = 100
MAX_CURSOR = 10**18  # record numbers fit a signed 64-bit integer
# An oversized upload is read and dropped up to this much, so the client sees our 413 and not a reset connection.
DRAIN_MAX_BYTES = 256 * 1024 * 1024
STATUS_WORDS = {GOOD: "có hiệu lực", SUSPENDED: "tạm dừng (certificateHold)", REVOKED: "đã thu hồi"}

blueprint = Blueprint("apiv1", __name__)


class BadParameter(Refusal):
    """A query parameter or form field the API cannot use."""

    code = "invalid-parameter"


def _settings() -> Settings:
    return current_settings()


# -- verification -----------------------------------------------------------------------------------------------


class Upload(NamedTuple):
    name: str | None
    data: bytes


def uploaded_pdf(field: str = "file") -> Upload:
    """The uploaded file (multipart/form-data); 413 past MAX_CONTENT_LENGTH is raised by Werkzeug."""
    upload = request.files.get(field)
    if upload is None:
        raise BadParameter("Chưa chọn tệp PDF để kiểm tra", f"no file: send the PDF as the multipart field {field!r}")
    return Upload(upload.filename or None, upload.read())


def verify_document(upload: Upload, settings: Settings) -> ValidationReport:
    """The validation report, or a refusal: not a PDF, no signatures, or a PDF too damaged to read its signatures."""
    try:
        return DocumentValidator(settings).validate(upload.data, upload.name)
    except SigningError:
        raise
    except (PdfError, SignatureValidationError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # Anyone may upload anything: a structure pyHanko trips over is a damaged document, not our error.
        raise InvalidDocument("PDF hỏng, không đọc được chữ ký", f"the PDF is damaged; its signatures cannot be read "
                              f"({type(exc).__name__})") from exc


def report_json(report: ValidationReport) -> dict[str, Any]:
    """`ValidationReport.to_dict()` plus the verdicts in Vietnamese and each signature's Decree 30 kind."""
    body = report.to_dict()
    body["verdict_vi"] = VERDICTS[report.verdict].vi
    for signature, data in zip(report.signatures, body["signatures"], strict=True):
        data["verdict_vi"] = VERDICTS[signature.verdict].vi
        data["kind"] = kind_of(signature).value
    return body


def drain_request_body() -> None:
    """Read and drop an oversized body (bounded), so the client that is still sending gets the 413."""
    stream = request.environ.get("wsgi.input")
    remaining = DRAIN_MAX_BYTES
    while stream is not None and remaining > 0:
        chunk = stream.read(min(1 << 16, remaining))
        if not chunk:
            break
        remaining -= len(chunk)


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    drain_request_body()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return problem(413, "request-entity-too-large", "Request Entity Too Large",
                   f"Tệp quá lớn, tối đa {limit} byte / the upload is larger than {limit} bytes")


@blueprint.post(f"{PREFIX}/verify")
def verify() -> Response:
    return csc_json(report_json(verify_document(uploaded_pdf(), _settings())))


# -- certificates ------------------------------------------------------------------------------------------------


def _times(*moments: datetime | None) -> list[str | None]:
    return [vietnam_iso(m) if m else None for m in moments]


def _published_urls(certificate: x509.Certificate) -> dict[str, list[str]]:
    """Where relying parties check this certificate: the OCSP and caIssuers URLs of its AIA, its CRL points."""
    try:
        access = list(certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value)
    except x509.ExtensionNotFound:
        access = []
    try:
        points = list(certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value)
    except x509.ExtensionNotFound:
        points = []

    def urls(method: x509.ObjectIdentifier) -> list[str]:
        return [str(d.access_location.value) for d in access if d.access_method == method]

    return {
        "ocsp": urls(AuthorityInformationAccessOID.OCSP),
        "ca_issuers": urls(AuthorityInformationAccessOID.CA_ISSUERS),
        "crl": [str(name.value) for point in points for name in point.full_name or ()
                if isinstance(name, x509.UniformResourceIdentifier)],
    }


def certificate_status_json(record: CertificateRecord, base_url: str) -> dict[str, Any]:
    certificate = record.certificate
    not_good = record.status != GOOD
    changed_at, invalidity, not_before, not_after = _times(
        record.status_changed_at if not_good else None, record.invalidity_date, record.not_before, record.not_after)
    return {
        "serial": record.serial,
        "status": record.status,
        "status_vi": STATUS_WORDS.get(record.status, record.status),
        "revoked_at": changed_at,
        "revocation_reason": record.revocation_reason if not_good else None,
        "invalidity_date": invalidity,
        "subject": record.subject,
        "common_name": record.common_name,
        "identifier": record.identifier,
        "issuer": certificate.issuer.rfc4514_string(),
        "profile": record.profile,
        "not_before": not_before,
        "not_after": not_after,
        "sha256": record.sha256,
        "links": {"pem": f"{base_url}{PREFIX}/certificates/{record.serial}/pem", **_published_urls(certificate)},
    }


def _certificate(serial: str) -> CertificateRecord:
    return CertificateAuthority(_settings()).get(serial)


@blueprint.get(f"{PREFIX}/certificates/<serial>")
def certificate_status(serial: str) -> Response:
    return csc_json(certificate_status_json(_certificate(serial), _settings().public_base_url))


@blueprint.get(f"{PREFIX}/certificates/<serial>/pem")
def certificate_pem(serial: str) -> Response:
    record = _certificate(serial)
    response = Response(record.certificate.public_bytes(Encoding.PEM), mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = f'attachment; filename="{record.serial}.pem"'
    response.headers["Cache-Control"] = "no-store"  # the body never changes, but a 404 before issuance may
    return response


# -- audit trail -------------------------------------------------------------------------------------------------


@contextmanager
def _reading() -> Iterator[Session]:
    """A session for reads only: on SQLite it does not queue behind writers (see `Database.reading`)."""
    with get_database(_settings()).reading() as connection, Session(bind=connection) as session:
        yield session


def _moment(name: str) -> datetime | None:
    text = request.args.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadParameter(f"{name} phải là thời điểm ISO 8601 có múi giờ",
                           f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-11-23T08:00:00+07:00")
    return moment


def _count(name: str, maximum: int) -> int | None:
    """A positive integer query parameter up to `maximum`, or None when absent."""
    text = request.args.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise BadParameter(f"{name} phải là số nguyên từ 1 đến {maximum}",
                           f"{name} must be an integer from 1 to {maximum}")
    return int(text)


@blueprint.get(f"{PREFIX}/audit")
@require_token(roles=["auditor"])
def audit_records() -> Response:
    """Newest first; filters `action`, `actor`, `target` (exact), `since`, `until`; `limit` and the `cursor` of
    the previous page's `next_cursor`."""
    limit = _count("limit", AUDIT_MAX_LIMIT) or AUDIT_DEFAULT_LIMIT
    with _reading() as session:
        records = audit.list_records(
            session, action=request.args.get("action"), actor=request.args.get("actor"),
            target=request.args.get("target"), since=_moment("since"), until=_moment("until"),
            before=_count("cursor", MAX_CURSOR), limit=limit + 1,
        )
    page, more = records[:limit], len(records) > limit
    return csc_json({
        "records": [r.to_dict() for r in page],
        "next_cursor": str(page[-1].seq) if more else None,
    })


@blueprint.get(f"{PREFIX}/audit/verify")
@require_token(roles=["auditor"])
def audit_verify() -> Response:
    with _reading() as session:
        result = audit.verify_chain(session)
    return csc_json({"ok": result.ok, "records": result.records, "problem": result.problem,
                          "bad_seq": result.bad_seq})


@blueprint.get("/openapi.json")
def openapi() -> Response:
    response = csc_json(openapi_document(_settings().public_base_url))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Needs `api.csc` bound first: the audit endpoints use its verifier of `egov-api` access tokens."""
    init_token_verification(app, app.extensions["egov.csc"]["verifier"])  # `require_token` checks egov-api tokens
    app.register_blueprint(blueprint)
