"""Prometheus metrics every layer may count (requests, issuances, signatures, OCSP answers).

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (`egov serve` does) so that /metrics
aggregates every worker instead of answering for whichever one the scrape reached.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("egov_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "egov_http_request_duration_seconds", "HTTP request latency", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ISSUANCES = Counter("egov_certificates_issued_total", "Certificates issued", ["profile"])
STATUS_CHANGES = Counter("egov_certificate_status_changes_total", "Certificate status changes", ["action"])
SIGNATURES = Counter("egov_signatures_total", "Signatures made with platform keys", ["kind", "result"])
OCSP_ANSWERS = Counter("egov_ocsp_responses_total", "OCSP answers", ["status"])
TIMESTAMPS = Counter("egov_timestamps_total", "RFC 3161 timestamps", ["result"])
