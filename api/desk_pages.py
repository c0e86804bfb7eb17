"""The signing desk's web pages under /desk/ (Vietnamese first, English beside): log in through Keycloak, upload
PDFs, choose where the signature goes, approve with an OTP step-up, download; records clerks apply the seal.

Flow (the element ids a browser test drives):

1. `/desk/` anonymous shows `a#login` → `/desk/login` → Keycloak (realm `egov`, client `signing-desk`, code flow
   + PKCE S256 + nonce; the pending state lives in Flask's signed session cookie) → `/desk/callback` opens a desk
   session (database row keyed by the SHA-256 of the `egov_desk` cookie) → `/desk/`.
2. Official (realm role `official`): `form#upload-form` with `input[type=file][name=documents]` (several files)
   and `button#upload`; each upload lands in `table#documents` as pending, with the Decree 30 default place
   (bottom right of the last page).
3. `a.place` in a row → `/desk/documents/<id>`: `img#preview` (PNG of the page, owner only), `form#placement-form`
   with `input#page`, `#x1`, `#y1`, `#x2`, `#y2` (PDF points from the lower left) and `button#save-placement`;
   `/static/desk.js` sets the box where the preview is clicked, the numbers work without it.
4. Tick `input[name=document]` in `table#documents`, press `button#approve` → POST `/desk/approve` → Keycloak
   asks the OTP (`acr_values=loa2`) → `/desk/callback` signs every selected document under one SAD → `/desk/`
   with `#notice` (`.ok` or `.error`, bilingual) → `a.download` per signed document.
5. Clerk (realm role `clerk`): `table#seal-queue` lists signed documents; tick `input[name=document]`, press
   `button#seal` → same OTP step-up → sealed; `table#sealed` lists them with `a.download`.
6. `button#logout` (POST `/desk/logout`) → Keycloak's RP-initiated logout with id_token_hint → back to `/desk/`.
   Keycloak's back-channel logout (`/desk/backchannel-logout`) ends the desk sessions of that Keycloak session.

Without the needed role a page answers a bilingual 403 (`#error`); a form POST without its CSRF token gets 400.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from api import web
from api.csc import remote_signing_service
from api.desk_sessions import COOKIE, DeskSessions, DeskUser
from api.ops import page_csp
from api.pages import vietnam_time
from ca.authority import CertificateAuthority
from egov.db import get_database
from egov.errors import Refusal
from egov.settings import Settings
from idp.errors import TokenError
from idp.jwks import JwksCache
from idp.logout import LogoutTokenVerifier
from idp.oidc import AuthorizationRequest, OidcClient, ProviderEndpoints, TokenEndpointError
from idp.realm import API_CLIENT, EGOV_REALM, SIGNING_DESK_CLIENT
from idp.sessions import LoggedOutSessions
from idp.tokens import AccessToken, IdTokenVerifier, TokenVerifier
from signing.desk_documents import DeskDocuments, DeskRefusal, Upload, clean_file_name
from signing.remote.service import SIGNING_ACR, Caller

log = logging.getLogger("egov.desk")
EXTENSION = "egov.desk_pages"
PENDING_LOGIN = "desk_login"  # Flask session key: state, nonce, PKCE verifier, what to do after
NOTICE = "desk_notice"
OFFICIAL, CLERK = "official", "clerk"
blueprint = Blueprint("desk_pages", __name__, url_prefix="/desk")
F = TypeVar("F", bound=Callable[..., Any])

_HTTP_VIETNAMESE = {
    400: "Yêu cầu không hợp lệ", 401: "Cần đăng nhập", 403: "Không đủ quyền", 404: "Không tìm thấy",
    405: "Phương thức không được phép", 409: "Xung đột trạng thái", 413: "Tệp quá lớn",
    500: "Lỗi nội bộ", 503: "Dịch vụ tạm thời không sẵn sàng",
}


class SignOn:
    """The desk as a confidential OIDC client of realm `egov`; endpoints are discovered on first use, so the app
    starts while Keycloak is still starting."""

    def __init__(self, settings: Settings, keys: JwksCache) -> None:
        self.issuer = f"{settings.keycloak_url}/realms/{EGOV_REALM}"
        self.base_url = f"{settings.public_base_url}/desk"
        self._secret = settings.keycloak_client_secret(SIGNING_DESK_CLIENT)
        self.access_tokens = TokenVerifier(self.issuer, (SIGNING_DESK_CLIENT, API_CLIENT), keys)
        self.id_tokens = IdTokenVerifier(self.issuer, SIGNING_DESK_CLIENT, keys)
        self.logout_tokens = LogoutTokenVerifier(self.issuer, SIGNING_DESK_CLIENT, keys, LoggedOutSessions())
        self._client: OidcClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> OidcClient:
        with self._lock:
            if self._client is None:
                try:
                    endpoints = ProviderEndpoints.discover(self.issuer)
                except (requests.RequestException, ValueError) as exc:
                    raise IdentityProviderUnavailable() from exc
                self._client = OidcClient(endpoints, SIGNING_DESK_CLIENT, self._secret, f"{self.base_url}/callback")
            return self._client


class IdentityProviderUnavailable(DeskRefusal):
    code = "desk-idp-unavailable"
    status = 503

    def __init__(self) -> None:
        super().__init__("Dịch vụ đăng nhập tạm thời không trả lời, hãy thử lại sau",
                         "the login service (Keycloak) does not answer right now, try again later")


def _sign_on() -> SignOn:
    return current_app.extensions[EXTENSION]["sign_on"]


def _sessions() -> DeskSessions:
    return current_app.extensions[EXTENSION]["sessions"]


def _documents() -> DeskDocuments:
    return current_app.extensions[EXTENSION]["documents"]


def current_user() -> DeskUser | None:
    if "desk_user" not in g:
        g.desk_user = _sessions().find(request.cookies.get(COOKIE))
    return g.desk_user


def signed_in() -> DeskUser:
    """The person at the desk, in a view guarded by `requires`."""
    user = current_user()
    if user is None:
        raise LoginRequired()
    return user


def _notify(kind: str, vietnamese: str, english: str) -> None:
    session[NOTICE] = {"kind": kind, "vi": vietnamese, "en": english}


class LoginRequired(DeskRefusal):
    code = "desk-login-required"
    status = 401

    def __init__(self) -> None:
        super().__init__("Cần đăng nhập để dùng bàn ký số", "log in to use the signing desk")


class RoleRequired(DeskRefusal):
    code = "desk-forbidden"
    status = 403


def requires(*roles: str) -> Callable[[F], F]:
    """The view needs a desk session, and one of `roles` when given (else a bilingual 403 page)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("desk_pages.login", next=request.path))
                raise LoginRequired()
            if roles and not any(user.has_role(r) for r in roles):
                wanted = " / ".join(roles)
                raise RoleRequired(f"Trang này dành cho người có vai trò {wanted}; tài khoản {user.username} không có",
                                   f"this page is for the {wanted} role, which {user.username} does not hold")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _start_login(action: str, documents: list[int] | None = None, next_path: str = "/desk/") -> Response:
    """To Keycloak; an approval asks for loa2 (the OTP) within the signing freshness (`max_age`: an older login
    is asked again, so the token's auth_time is recent enough for the remote-signing service)."""
    approval = action in ("sign", "seal")
    login = _sign_on().client.authorization_request(
        acr_values=SIGNING_ACR if approval else None,
        max_age=current_app.extensions[EXTENSION]["max_auth_age"] if approval else None)
    user = current_user()
    session[PENDING_LOGIN] = {"state": login.state, "nonce": login.nonce, "verifier": login.code_verifier,
                              "action": action, "documents": documents or [], "next": next_path,
                              "subject": user.subject if user else None}
    return redirect(login.url)


def _selected_documents() -> list[int]:
    values = request.form.getlist("document")
    if not all(v.isdigit() for v in values):
        raise DeskRefusal("Lựa chọn văn bản không hợp lệ", "the document selection is not valid")
    if not values:
        raise DeskRefusal("Chưa chọn văn bản nào", "no document was selected")
    return [int(v) for v in values]


def _safe_next(path: str | None) -> str:
    return path if path and path.startswith("/desk/") and not path.startswith("//") else "/desk/"


# -- logging in and out ------------------------------------------------------------------------------------


@blueprint.get("/login")
def login() -> Response:
    return _start_login("login", next_path=_safe_next(request.args.get("next")))


@blueprint.get("/callback")
def callback() -> Response:
    pending = session.pop(PENDING_LOGIN, None)
    if not pending or request.args.get("state") != pending.get("state"):
        raise DeskRefusal("Phiên đăng nhập không hợp lệ hoặc đã dùng; hãy đăng nhập lại",
                          "unknown or replayed login state; log in again")
    if request.args.get("error"):
        _notify("error", "Đăng nhập không thành công, chưa ký văn bản nào",
                f"the login did not complete ({request.args['error'][:60]}); nothing was signed")
        return redirect(url_for("desk_pages.index"))
    sign_on = _sign_on()
    try:
        tokens = sign_on.client.exchange_code(request.args.get("code", ""),
                                              AuthorizationRequest("", pending["state"], pending["nonce"],
                                                                   pending["verifier"]))
        sign_on.id_tokens.verify(tokens.id_token, pending["nonce"])
        access = sign_on.access_tokens.verify_token(tokens.access_token)
    except (TokenEndpointError, TokenError) as exc:
        raise DeskRefusal("Đăng nhập thất bại, hãy thử lại", f"the login failed: {exc}") from exc
    except requests.RequestException as exc:
        raise IdentityProviderUnavailable() from exc
    user = DeskUser.of(access, tokens.id_token)
    cookie = _sessions().open(user, replacing=request.cookies.get(COOKIE))
    g.desk_user = user
    if pending["action"] in ("sign", "seal"):
        _approve(pending, access)
    response = redirect(_safe_next(pending.get("next")))
    response.set_cookie(COOKIE, cookie, max_age=int(_sessions().lifetime.total_seconds()), path="/desk",
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _approve(pending: dict[str, Any], access: AccessToken) -> None:
    """After the OTP step-up: sign (official) or seal (clerk) what was selected before it; the result is the notice
    on the next page. A different person than the one who asked signs nothing."""
    documents: list[int] = pending["documents"]
    if pending.get("subject") != access.subject:
        _notify("error", "Người xác thực khác người đã chọn văn bản; chưa ký văn bản nào",
                "a different person completed the login than the one who selected the documents; nothing was signed")
        return
    caller = Caller(access, request.remote_addr)
    desk = _documents()
    try:
        if pending["action"] == "sign":
            done = desk.sign(remote_signing_service(), caller, documents)
            _notify("ok", f"Đã ký {len(done)} văn bản (mức {desk.level.value})",
                    f"signed {len(done)} document(s) at PAdES {desk.level.value}")
        else:
            done = desk.seal(remote_signing_service(), caller, signed_in().display_name, documents)
            _notify("ok", f"Đã đóng dấu {len(done)} văn bản (mức {desk.level.value})",
                    f"sealed {len(done)} document(s) at PAdES {desk.level.value}")
    except Refusal as refusal:
        log.info("desk %s refused: %s", pending["action"], refusal.code)
        _notify("error", f"{refusal.vietnamese}. Chưa ký văn bản nào", f"{refusal.english}. Nothing was signed")


@blueprint.post("/logout")
def logout() -> Response:
    user = _sessions().close(request.cookies.get(COOKIE))
    target = url_for("desk_pages.index")
    if user is not None:
        target = _sign_on().client.end_session_url(user.id_token, f"{_sign_on().base_url}/")
    response = redirect(target)
    response.delete_cookie(COOKIE, path="/desk")
    session.pop(PENDING_LOGIN, None)
    return response


@blueprint.post("/backchannel-logout")
def backchannel_logout() -> Response:
    """Keycloak's server-to-server call (OIDC Back-Channel Logout 1.0): verify the logout token, end the sessions."""
    try:
        event = _sign_on().logout_tokens.verify(request.form.get("logout_token", ""))
    except TokenError as exc:
        return Response(json.dumps({"error": "invalid_request", "reason": exc.reason}), status=400,
                        mimetype="application/json", headers={"Cache-Control": "no-store"})
    ended = _sessions().end(event.session_id, event.subject)
    log.info("desk back-channel logout ended %d session(s)", ended)
    return Response("", headers={"Cache-Control": "no-store"})


# -- pages -------------------------------------------------------------------------------------------------


@blueprint.get("/")
def index() -> Response | str:
    user = current_user()
    notice = session.pop(NOTICE, None)
    if user is None:
        return render_template("desk/index.html", user=None, notice=notice)
    if not (user.has_role(OFFICIAL) or user.has_role(CLERK)):
        raise RoleRequired(f"Bàn ký số dành cho cán bộ (official) và văn thư (clerk); tài khoản {user.username} "
                           "không có vai trò nào trong hai vai trò này",
                           f"the signing desk is for officials and records clerks; {user.username} is neither")
    desk = _documents()
    return render_template(
        "desk/index.html", user=user, notice=notice, level=desk.level.value,
        documents=desk.of_owner(user.subject) if user.has_role(OFFICIAL) else None,
        seal_queue=desk.awaiting_seal() if user.has_role(CLERK) else None,
        sealed=desk.sealed_by(user.subject) if user.has_role(CLERK) else None,
    )


@blueprint.post("/upload")
@requires(OFFICIAL)
def upload() -> Response:
    user = signed_in()
    files = [f for f in request.files.getlist("documents") if f.filename]
    uploads = [Upload(clean_file_name(f.filename), f.read()) for f in files]
    stored = _documents().upload(user.subject, user.display_name, uploads)
    _notify("ok", f"Đã tải lên {len(stored)} văn bản, chờ duyệt", f"uploaded {len(stored)} document(s), pending")
    return redirect(url_for("desk_pages.index"))


@blueprint.get("/documents/<int:document_id>")
@requires(OFFICIAL)
def document(document_id: int) -> str:
    user = signed_in()
    desk = _documents()
    shown = desk.owned(user.subject, document_id)
    page = request.args.get("page", type=int) or shown.page
    if not 1 <= page <= shown.page_count:
        page = shown.page
    width, height = desk.page_size(user.subject, document_id, page)
    return render_template("desk/document.html", user=user, document=shown, page=page, page_width=width,
                           page_height=height, notice=session.pop(NOTICE, None))


@blueprint.post("/documents/<int:document_id>/placement")
@requires(OFFICIAL)
def placement(document_id: int) -> Response:
    user = signed_in()
    try:
        page = int(request.form.get("page", ""))
        x1, y1, x2, y2 = (float(request.form.get(name, "")) for name in ("x1", "y1", "x2", "y2"))
    except ValueError as exc:
        raise DeskRefusal("Trang và khung chữ ký phải là số", "the page and the box must be numbers") from exc
    _documents().place(user.subject, document_id, page, (x1, y1, x2, y2))
    _notify("ok", f"Đã lưu vị trí chữ ký: trang {page}", f"signature position saved: page {page}")
    return redirect(url_for("desk_pages.document", document_id=document_id))


@blueprint.get("/documents/<int:document_id>/preview.png")
@requires(OFFICIAL)
def preview(document_id: int) -> Response:
    user = signed_in()
    page = request.args.get("page", type=int) or 1
    png = _documents().preview(user.subject, document_id, page)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@blueprint.get("/documents/<int:document_id>/download")
@requires(OFFICIAL, CLERK)
def download(document_id: int) -> Response:
    user = signed_in()
    signed = _documents().download(user.subject, document_id)
    response = send_file(BytesIO(signed.data), mimetype="application/pdf", as_attachment=True,
                         download_name=signed.file_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/approve")
@requires(OFFICIAL)
def approve() -> Response:
    """Check what can be checked before spending the official's OTP, then step up to loa2."""
    selected = _selected_documents()
    _documents().check_signing(signed_in().subject, selected)
    return _start_login("sign", selected)


@blueprint.post("/seal")
@requires(CLERK)
def seal() -> Response:
    selected = _selected_documents()
    _documents().check_sealing(signed_in().subject, selected)
    return _start_login("seal", selected)


# -- errors as pages ---------------------------------------------------------------------------------------


def _error_page(status: int, vietnamese: str, english: str) -> tuple[str, int]:
    body = render_template("desk/error.html", status=status, vietnamese=vietnamese, english=english,
                           user=current_user())
    return body, status


@blueprint.errorhandler(Refusal)
def _refused(exc: Refusal) -> tuple[str, int]:
    return _error_page(exc.status, exc.vietnamese, exc.english)


@blueprint.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError) -> tuple[str, int]:
    return _error_page(400, "Phiên biểu mẫu đã hết hạn hoặc không hợp lệ, hãy tải lại trang",
                       f"the form's CSRF token is missing or invalid, reload the page ({exc.description})")


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    return _error_page(status, _HTTP_VIETNAMESE.get(status, "Không thực hiện được yêu cầu"),
                       f"{exc.name}: {exc.description}")


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("desk page failed")
    return _error_page(500, "Lỗi nội bộ, hãy thử lại sau", "internal error, try again later")


blueprint.add_app_template_filter(vietnam_time, "desk_time")


def _content_security_policy(settings: Settings) -> str:
    """The pages' policy, with Keycloak allowed as a form target: approving and logging out are form posts answered
    by a redirect to Keycloak, which browsers check against form-action."""
    keycloak = urlsplit(settings.keycloak_url)
    return page_csp(f"'self' {keycloak.scheme}://{keycloak.netloc}")


@blueprint.after_request
def _policy(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = current_app.extensions[EXTENSION]["csp"]
    return response


def init_app(app: Flask, settings: Settings) -> None:
    database = get_database(settings)
    app.extensions[EXTENSION] = {
        "csp": _content_security_policy(settings),
        "max_auth_age": settings.signing_max_auth_age,
        # The realm's keys are the CSC verifier's (one JWKS cache per process, one refetch per key rotation).
        "sign_on": SignOn(settings, app.extensions["egov.csc"]["keys"]),
        "sessions": DeskSessions(database),
        "documents": DeskDocuments(database, settings, CertificateAuthority(settings, database)),
    }
    web.csrf.exempt(backchannel_logout)  # Keycloak calls it server to server, with no browser session
    app.register_blueprint(blueprint)
