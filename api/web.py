"""What every server-rendered form shares: the signed session cookie and CSRF protection (Flask-WTF).

Forms carry `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`; a POST without a valid token is
refused with 400 before the view runs. Machine-to-machine endpoints (OCSP, TSA, CSC, the JSON APIs, back-channel
logout) are exempted by blueprint or view with `csrf.exempt`: they carry no browser session.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_wtf.csrf import CSRFError, CSRFProtect

from api.problems import problem
from egov.settings import Settings

csrf = CSRFProtect()
SESSION_COOKIE = "egov_session"


SETTINGS = "egov.settings"


def current_settings() -> Settings:
    """The settings the app was built with (views of every blueprint read them here)."""
    return current_app.extensions[SETTINGS]


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS] = settings
    # One key for every worker, restart and instance: EGOV_SESSION_SECRET(_FILE), else generated into the data dir.
    app.secret_key = settings.session_signing_secret()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=True,
    )
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> object:
        return problem(400, "csrf", "CSRF token missing or invalid",
                       "Phiên biểu mẫu đã hết hạn hoặc không hợp lệ, hãy tải lại trang / "
                       f"the form's CSRF token is missing or invalid, reload the page ({exc.description})")
