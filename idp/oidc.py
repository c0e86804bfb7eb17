"""OIDC client helpers for server-side apps: authorization code + PKCE (S256), code exchange, RP-initiated logout."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from idp.jwks import discover


@dataclass(frozen=True)
class ProviderEndpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    end_session_endpoint: str
    jwks_uri: str

    @classmethod
    def discover(cls, issuer: str) -> ProviderEndpoints:
        document = discover(issuer)
        return cls(issuer.rstrip("/"), *(str(document[name]) for name in (
            "authorization_endpoint", "token_endpoint", "end_session_endpoint", "jwks_uri")))


@dataclass(frozen=True)
class AuthorizationRequest:
    """One login attempt: the URL to send the browser to, and what the callback must match (kept server-side)."""

    url: str
    state: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    id_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int


class TokenEndpointError(RuntimeError):
    """The provider refused the code exchange (the OAuth error code, never the code itself)."""


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcClient:
    """A confidential client of the provider (one per portal)."""

    def __init__(self, endpoints: ProviderEndpoints, client_id: str, client_secret: str, redirect_uri: str,
                 http: requests.Session | None = None) -> None:
        self.endpoints = endpoints
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._http = http or requests.Session()

    def authorization_request(self, *, scope: str = "openid profile email", acr_values: str | None = None,
                              idp_hint: str | None = None, prompt: str | None = None,
                              max_age: int | None = None) -> AuthorizationRequest:
        """Built here, URL-encoded, with `openid` in the scope (python-keycloak's auth_url does neither)."""
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair()
        parameters: dict[str, Any] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": scope, "state": state, "nonce": nonce, "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        optional = {"acr_values": acr_values, "kc_idp_hint": idp_hint, "prompt": prompt, "max_age": max_age}
        parameters.update({k: v for k, v in optional.items() if v is not None})
        return AuthorizationRequest(f"{self.endpoints.authorization_endpoint}?{urlencode(parameters)}", state, nonce,
                                    verifier)

    def exchange_code(self, code: str, request: AuthorizationRequest) -> TokenResponse:
        response = self._http.post(self.endpoints.token_endpoint, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "code_verifier": request.code_verifier, "client_id": self.client_id,
            "client_secret": self._client_secret,
        }, timeout=10)
        body: Mapping[str, Any] = response.json() if response.content else {}
        if response.status_code != 200 or "access_token" not in body:
            raise TokenEndpointError(f"token endpoint answered {response.status_code}: {body.get('error', '?')}")
        return TokenResponse(body["access_token"], body.get("id_token", ""), body.get("refresh_token"),
                             int(body.get("expires_in", 0)))

    def end_session_url(self, id_token_hint: str, post_logout_redirect_uri: str, state: str | None = None) -> str:
        """RP-initiated logout: the provider ends the SSO session and calls every app's back-channel endpoint."""
        parameters = {"id_token_hint": id_token_hint, "post_logout_redirect_uri": post_logout_redirect_uri,
                      "client_id": self.client_id}
        if state:
            parameters["state"] = state
        return f"{self.endpoints.end_session_endpoint}?{urlencode(parameters)}"
