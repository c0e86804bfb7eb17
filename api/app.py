"""The Flask application factory: one blueprint per area, wired to the settings read once at start-up."""

from __future__ import annotations

from flask import Flask

from api import csc, desk, desk_pages, ops, pages, pki, problems, v1, verification, web
from egov.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    problems.init_app(app)
    web.init_app(app, settings)
    ops.init_app(app, settings)
    pki.init_app(app, settings)
    csc.init_app(app, settings)
    desk.init_app(app)
    v1.init_app(app, settings)
    for machine_facing in (pki.blueprint, csc.blueprint, desk.blueprint, v1.blueprint):  # protocols and JSON: no forms
        web.csrf.exempt(machine_facing)
    pages.init_app(app, settings)
    desk_pages.init_app(app, settings)
    verification.init_app(app, settings)
    return app
