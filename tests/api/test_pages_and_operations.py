"""The CA page for relying parties, and the operations endpoints every instance answers."""

from __future__ import annotations

import pytest

from api.app import create_app
from ca.authority import CertificateAuthority


@pytest.fixture
def client(sqlite_authority: CertificateAuthority):
    return create_app(sqlite_authority.settings).test_client()


def test_ca_page_lists_certificates_crls_ocsp_and_tsa(client, sqlite_authority: CertificateAuthority):
    page = client.get("/ca")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Dịch vụ chứng thực" in html and "Certification services" in html
    for slug in ("root", "individuals", "organizations"):
        assert f"http://127.0.0.1:8080/ca/{slug}.crt" in html and f"http://127.0.0.1:8080/crl/{slug}.crl" in html
    assert sqlite_authority.require_role("root").sha256 in html
    assert "http://127.0.0.1:8080/ocsp" in html and "http://127.0.0.1:8080/tsa" in html
    assert "+07:00" in html  # machine-readable times carry the Vietnam offset
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/static/egov.css").status_code == 200


def test_healthz_and_metrics(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    client.get("/ca")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'egov_http_requests_total{endpoint="/ca",method="GET",status="200"}' in metrics
    assert "egov_certificates_issued_total" in metrics


def test_readyz_names_what_is_not_ready(sqlite_authority: CertificateAuthority, settings_env):
    from egov.settings import Settings

    # No Keycloak listens on this port: the instance must say it is not ready, and why.
    settings = Settings.from_env({**settings_env, "EGOV_KEYCLOAK_URL": "http://127.0.0.1:9"})
    answer = create_app(settings).test_client().get("/readyz")
    assert answer.status_code == 503
    checks = answer.get_json()["checks"]
    assert checks["database"] == "ok" and checks["key_backend"] == "ok"
    assert checks["keycloak_jwks"].startswith("fail")
