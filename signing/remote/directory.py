"""Who holds an account in the identity provider, and is it enabled now (Keycloak's admin REST API, read-only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

from egov.settings import Settings
from idp.realm import DIRECTORY_CLIENT, EGOV_REALM, ID_NUMBER_ATTRIBUTE
from signing.remote.errors import AccountDisabled, DirectoryUnavailable


@dataclass(frozen=True)
class DirectoryUser:
    subject: str
    username: str
    given_name: str
    family_name: str
    id_number: str | None
    enabled: bool
    roles: frozenset[str] = frozenset()  # effective realm roles

    @property
    def full_name(self) -> str:
        """Family name first, as Vietnamese names are written."""
        return " ".join(part for part in (self.family_name, self.given_name) if part)


class AccountDirectory(Protocol):
    def find(self, username: str) -> DirectoryUser: ...

    def require_enabled(self, subject: str) -> None: ...


class UnknownUser(LookupError):
    """No account with that username."""


class KeycloakDirectory:
    """Reads users of realm `egov` as the service account of client `egov-directory` (client credentials; it may
    view and query users, nothing more), with a token kept until shortly before it expires. Every answer about
    `enabled` is asked fresh: disabling an account in Keycloak stops its signing at the next request."""

    def __init__(self, base_url: str, client_id: str, secret: Callable[[], str], realm: str = EGOV_REALM,
                 timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.realm = realm
        self._client_id = client_id
        self._secret = secret
        self._timeout = timeout
        self._http = requests.Session()
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> KeycloakDirectory:
        # The secret is read when first needed: building the app must not create one in a fresh data dir.
        return cls(settings.keycloak_url, DIRECTORY_CLIENT, settings.keycloak_directory_client_secret)

    def _access_token(self, renew: bool = False) -> str:
        with self._lock:
            if self._token is not None and not renew and time.monotonic() < self._token[1]:
                return self._token[0]
            answer = self._http.post(
                f"{self.base_url}/realms/{self.realm}/protocol/openid-connect/token",
                data={"grant_type": "client_credentials", "client_id": self._client_id,
                      "client_secret": self._secret()},
                timeout=self._timeout,
            )
            answer.raise_for_status()
            body = answer.json()
            self._token = (body["access_token"], time.monotonic() + max(int(body.get("expires_in", 60)) - 15, 5))
            return self._token[0]

    def _get(self, path: str, params: dict[str, str] | None = None) -> requests.Response:
        try:
            url = f"{self.base_url}/admin/realms/{self.realm}/{path}"
            answer = self._http.get(url, params=params, timeout=self._timeout,
                                    headers={"Authorization": f"Bearer {self._access_token()}"})
            if answer.status_code == 401:  # the token was revoked or the clock jumped: once more
                answer = self._http.get(url, params=params, timeout=self._timeout,
                                        headers={"Authorization": f"Bearer {self._access_token(renew=True)}"})
            if answer.status_code not in (200, 404):
                answer.raise_for_status()
            return answer
        except (requests.RequestException, KeyError, ValueError) as exc:
            raise DirectoryUnavailable(
                f"the identity provider cannot say whether the account is enabled ({exc.__class__.__name__})"
            ) from exc

    def _user(self, data: dict[str, Any]) -> DirectoryUser:
        attributes = data.get("attributes") or {}
        numbers = attributes.get(ID_NUMBER_ATTRIBUTE) or [None]
        mappings = self._get(f"users/{quote(data['id'], safe='')}/role-mappings/realm/composite")
        roles = frozenset(r["name"] for r in mappings.json() if isinstance(r, dict) and "name" in r) \
            if mappings.ok else frozenset()
        return DirectoryUser(
            subject=data["id"], username=data["username"], given_name=data.get("firstName") or "",
            family_name=data.get("lastName") or "", id_number=numbers[0], enabled=bool(data.get("enabled")),
            roles=roles,
        )

    def find(self, username: str) -> DirectoryUser:
        answer = self._get("users", {"username": username, "exact": "true", "briefRepresentation": "false"})
        matches = [u for u in answer.json() if u.get("username") == username.lower()] if answer.ok else []
        if not matches:
            raise UnknownUser(f"no user {username!r} in realm {self.realm}")
        return self._user(matches[0])

    def require_enabled(self, subject: str) -> None:
        answer = self._get(f"users/{quote(subject, safe='')}")
        if answer.status_code == 404 or not answer.json().get("enabled"):
            raise AccountDisabled("the account is disabled in the identity provider")
