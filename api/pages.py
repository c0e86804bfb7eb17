"""Server-rendered pages for people (Vietnamese first, English beside): the CA page for relying parties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, render_template

from api.web import current_settings
from ca.authority import CA_SLUGS, CertificateAuthority
from egov.settings import Settings
from signing.appearance import VIETNAM, vietnam_iso

blueprint = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")


@dataclass(frozen=True)
class PublishedAuthority:
    subject: str
    not_after: str
    not_after_iso: str
    sha256: str
    certificate_url: str
    crl_url: str | None


def vietnam_time(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def published_authorities(settings: Settings) -> list[PublishedAuthority]:
    """The CA certificates relying parties need, with where to fetch them and their CRLs."""
    authority = CertificateAuthority(settings)
    base = settings.public_base_url
    published = []
    for role, slug in CA_SLUGS.items():
        record = authority.find_role(role)
        if record is None:
            continue
        published.append(
            PublishedAuthority(
                subject=record.subject,
                not_after=vietnam_time(record.not_after),
                not_after_iso=vietnam_iso(record.not_after),
                sha256=record.sha256,
                certificate_url=f"{base}/ca/{slug}.crt",
                crl_url=f"{base}/crl/{slug}.crl",
            )
        )
    return published


@blueprint.get("/ca")
def ca_page() -> str:
    settings = current_settings()
    return render_template("ca.html", authorities=published_authorities(settings), base=settings.public_base_url)


def init_app(app: Flask, settings: Settings) -> None:
    app.register_blueprint(blueprint)
