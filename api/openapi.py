"""The OpenAPI 3.1 description of the JSON API (api/v1.py) and the public endpoints beside it, served at
/openapi.json; tests/apiv1 runs schemathesis against it, so it must say what the code does."""

from __future__ import annotations

from typing import Any

from ca.authority import CA_SLUGS
from ca.models import GOOD, REVOKED, SUSPENDED

JSON = "application/json"
PROBLEM = "application/problem+json"
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; `detail` in Vietnamese with English beside it.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "reason": {"type": "string", "description": "why an access token was refused (401/403/503)"},
    },
    "required": ["type", "title", "status"],
}

SIGNER = _object({
    "name": {"type": "string"},
    "identifier": {**NULLABLE_STRING, "description": "CCCD:<12 digits>, MST:<tax code> or MNS:<budget code>"},
    "organization": NULLABLE_STRING,
    "title": NULLABLE_STRING,
    "subject": {"type": "string"},
    "issuer": {"type": "string"},
    "serial": {"type": "string", "description": "the signer certificate's serial, lowercase hex"},
    "is_person": {"type": "boolean"},
})
VERDICT = {"type": "string", "enum": ["TOTAL-PASSED", "INDETERMINATE", "TOTAL-FAILED"],
           "description": "ETSI EN 319 102-1 main indication"}
SIGNATURE = _object({
    "field_name": {"type": "string"},
    "kind": {"type": "string", "enum": ["personal", "seal", "copy", "attachment", "unknown"],
             "description": "Decree 30 kind: competent person, organisation seal, electronic copy, attachment"},
    "signer": _ref("Signer"),
    "verdict": VERDICT,
    "verdict_vi": {"type": "string", "enum": ["hợp lệ", "không xác định", "không hợp lệ"]},
    "subindication": {"type": "string"},
    "reason_vi": {"type": "string"},
    "reason_en": {"type": "string"},
    "level": {"type": "string", "enum": ["B-B", "B-T", "B-LT", "B-LTA"]},
    "claimed_signing_time": NULLABLE_TIME,
    "timestamp_time": NULLABLE_TIME,
    "timestamp_valid": {"type": ["boolean", "null"]},
    "intact": {"type": "boolean"},
    "valid": {"type": "boolean"},
    "trusted": {"type": "boolean"},
    "revocation": {"type": "string", "enum": ["good", "revoked", "unknown", "not-checked"]},
    "revoked_at": NULLABLE_TIME,
    "coverage": {"type": "string", "enum": ["entire-file", "entire-revision", "partial"]},
    "modification": {"type": "string", "enum": ["none", "ltv-updates", "form-filling", "annotations", "other"]},
    "signed_revision": {"type": "integer", "minimum": 0},
    "revisions": {"type": "integer", "minimum": 1},
    "certification": {"type": "boolean"},
    "page": {"type": ["integer", "null"], "minimum": 0, "description": "0-based page of the visible signature"},
    "box": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
            "description": "x1, y1, x2, y2 in PDF points from the page's lower left"},
})
REPORT = _object({
    "document": NULLABLE_STRING,
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "verdict": VERDICT,
    "verdict_vi": {"type": "string", "enum": ["hợp lệ", "không xác định", "không hợp lệ"]},
    "revisions": {"type": "integer", "minimum": 1},
    "signatures": {"type": "array", "items": _ref("Signature"), "minItems": 1},
})
URLS = {"type": "array", "items": {"type": "string", "format": "uri"}}
CERTIFICATE = _object({
    "serial": {"type": "string", "pattern": "^[0-9a-f]+$"},
    "status": {"type": "string", "enum": [GOOD, SUSPENDED, REVOKED],
               "description": "suspended is on hold (certificateHold) and can be released"},
    "status_vi": {"type": "string"},
    "revoked_at": {**NULLABLE_TIME, "description": "when it was revoked or put on hold; null while good"},
    "revocation_reason": {**NULLABLE_STRING, "description": "RFC 5280 reason name, certificateHold when on hold"},
    "invalidity_date": NULLABLE_TIME,
    "subject": {"type": "string"},
    "common_name": {"type": "string"},
    "identifier": NULLABLE_STRING,
    "issuer": {"type": "string"},
    "profile": {"type": "string"},
    "not_before": TIME,
    "not_after": TIME,
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "links": _object({
        "pem": {"type": "string", "format": "uri"},
        "ocsp": URLS,
        "ca_issuers": URLS,
        "crl": URLS,
    }),
})
AUDIT_RECORD = _object({
    "seq": {"type": "integer", "minimum": 1},
    "at": TIME,
    "actor": {"type": "string"},
    "action": {"type": "string"},
    "target": {"type": "string"},
    "details": {"type": "object"},
    "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
})
AUDIT_PAGE = _object({
    "records": {"type": "array", "items": _ref("AuditRecord")},
    "next_cursor": {**NULLABLE_STRING, "description": "pass as `cursor` for the next (older) page; null at the end"},
})
CHAIN = _object({
    "ok": {"type": "boolean"},
    "records": {"type": "integer", "minimum": 0},
    "problem": NULLABLE_STRING,
    "bad_seq": {"type": ["integer", "null"]},
})

SERIAL = {"name": "serial", "in": "path", "required": True,
          "description": "certificate serial number, hexadecimal",
          "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{1,40}$"}}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "enum": list(CA_SLUGS.values())}}
AUDITOR_ONLY = [{"bearer": []}]
TOKEN_REFUSALS = {
    "401": _problem("no access token, or not a valid one (RFC 6750 `WWW-Authenticate: Bearer …`)"),
    "403": _problem("a valid token without the realm role `auditor`"),
    "503": _problem("the identity provider's keys cannot be fetched now"),
}


def _text_filter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/verify": {"post": {
            "summary": "Kiểm tra chữ ký số của một tệp PDF / verify the signatures of a PDF",
            "operationId": "verifyDocument",
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                           "required": ["file"]},
                "encoding": {"file": {"contentType": "application/pdf"}},
            }}},
            "responses": {
                "200": _json("one report per signature and the document's verdict (the worst of them)",
                             _ref("ValidationReport")),
                "400": _problem("no file, not a PDF, an encrypted or damaged PDF, too many pages"),
                "413": _problem("the upload is larger than the server's limit"),
                "422": _problem("the PDF carries no signature"),
            },
        }},
        "/api/v1/certificates/{serial}": {"get": {
            "summary": "Trạng thái chứng thư số / status of one of our certificates",
            "operationId": "getCertificateStatus",
            "parameters": [SERIAL],
            "responses": {
                "200": _json("the certificate's status and where to check it", _ref("CertificateStatus")),
                "400": _problem("the serial is not hexadecimal"),
                "404": _problem("no certificate with this serial"),
            },
        }},
        "/api/v1/certificates/{serial}/pem": {"get": {
            "summary": "Chứng thư số dạng PEM / the certificate as PEM",
            "operationId": "getCertificatePem",
            "parameters": [SERIAL],
            "responses": {
                "200": {"description": "the certificate", "content": {"application/x-pem-file": {
                    "schema": {"type": "string"}}}},
                "400": _problem("the serial is not hexadecimal"),
                "404": _problem("no certificate with this serial"),
            },
        }},
        "/api/v1/audit": {"get": {
            "summary": "Nhật ký kiểm toán / the audit trail, newest first (auditors only)",
            "operationId": "listAuditRecords",
            "security": AUDITOR_ONLY,
            "parameters": [
                _text_filter("action", "exact action, e.g. certificate.revoke"),
                _text_filter("actor", "exact actor, e.g. cli:operator"),
                _text_filter("target", "exact target, e.g. certificate:<serial>"),
                {"name": "since", "in": "query", "required": False, "description": "records at or after",
                 "schema": TIME},
                {"name": "until", "in": "query", "required": False, "description": "records before",
                 "schema": TIME},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "the `next_cursor` of the previous page",
                 "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}},
            ],
            "responses": {
                "200": _json("one page of records", _ref("AuditPage")),
                "400": _problem("a parameter out of range or not parseable"),
                **TOKEN_REFUSALS,
            },
        }},
        "/api/v1/audit/verify": {"get": {
            "summary": "Kiểm tra chuỗi băm nhật ký / verify the audit trail's hash chain (auditors only)",
            "operationId": "verifyAuditChain",
            "security": AUDITOR_ONLY,
            "responses": {"200": _json("whether every record is intact and linked", _ref("ChainVerification")),
                          **TOKEN_REFUSALS},
        }},
        "/healthz": {"get": {
            "summary": "Liveness", "operationId": "healthz",
            "responses": {"200": _json("the process is up", _object({"status": {"const": "ok"}}))},
        }},
        "/readyz": {"get": {
            "summary": "Readiness: database, key backend, identity provider keys", "operationId": "readyz",
            "responses": {
                "200": _json("ready for traffic", _ref("Readiness")),
                "503": _json("a dependency fails", _ref("Readiness")),
            },
        }},
        "/ca/{slug}.crt": {"get": {
            "summary": "Chứng thư CA / a CA certificate (DER)", "operationId": "getCaCertificate",
            "parameters": [SLUG],
            "responses": {
                "200": {"description": "the certificate", "content": {"application/pkix-cert": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "404": _problem("no such CA"),
            },
        }},
        "/crl/{slug}.crl": {"get": {
            "summary": "Danh sách thu hồi / the CA's current CRL (DER)", "operationId": "getCrl",
            "parameters": [SLUG],
            "responses": {
                "200": {"description": "the CRL", "content": {"application/pkix-crl": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "404": _problem("no such CA"),
            },
        }},
    }


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document for a server at `base_url`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "egov-trust API",
            "version": "1.0.0",
            "description": "Kiểm tra văn bản ký số, trạng thái chứng thư, nhật ký kiểm toán / document "
                           "verification, certificate status and the audit trail. Errors are RFC 9457 "
                           "problem+json.",
        },
        "servers": [{"url": base_url}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "a Keycloak access token of realm `egov` for audience `egov-api`",
            }},
            "schemas": {
                "Problem": PROBLEM_SCHEMA,
                "Signer": SIGNER,
                "Signature": SIGNATURE,
                "ValidationReport": REPORT,
                "CertificateStatus": CERTIFICATE,
                "AuditRecord": AUDIT_RECORD,
                "AuditPage": AUDIT_PAGE,
                "ChainVerification": CHAIN,
                "Readiness": _object({
                    "status": {"type": "string", "enum": ["ready", "unready"]},
                    "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                }),
            },
        },
    }
