"""`egov up` in a fresh data dir: every URL it prints answers as it should, the demo users log in, Ctrl-C stops every
process it started, and a second run in the same data dir reuses the CA, the credentials and the Keycloak users."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509

from deploy.local import ENDPOINTS, port_in_use
from tests.support.headless import HeadlessBrowser
from tests.support.pki import openssl
from tests.support.postgres import free_port
from tests.support.stack import Stack

PORTAL_USERS = ("citizen", "official", "clerk", "auditor")


def fetch(url: str, method: str = "GET", **options: object) -> requests.Response:
    """One request, redirects not followed: each URL must answer by itself."""
    return requests.request(method, url, allow_redirects=False, timeout=30, **options)  # type: ignore[arg-type]


def answer_of(stack: Stack, key: str) -> requests.Response:
    return fetch(stack.urls[key])


def keycloak_base(stack: Stack) -> str:
    parts = urlsplit(stack.urls["keycloak"])
    return f"{parts.scheme}://{parts.netloc}"


def public_pem(stack: Stack, name: str) -> Path:
    return stack.data_dir / "public" / f"{name}.pem"


def assert_html(response: requests.Response, *texts: str) -> None:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("text/html")
    for text in texts:
        assert text in response.text


def check_ca_page(stack: Stack, tmp_path: Path) -> None:
    assert_html(answer_of(stack, "ca"), stack.root_sha256, "/ca/root.crt", "/crl/individuals.crl")


def check_desk(stack: Stack, tmp_path: Path) -> None:
    """The desk asks for a login: Keycloak's login page for the signing-desk client (or the page itself)."""
    response = answer_of(stack, "desk")
    if response.status_code == 200:
        assert response.headers["Content-Type"].startswith("text/html")
        return
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["Location"]
    assert location.startswith(f"{keycloak_base(stack)}/realms/egov/protocol/openid-connect/auth?"), location
    assert "client_id=signing-desk" in location
    login = fetch(location)
    assert_html(login, 'id="kc-form-login"')


def check_verify_page(stack: Stack, tmp_path: Path) -> None:
    assert_html(answer_of(stack, "verify"))


def check_openapi(stack: Stack, tmp_path: Path) -> None:
    response = answer_of(stack, "openapi")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    description = response.json()
    assert description["openapi"].startswith("3.") and description["paths"]


def official_certificate(stack: Stack, tmp_path: Path) -> Path:
    serial = stack.credentials["official"].serial
    shown = stack.egov("ca", "show", serial, "--pem")
    assert shown.returncode == 0, shown.stderr
    pem = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", shown.stdout, re.S)
    assert pem, shown.stdout
    path = tmp_path / "official.pem"
    path.write_text(pem.group(0))
    return path


def check_ocsp(stack: Stack, tmp_path: Path) -> None:
    """A real OCSP request (openssl) for the demo official's certificate: good, and the signature verifies."""
    leaf = official_certificate(stack, tmp_path)
    result = openssl("ocsp", "-issuer", str(public_pem(stack, "issuing-individuals")), "-cert", str(leaf),
                     "-url", stack.urls["ocsp"], "-CAfile", str(public_pem(stack, "chain-individuals")))
    assert f"{leaf}: good" in result.stdout, result.stdout + result.stderr
    assert "Response verify OK" in result.stderr, result.stderr


def check_tsa(stack: Stack, tmp_path: Path) -> None:
    """A real RFC 3161 request (openssl): granted, and the token verifies up to our root."""
    data, query, reply = tmp_path / "quyet-dinh.pdf", tmp_path / "q.tsq", tmp_path / "r.tsr"
    data.write_bytes("%PDF-1.7 Quyết định số 12/QĐ-UBND\n".encode())
    openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query), check=True)
    response = fetch(stack.urls["tsa"], "POST", data=query.read_bytes(),
                     headers={"Content-Type": "application/timestamp-query"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/timestamp-reply"
    reply.write_bytes(response.content)
    verified = openssl("ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile",
                       str(public_pem(stack, "root")), "-untrusted", str(public_pem(stack, "tsa")))
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr


def crl_check(issuer: str) -> Callable[[Stack, Path], None]:
    def check(stack: Stack, tmp_path: Path) -> None:
        """The current CRL (DER), signed by its CA."""
        key = "crl-root" if issuer == "root" else f"crl-{issuer.removeprefix('issuing-')}"
        response = fetch(stack.urls[key])
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(response.content)
        authority = x509.load_pem_x509_certificate(public_pem(stack, issuer).read_bytes())
        assert crl.issuer == authority.subject and crl.is_signature_valid(authority.public_key())

    return check


def check_csc(stack: Stack, tmp_path: Path) -> None:
    """The printed URL is the API's base; its `info` method answers without a token (CSC v1.0.4)."""
    response = fetch(f"{stack.urls['csc']}/info", "POST", json={})
    assert response.status_code == 200, response.text[:500]
    info = response.json()
    assert info["specs"] == "1.0.4.0" and info["oauth2"] == f"{keycloak_base(stack)}/realms/egov"


def check_healthz(stack: Stack, tmp_path: Path) -> None:
    response = fetch(stack.urls["healthz"])
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def check_readyz(stack: Stack, tmp_path: Path) -> None:
    response = fetch(stack.urls["readyz"])
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "key_backend": "ok",
                                                             "keycloak_jwks": "ok"}}


def check_metrics(stack: Stack, tmp_path: Path) -> None:
    response = fetch(stack.urls["metrics"])
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert "egov_http_requests_total" in response.text


def portal_check(key: str, title: str) -> Callable[[Stack, Path], None]:
    def check(stack: Stack, tmp_path: Path) -> None:
        """The portal's home page, nobody logged in yet."""
        assert_html(fetch(stack.urls[key]), title, 'id="anonymous"')

    return check


def check_keycloak(stack: Stack, tmp_path: Path) -> None:
    """Realm egov's account page, and its issuer is the one host name everything uses."""
    assert fetch(stack.urls["keycloak"]).status_code == 200
    discovery = fetch(f"{keycloak_base(stack)}/realms/egov/.well-known/openid-configuration")
    assert discovery.json()["issuer"] == f"{keycloak_base(stack)}/realms/egov"


def check_keycloak_admin(stack: Stack, tmp_path: Path) -> None:
    response = fetch(stack.urls["keycloak-admin"])
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/master/console/")
    assert_html(fetch(response.headers["Location"]))


CHECKS: dict[str, Callable[[Stack, Path], None]] = {
    "ca": check_ca_page,
    "desk": check_desk,
    "verify": check_verify_page,
    "openapi": check_openapi,
    "ocsp": check_ocsp,
    "tsa": check_tsa,
    "crl-individuals": crl_check("issuing-individuals"),
    "crl-organizations": crl_check("issuing-organizations"),
    "crl-root": crl_check("root"),
    "csc": check_csc,
    "healthz": check_healthz,
    "readyz": check_readyz,
    "metrics": check_metrics,
    "portal-dvc": portal_check("portal-dvc", "Cổng Dịch vụ công"),
    "portal-motcua": portal_check("portal-motcua", "Hệ thống Một cửa"),
    "keycloak": check_keycloak,
    "keycloak-admin": check_keycloak_admin,
}


def test_every_printed_url_has_a_check() -> None:
    assert set(CHECKS) == {endpoint.key for endpoint in ENDPOINTS}


@pytest.mark.parametrize("key", [endpoint.key for endpoint in ENDPOINTS])
def test_printed_url_answers(stack: Stack, key: str, tmp_path: Path) -> None:
    CHECKS[key](stack, tmp_path)


def test_demo_users_are_printed_with_password_otp_and_role(stack: Stack) -> None:
    assert {u: a.role for u, a in stack.users.items()} == {
        "citizen": "citizen", "official": "official", "clerk": "clerk", "auditor": "auditor", "079199000123": "vneid"}
    for account in stack.users.values():
        assert len(account.password) >= 32
        if account.role == "vneid":  # brokered from the VNeID realm: its own login, no OTP of ours
            assert account.otp_secret is None
        else:
            assert re.fullmatch("[A-Z2-7]{32}", account.otp_secret or ""), account


def log_in_at_dvc(stack: Stack, username: str) -> requests.Response:
    account = stack.users[username]
    navigation = HeadlessBrowser().open(f"{stack.urls['portal-dvc']}login", username=account.username,
                                        password=account.password)
    return navigation.response


@pytest.mark.parametrize("username", PORTAL_USERS)
def test_demo_user_logs_in_at_the_dvc_portal(stack: Stack, username: str) -> None:
    page = log_in_at_dvc(stack, username)
    assert_html(page, "Xin chào", "Cổng Dịch vụ công")
    assert stack.users[username].role in page.text  # the realm roles the portal shows


def test_demo_credentials_are_enrolled_for_official_and_clerk(stack: Stack) -> None:
    listed = stack.egov("ca", "list")
    assert listed.returncode == 0, listed.stderr
    credentials = stack.credentials
    assert set(credentials) == {"official", "clerk"}
    assert credentials["official"].serial in listed.stdout and credentials["clerk"].serial in listed.stdout


def certificate_serials(stack: Stack) -> set[str]:
    listed = stack.egov("ca", "list")
    assert listed.returncode == 0, listed.stderr
    return set(re.findall(r"^([0-9a-f]{16,})\s", listed.stdout, re.M))


def test_a_child_that_dies_stops_the_others_but_not_a_reused_keycloak(stack: Stack) -> None:
    """A second `egov up` in the same data dir on other ports finds this data dir's Keycloak ready and reuses it;
    when one of its servers dies it stops the others, exits non-zero saying which, and leaves Keycloak running.
    (It points the realm's portal clients at its own ports: the restart below points them back.)"""
    ports = {**stack.ports, "app": free_port(), "portal_dvc": free_port(), "portal_motcua": free_port()}
    second = Stack(stack.data_dir, ports, dict(stack.env))
    try:
        second.start(timeout=180)
        assert "Keycloak: đang chạy, dùng lại / already running, reused" in second.output
        portals = next(p for p in second.processes() if "api.cli idp portals" in p.command)
        os.killpg(portals.pid, signal.SIGKILL)
        code = second.wait_for_exit(timeout=60)  # fails if its app is left running
    finally:
        second.stop(check=False)
    assert code not in (0, None), second.output[-3000:]
    assert "egov idp portals đã dừng bất ngờ / stopped unexpectedly" in second.output
    assert "stopping Keycloak" not in second.output
    assert fetch(stack.urls["readyz"]).status_code == 200  # Keycloak and the first app still serve


# Last in this module: it stops the session's stack and starts it again in the same data dir (same ports).
def test_ctrl_c_stops_every_process_and_a_second_run_reuses_the_data(stack: Stack) -> None:
    first_users, first_root = dict(stack.users), stack.root_sha256
    first_credentials = stack.credentials
    serials = certificate_serials(stack)
    commands = [p.command for p in stack.processes()]
    assert any("java" in c and "keycloak" in c for c in commands), commands
    assert sum("api.cli serve" in c for c in commands) >= 3, commands  # gunicorn arbiter and its workers
    assert any("api.cli idp portals" in c for c in commands), commands

    stack.stop()  # Ctrl-C; fails if egov up does not exit 0 or leaves any process behind
    assert stack.output.rstrip().endswith("Đã dừng tất cả / everything stopped")
    assert not [name for name, port in stack.ports.items() if port_in_use(port)]

    stack.start()
    second_run = stack.output.rsplit("$ egov up", 1)[-1]
    assert "đã có, dùng lại / already set up, reused" in second_run
    assert stack.root_sha256 == first_root
    assert stack.users == first_users
    assert {u: c.credential_id for u, c in stack.credentials.items()} == \
        {u: c.credential_id for u, c in first_credentials.items()}
    assert not any(c.enrolled_now for c in stack.credentials.values())
    assert certificate_serials(stack) == serials  # nothing issued by the second run
    assert "Realm: đã có, cập nhật / updated" in second_run and "Realm: đã tạo" not in second_run  # no new realm
    assert_html(log_in_at_dvc(stack, "citizen"), "Xin chào")
    assert json.loads(fetch(stack.urls["readyz"]).text)["status"] == "ready"
