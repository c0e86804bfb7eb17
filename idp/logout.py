"""OIDC Back-Channel Logout 1.0 for apps: verify the provider's `logout_token` and end that session here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from idp.errors import MalformedToken, MissingClaim, ReplayedToken, TokenExpired, WrongTokenType
from idp.jwks import DEFAULT_ALGORITHMS, JwksCache
from idp.sessions import LoggedOutSessions
from idp.tokens import DEFAULT_LEEWAY, SignedTokenDecoder, check_issuer_audience, check_times

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN_AGE = 300  # a logout token is sent right away; an old one is a replay attempt


@dataclass(frozen=True)
class LogoutEvent:
    session_id: str | None
    subject: str | None


class LogoutTokenVerifier:
    """Checks a `logout_token` (signature, iss, aud, iat, events, sid/sub, no nonce, jti not replayed) and records
    the logout in `sessions`, so tokens of that session are refused from then on."""

    def __init__(self, issuer: str, client_id: str, keys: JwksCache, sessions: LoggedOutSessions, *,
                 algorithms: Iterable[str] = DEFAULT_ALGORITHMS, leeway: int = DEFAULT_LEEWAY,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.decoder = SignedTokenDecoder(keys, algorithms)
        self.sessions = sessions
        self.leeway = leeway
        self.clock = clock

    def verify(self, logout_token: str) -> LogoutEvent:
        typ, claims = self.decoder.decode(logout_token)
        if typ not in (None, "jwt", "logout+jwt"):
            raise WrongTokenType("header typ is not logout+jwt")
        now = self.clock()
        check_times(claims, now, self.leeway, require_exp=False)
        if now - claims["iat"] > MAX_LOGOUT_TOKEN_AGE + self.leeway:
            raise TokenExpired("logout token too old")
        check_issuer_audience(claims, self.issuer, frozenset([self.client_id]), accept_azp=False)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise WrongTokenType("no back-channel logout event")
        if "nonce" in claims:
            raise MalformedToken("a logout token must not carry a nonce")
        sid, sub = claims.get("sid"), claims.get("sub")
        if not isinstance(sid, str) and not isinstance(sub, str):
            raise MissingClaim("neither sid nor sub")
        jti = claims.get("jti")
        if not isinstance(jti, str):
            raise MissingClaim("no jti")
        if not self.sessions.first_use_of(jti):
            raise ReplayedToken("logout token already used")
        event = LogoutEvent(sid if isinstance(sid, str) else None, sub if isinstance(sub, str) else None)
        self.sessions.end(event.session_id, event.subject)
        return event
