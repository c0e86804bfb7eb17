"""/openapi.json says what the app does: its /api/v1 paths are exactly the app's, and schemathesis (v4, `--checks
all`) against the running gunicorn finds no server error and no response outside the schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests
from cryptography import x509

from api.app import create_app
from egov.settings import Settings
from tests.apiv1.conftest import bearer
from tests.support.server import PkiServer

SCHEMATHESIS_BUDGET = 120  # seconds; bounded by --max-examples, the run takes about ten


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_document_lists_exactly_the_apps_api_paths(api_server: PkiServer):
    document = requests.get(f"{api_server.url}/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.1") and document["servers"] == [{"url": api_server.url}]
    app = create_app(Settings.from_env(api_server.env))
    served = {openapi_path(rule.rule): rule.methods - {"HEAD", "OPTIONS"} for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/")}
    described = {path: {m.upper() for m in item} for path, item in document["paths"].items()
                 if path.startswith("/api/v1/")}
    assert described == served
    for path in ("/healthz", "/readyz", "/ca/{slug}.crt", "/crl/{slug}.crl"):
        assert path in document["paths"]
    refusals = document["paths"]["/api/v1/audit"]["get"]["responses"]
    assert {"401", "403"} <= set(refusals) and document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def schemathesis_config(path: Path, serial: str) -> Path:
    """Per-operation settings: a real certificate serial (so 200 answers are checked too), and for /verify the
    refusals of random bytes that no schema can tell apart from a PDF."""
    path.write_text(
        '[[operations]]\ninclude-path = "/api/v1/verify"\n'
        'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "422"]\n\n'
        '[[operations]]\ninclude-path-regex = "^/api/v1/certificates/"\n'
        f'parameters = {{ "path.serial" = "{serial}" }}\n'
    )
    return path


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api_server: PkiServer, auditor_token, tmp_path):
    issuing = x509.load_pem_x509_certificate((api_server.certs / "issuing-individuals.pem").read_bytes())
    config = schemathesis_config(tmp_path / "schemathesis.toml", format(issuing.serial_number, "x"))
    junit = tmp_path / "junit.xml"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", f"{api_server.url}/openapi.json",
        "--checks", "all", "--max-examples", "10", "--seed", "20261123", "--workers", "1",
        "--header", f"Authorization: {bearer(auditor_token)['Authorization']}", "--request-timeout", "60",
        "--report", "junit", "--report-junit-path", str(junit),
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SCHEMATHESIS_BUDGET, cwd=tmp_path,
                            env={**os.environ})
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    report = junit.read_text()
    assert 'failures="0"' in report and 'errors="0"' in report and "/api/v1/verify" in report
