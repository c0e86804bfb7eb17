"""GET /api/v1/audit and /api/v1/audit/verify: auditors only (a real Keycloak token for audience egov-api, realm
role auditor), RFC 6750 challenges on refusal, filters and cursor pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from ca.authority import IssuanceRequest
from ca.names import PersonSubject
from tests.apiv1.conftest import bearer
from tests.support.server import PkiServer


def audit(server: PkiServer, headers: dict[str, str] | None = None, path: str = "", **params: str
          ) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/audit{path}", params=params, headers=headers or {}, timeout=30)


def test_no_token_is_401_with_a_bare_bearer_challenge(api_server):
    response = audit(api_server)
    assert response.status_code == 401 and response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="egov"'


def test_bad_token_is_401_invalid_token(api_server, auditor_token):
    forged = auditor_token[:-8] + ("A" * 8 if not auditor_token.endswith("A" * 8) else "B" * 8)
    for token in ("not-a-jwt", forged):
        response = audit(api_server, bearer(token))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert auditor_token not in response.text


def test_a_citizen_is_403_insufficient_scope(api_server, citizen_token):
    for path in ("", "/verify"):
        response = audit(api_server, bearer(citizen_token), path)
        assert response.status_code == 403 and response.json()["reason"] == "insufficient_role"
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_auditor_filters_by_action_target_and_time(api_server, auditor_token):
    assert api_server.authority is not None
    started = datetime.now(UTC) - timedelta(seconds=1)
    issued = api_server.authority.issue(IssuanceRequest("official", PersonSubject("Lê Thị Thu", "079190001234")),
                                        "test:issuer")
    api_server.egov("ca", "revoke", issued.serial, "--reason", "superseded", "--actor", "cli:auditee", check=True)
    target = f"certificate:{issued.serial}"

    response = audit(api_server, bearer(auditor_token), target=target)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    actions = [r["action"] for r in response.json()["records"]]
    assert actions == ["certificate.revoke", "certificate.issue"]  # newest first

    revoked = audit(api_server, bearer(auditor_token), action="certificate.revoke", actor="cli:auditee",
                    since=started.isoformat()).json()["records"]
    assert [r["target"] for r in revoked] == [target] and revoked[0]["details"]["reason"] == "superseded"
    assert audit(api_server, bearer(auditor_token), target=target,
                 until=started.isoformat()).json()["records"] == []


def test_auditor_pages_through_the_trail_with_the_cursor(api_server, auditor_token):
    everything = audit(api_server, bearer(auditor_token), limit="500").json()
    assert everything["next_cursor"] is None and len(everything["records"]) >= 5
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = audit(api_server, bearer(auditor_token), **params).json()
        seen += [r["seq"] for r in page["records"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["seq"] for r in everything["records"]] == sorted(seen, reverse=True)


def test_out_of_range_parameters_are_400(api_server, auditor_token):
    for params in ({"limit": "501"}, {"limit": "0"}, {"cursor": "x"}, {"since": "yesterday"},
                   {"until": "2026-11-23T08:00:00"}):
        response = audit(api_server, bearer(auditor_token), **params)
        assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"


def test_auditor_verifies_the_hash_chain(api_server, auditor_token):
    response = audit(api_server, bearer(auditor_token), "/verify")
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True and result["records"] >= 1 and result["problem"] is None
