"""Single sign-on against the real Keycloak: SSO hop, logout everywhere, step-up to loa2, VNeID, key rotation."""

from __future__ import annotations

import time

import pytest
import requests

from idp.errors import InsufficientAuthentication, SessionEnded
from idp.otp import totp
from idp.realm import ID_NUMBER_ATTRIBUTE, STEP_UP_FLOW, ensure_step_up_flow
from idp.tokens import Requirement
from tests.support.headless import HeadlessBrowser
from tests.support.sso import SsoWorld, run_egov

pytestmark = pytest.mark.keycloak


def wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_demo_users_are_printed_by_apply_and_realm_exists(sso: SsoWorld):
    output = sso.first_apply_output
    assert "created realm vneid" in output and "created realm egov" in output
    assert sso.user("citizen").password in output and sso.user("citizen").otp_secret in output
    discovery = requests.get(f"{sso.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == sso.issuer


def test_second_portal_gets_a_code_without_a_login_form_and_the_same_sid(sso: SsoWorld):
    browser, first, session_a = sso.login("portal-dvc", "citizen")
    assert first.forms == ["password"]
    assert "Nguyễn Văn An" in first.response.text  # family name first, as Vietnamese names are written
    assert f'href="{sso.url("portal-motcua", "/login")}"' in first.response.text  # the link a citizen follows

    second = browser.open(sso.url("portal-motcua", "/login"))  # no credentials: a form would raise
    assert second.forms == []
    assert second.response.status_code == 200 and 'id="sid"' in second.response.text
    session_b = next(s for s in sso.portal("portal-motcua").sessions.values()
                     if s.access.session_id == session_a.access.session_id)
    assert session_a.access.session_id
    assert session_b.access.subject == session_a.access.subject
    assert session_a.access.acr == "loa1"


def test_logout_at_one_portal_ends_the_session_at_both_through_back_channel(sso: SsoWorld):
    portal_a, portal_b = sso.portal("portal-dvc"), sso.portal("portal-motcua")
    browser, _, session_a = sso.login("portal-dvc", "official")
    browser.open(sso.url("portal-motcua", "/login"))
    sid = session_a.access.session_id
    session_b = next(s for s in portal_b.sessions.values() if s.access.session_id == sid)
    token_b = session_b.access_token
    api = requests.get(sso.url("portal-motcua", "/api/me"), headers={"Authorization": f"Bearer {token_b}"},
                       timeout=10)
    assert api.status_code == 200 and api.json()["sid"] == sid

    browser.open(sso.url("portal-dvc", "/logout"), method="POST")

    assert wait_for(lambda: any(e.session_id == sid for e in portal_a.backchannel_logouts))
    assert wait_for(lambda: any(e.session_id == sid for e in portal_b.backchannel_logouts))
    assert all(s.access.session_id != sid for s in portal_b.sessions.values())
    page_b = browser.open(sso.url("portal-motcua", "/"))
    assert 'id="anonymous"' in page_b.response.text
    # The access token of B is still unexpired, but its session is over: refused with the reason.
    refused = requests.get(sso.url("portal-motcua", "/api/me"), headers={"Authorization": f"Bearer {token_b}"},
                           timeout=10)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "session_ended"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    with pytest.raises(SessionEnded):
        portal_b.verifier.verify_token(token_b)


def test_step_up_shows_only_the_otp_form_and_yields_loa2(sso: SsoWorld):
    citizen = sso.user("citizen")
    browser, _, loa1 = sso.login("portal-dvc", "citizen")
    sign_url = sso.url("portal-dvc", "/api/sign")

    refused = requests.post(sign_url, headers={"Authorization": f"Bearer {loa1.access_token}"}, timeout=10)
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_user_authentication"' in challenge and 'acr_values="loa2"' in challenge
    with pytest.raises(InsufficientAuthentication) as caught:
        sso.portal("portal-dvc").verifier.verify_token(loa1.access_token, Requirement.of(acr="loa2"))
    assert caught.value.acr_values == "loa2"

    _, step_up, loa2 = sso.login("portal-dvc", "citizen", browser=browser, path="/step-up",
                                 otp=totp(citizen.otp_secret))
    assert step_up.forms == ["otp"]  # the password is not asked again
    assert loa2.access.acr == "loa2"
    assert loa2.access.session_id == loa1.access.session_id
    allowed = requests.post(sign_url, headers={"Authorization": f"Bearer {loa2.access_token}"}, timeout=10)
    assert allowed.status_code == 200 and allowed.json()["acr"] == "loa2"


def test_vneid_login_lands_the_user_in_egov_with_the_mapped_id_number(sso: SsoWorld):
    person = sso.user("079199000123")
    _, navigation, session = sso.login("portal-motcua", person.username, path="/login?idp=vneid")
    assert "password" in navigation.forms  # the VNeID realm's own login page, reached via kc_idp_hint
    assert session.access.claims[ID_NUMBER_ATTRIBUTE] == "079199000123"
    assert "079199000123" in navigation.response.text
    users = sso.admin().get_users({"username": person.username, "exact": True})
    assert len(users) == 1
    assert users[0]["attributes"][ID_NUMBER_ATTRIBUTE] == ["079199000123"]
    links = sso.admin().get_user_social_logins(users[0]["id"])
    assert [link["identityProvider"] for link in links] == ["vneid"]
    assert session.access.has_role("citizen")


def test_apply_again_changes_nothing(sso: SsoWorld):
    browser, _, _ = sso.login("portal-dvc", "official")
    admin = sso.admin()
    clients_before = {c["clientId"]: c["id"] for c in admin.get_clients()}
    flow_before = admin.get_authentication_flow_executions(STEP_UP_FLOW)
    users_before = {u["username"]: u["id"] for u in admin.get_users()}
    result = run_egov(sso.env, "idp", "apply", "--portal-dvc", sso.url("portal-dvc", ""),
                      "--portal-motcua", sso.url("portal-motcua", ""))
    assert result.returncode == 0, result.stderr
    assert "updated realm egov" in result.stdout and "created" not in result.stdout
    assert admin.get_authentication_flow_executions(STEP_UP_FLOW) == flow_before
    assert ensure_step_up_flow(admin) is False  # structure, requirements and level configs all match
    assert {u["username"]: u["id"] for u in admin.get_users()} == users_before
    assert sso.admin().get_realm("egov")["browserFlow"] == STEP_UP_FLOW
    assert {c["clientId"]: c["id"] for c in admin.get_clients()} == clients_before  # updated in place
    assert browser.open(sso.url("portal-motcua", "/login")).forms == []  # so SSO sessions survive an apply


def test_key_rotation_is_picked_up_with_exactly_one_jwks_refetch(sso: SsoWorld):
    verifier, fetch = sso.verifier()
    _, _, before = sso.login("portal-dvc", "clerk")
    assert verifier.verify_token(before.access_token).subject == before.access.subject
    assert fetch.calls == 1

    admin = sso.admin()
    realm_id = admin.get_realm("egov")["id"]
    providers = admin.get_components({"parent": realm_id, "type": "org.keycloak.keys.KeyProvider"})
    rsa = [p for p in providers if p["providerId"] == "rsa-generated"]
    admin.create_component({
        "name": "rsa-rotated", "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
        "parentId": realm_id, "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"],
                                         "active": ["true"], "enabled": ["true"]},
    })
    for provider in rsa:  # passive: still in the JWKS for tokens already out there, no longer signs
        admin.update_component(provider["id"], {**provider, "config": {**provider["config"], "active": ["false"]}})

    _, _, after = sso.login("portal-dvc", "clerk")  # the portal itself verified the new token, no restart
    assert after.access_token.split(".")[0] != before.access_token.split(".")[0]  # another kid in the header
    assert verifier.verify_token(after.access_token).subject == after.access.subject
    assert verifier.verify_token(before.access_token).subject == before.access.subject
    fresh_old, _ = sso.verifier()
    assert fresh_old.verify_token(before.access_token)  # not only from cache: the passive key is still published
    assert fetch.calls == 2
    assert verifier.keys.fetches == 2


def test_full_login_and_sso_hop_are_reported(sso: SsoWorld):
    """Not a timing assertion: the figures go to the benchmark notes (bench/bench_jwt.py measures them too)."""
    started = time.perf_counter()
    browser, _, _ = sso.login("portal-dvc", "auditor")
    login_seconds = time.perf_counter() - started
    started = time.perf_counter()
    hop = browser.open(sso.url("portal-motcua", "/login"))
    hop_seconds = time.perf_counter() - started
    assert hop.forms == []
    print(f"full headless login {login_seconds * 1000:.0f} ms, SSO hop {hop_seconds * 1000:.0f} ms")


def test_unauthenticated_portal_page_offers_both_logins(sso: SsoWorld):
    page = HeadlessBrowser().open(sso.url("portal-dvc", "/"))
    assert "Đăng nhập bằng VNeID" in page.response.text and "/ Log in" in page.response.text
