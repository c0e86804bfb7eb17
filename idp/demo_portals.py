"""Two demo portals on the idp library ("Cổng Dịch vụ công", "Hệ thống Một cửa"): SSO, step-up, logout everywhere."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from idp.errors import TokenError
from idp.jwks import JwksCache
from idp.logout import LogoutEvent, LogoutTokenVerifier
from idp.oidc import AuthorizationRequest, OidcClient, ProviderEndpoints, TokenEndpointError
from idp.realm import API_CLIENT, ID_NUMBER_ATTRIBUTE, LOA2_MAX_AGE, PortalClient
from idp.sessions import LoggedOutSessions
from idp.tokens import AccessToken, IdTokenVerifier, TokenVerifier
from idp.web import current_token, init_token_verification, require_token

VIETNAM = timezone(timedelta(hours=7), "ICT")
MAX_PENDING_LOGINS = 10_000
PORTALS = (
    ("portal-dvc", "Cổng Dịch vụ công", "Public Service Portal"),
    ("portal-motcua", "Hệ thống Một cửa", "One-Stop Shop System"),
)

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:46rem;margin:1rem auto;padding:0 1rem;line-height:1.5}
th{text-align:left;padding-right:1rem;vertical-align:top}td{overflow-wrap:anywhere}.en{color:#555}
a,button{font-size:1rem;min-height:2.75rem}</style></head><body>
<h1>{{ title }} <span class="en" lang="en">/ {{ title_en }}</span></h1>
{% if session %}
<p>Xin chào <b>{{ display_name }}</b> <span class="en" lang="en">/ Hello</span></p>
<table>
<tr><th>Định danh / subject</th><td>{{ session.access.subject }}</td></tr>
<tr><th>Số định danh / ID number</th><td>{{ session.access.claims.get(id_attr, "-") }}</td></tr>
<tr><th>Mức đảm bảo / acr</th><td id="acr">{{ session.access.acr }}</td></tr>
<tr><th>Xác thực lúc / auth_time</th><td>{{ auth_time }}</td></tr>
<tr><th>Phiên SSO / sid</th><td id="sid">{{ session.access.session_id }}</td></tr>
<tr><th>Vai trò / roles</th><td>{{ session.access.realm_roles|sort|join(", ") }}</td></tr>
</table>
<p><a href="/step-up">Xác thực OTP (loa2) <span class="en" lang="en">/ step up with OTP</span></a></p>
{% for name, url in links %}<p><a href="{{ url }}">Sang {{ name }} <span class="en" lang="en">/ go to {{ name }}
(không đăng nhập lại / no second login)</span></a></p>{% endfor %}
<form method="post" action="/logout"><button>Đăng xuất <span class="en" lang="en">/ Log out</span></button></form>
{% else %}
<p id="anonymous">Chưa đăng nhập <span class="en" lang="en">/ not logged in</span></p>
<p><a href="/login">Đăng nhập <span class="en" lang="en">/ Log in</span></a> ·
<a href="/login?idp=vneid">Đăng nhập bằng VNeID <span class="en" lang="en">/ Log in with VNeID</span></a></p>
{% endif %}
</body></html>"""


def vietnamese_name(access: AccessToken) -> str:
    """Family name first, as Vietnamese names are written (Keycloak's `name` puts the given name first)."""
    family, given = access.claims.get("family_name"), access.claims.get("given_name")
    return f"{family} {given}" if family and given else access.name


@dataclass
class PortalSession:
    access: AccessToken
    access_token: str = field(repr=False)
    id_token: str = field(repr=False)


class Portal:
    """One relying party: pending logins, its sessions, and the back-channel logouts it received."""

    def __init__(self, client: PortalClient, title_en: str, client_secret: str, endpoints: ProviderEndpoints,
                 keys: JwksCache | None = None, links: tuple[tuple[str, str], ...] = ()) -> None:
        self.client = client
        self.links = links  # (name, URL) of the other portals, to show that no second login is asked
        self.title_en = title_en
        self.cookie = f"{client.client_id}_session"  # cookies ignore ports: one name per portal on one host
        self.keys = keys or JwksCache(endpoints.jwks_uri)
        self.logged_out = LoggedOutSessions()
        self.oidc = OidcClient(endpoints, client.client_id, client_secret, client.redirect_uri)
        self.verifier = TokenVerifier(endpoints.issuer, (client.client_id, API_CLIENT), self.keys,
                                      sessions=self.logged_out)
        self.id_tokens = IdTokenVerifier(endpoints.issuer, client.client_id, self.keys)
        self.logout_tokens = LogoutTokenVerifier(endpoints.issuer, client.client_id, self.keys, self.logged_out)
        self.pending: dict[str, AuthorizationRequest] = {}
        self.sessions: dict[str, PortalSession] = {}
        self.backchannel_logouts: list[LogoutEvent] = []
        self._lock = threading.Lock()

    def session_of(self, cookie: str | None) -> PortalSession | None:
        session = self.sessions.get(cookie or "")
        if session is not None and self.logged_out.has_ended(session.access):
            self.sessions.pop(cookie or "", None)
            return None
        return session

    def end_sessions(self, event: LogoutEvent) -> None:
        with self._lock:
            self.backchannel_logouts.append(event)
            for key, session in list(self.sessions.items()):
                if session.access.session_id == event.session_id or (
                        event.session_id is None and session.access.subject == event.subject):
                    del self.sessions[key]


def create_portal(portal: Portal) -> Flask:
    app = Flask(portal.client.client_id)
    app.extensions["egov.portal"] = portal
    init_token_verification(app, portal.verifier)

    def start_login(**options: str | None) -> Response:
        login = portal.oidc.authorization_request(**options)  # type: ignore[arg-type]
        if len(portal.pending) >= MAX_PENDING_LOGINS:  # abandoned logins must not grow memory without bound
            portal.pending.pop(next(iter(portal.pending)), None)
        portal.pending[login.state] = login
        return redirect(login.url)

    @app.get("/")
    def home() -> str:
        session = portal.session_of(request.cookies.get(portal.cookie))
        auth_time = "-"
        if session and session.access.auth_time:
            auth_time = datetime.fromtimestamp(session.access.auth_time, VIETNAM).isoformat(timespec="seconds")
        return render_template_string(PAGE, title=portal.client.name, title_en=portal.title_en, session=session,
                                      auth_time=auth_time, id_attr=ID_NUMBER_ATTRIBUTE, links=portal.links,
                                      display_name=session and vietnamese_name(session.access))

    @app.get("/login")
    def login() -> Response:
        return start_login(idp_hint="vneid" if request.args.get("idp") == "vneid" else None)

    @app.get("/step-up")
    def step_up() -> Response:
        return start_login(acr_values="loa2")

    @app.get("/callback")
    def callback() -> Response:
        pending = portal.pending.pop(request.args.get("state", ""), None)
        code = request.args.get("code")
        if pending is None or not code:
            abort(400, "đăng nhập không hợp lệ / unknown or replayed login state")
        try:
            tokens = portal.oidc.exchange_code(code, pending)
            portal.id_tokens.verify(tokens.id_token, pending.nonce)
            access = portal.verifier.verify_token(tokens.access_token)
        except (TokenEndpointError, TokenError) as exc:
            abort(400, f"đăng nhập thất bại / login failed: {exc}")
        key = secrets.token_urlsafe(32)
        portal.sessions[key] = PortalSession(access, tokens.access_token, tokens.id_token)
        response = redirect("/")
        response.set_cookie(portal.cookie, key, httponly=True, samesite="Lax")
        return response

    @app.post("/logout")
    def logout() -> Response:
        session = portal.sessions.pop(request.cookies.get(portal.cookie) or "", None)
        if session is None:
            return redirect("/")
        response = redirect(portal.oidc.end_session_url(session.id_token, f"{portal.client.base_url}/"))
        response.delete_cookie(portal.cookie)
        return response

    @app.post("/backchannel-logout")
    def backchannel_logout() -> tuple[Response, int]:
        try:
            event = portal.logout_tokens.verify(request.form.get("logout_token", ""))
        except TokenError as exc:
            return jsonify(error="invalid_request", reason=exc.reason), 400
        portal.end_sessions(event)
        return Response("", headers={"Cache-Control": "no-store"}), 200

    @app.get("/api/me")
    @require_token()
    def me() -> Response:
        access = current_token()
        return jsonify(sub=access.subject, sid=access.session_id, acr=access.acr, roles=sorted(access.realm_roles),
                       so_dinh_danh=access.claims.get(ID_NUMBER_ATTRIBUTE))

    @app.post("/api/sign")
    @require_token(acr="loa2", max_age=LOA2_MAX_AGE)
    def sign() -> Response:
        return jsonify(approved=True, sub=current_token().subject, acr=current_token().acr)

    return app


class _RequestHandler(WSGIRequestHandler):
    """Access log without query strings: callbacks carry authorization codes, which never go to a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, str(code))


class PortalServer:
    """A portal served on 127.0.0.1 in a background thread (demo and tests)."""

    def __init__(self, portal: Portal, port: int) -> None:
        self.portal = portal
        self.app = create_portal(portal)
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, self.app, threaded=True,
                                                       request_handler=_RequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=portal.client.client_id, daemon=True)

    def start(self) -> PortalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
