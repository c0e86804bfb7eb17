"""The public verification page /verify: anyone uploads a signed PDF and reads, per signature, who signed, when,
whether it is valid and the Decree 30 details; errors are shown on the page (HTML), never as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from api.pages import vietnam_time
from api.v1 import drain_request_body, uploaded_pdf, verify_document
from api.web import current_settings
from egov.errors import Refusal
from egov.settings import Settings
from signing.appearance import vietnam_iso
from signing.explanation import CHANGES, COVERAGE, REVOCATION, VERDICTS, YES_NO, Bilingual, SignatureKind, kind_of
from signing.validation import SignatureReport, ValidationReport, Verdict

blueprint = Blueprint("verification", __name__)
# data-verdict values: the stable names a browser test or a script reads.
VERDICT_NAMES = {Verdict.TOTAL_PASSED: "valid", Verdict.INDETERMINATE: "indeterminate", Verdict.TOTAL_FAILED: "invalid"}


@dataclass(frozen=True)
class Moment:
    shown: str  # Vietnam time for people
    iso: str  # for <time datetime>

    @classmethod
    def of(cls, moment: datetime | None) -> Moment | None:
        return cls(vietnam_time(moment), vietnam_iso(moment)) if moment else None


@dataclass(frozen=True)
class SignatureView:
    """One signature as the page shows it."""

    report: SignatureReport
    kind: SignatureKind
    verdict_name: str
    verdict: Bilingual
    signed_at: Moment | None  # the timestamp when it is valid, else what the signer's computer claimed
    timestamp: Moment | None
    revoked_at: Moment | None
    revocation: Bilingual | str
    coverage: Bilingual | str
    changes: Bilingual | str
    timestamp_valid: Bilingual | None

    @classmethod
    def of(cls, report: SignatureReport) -> SignatureView:
        proven = report.timestamp_time if report.timestamp_valid else None
        return cls(
            report=report,
            kind=kind_of(report),
            verdict_name=VERDICT_NAMES[report.verdict],
            verdict=VERDICTS[report.verdict],
            signed_at=Moment.of(proven or report.claimed_signing_time),
            timestamp=Moment.of(report.timestamp_time),
            revoked_at=Moment.of(report.revoked_at),
            revocation=REVOCATION.get(report.revocation, report.revocation),
            coverage=COVERAGE.get(report.coverage, report.coverage),
            changes=CHANGES.get(report.modification, report.modification),
            timestamp_valid=YES_NO.get(report.timestamp_valid) if report.timestamp_valid is not None else None,
        )

    @property
    def position(self) -> str | None:
        box = self.report.box
        return "({:.0f}, {:.0f}) – ({:.0f}, {:.0f}) pt".format(*box) if box else None


def _page(report: ValidationReport | None = None, error: Refusal | None = None, status: int = 200
          ) -> tuple[str, int]:
    signatures = [SignatureView.of(s) for s in report.signatures] if report else []
    html = render_template(
        "verify.html", report=report, signatures=signatures, error=error,
        verdict_name=VERDICT_NAMES[report.verdict] if report else None,
        verdict=VERDICTS[report.verdict] if report else None,
        limit_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024), yes_no=YES_NO,
    )
    return html, status


@blueprint.get("/verify")
def verify_form() -> tuple[str, int]:
    return _page()


@blueprint.post("/verify")
def verify_upload() -> tuple[str, int]:
    settings = current_settings()
    try:
        report = verify_document(uploaded_pdf(), settings)
    except Refusal as refusal:
        return _page(error=refusal, status=refusal.status)
    return _page(report)


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    drain_request_body()
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    return _page(error=Refusal(f"Tệp quá lớn: tối đa {limit} MB", f"the file is too large: at most {limit} MB"),
                 status=413)


@blueprint.errorhandler(CSRFError)
def _form_expired(exc: CSRFError) -> tuple[str, int]:
    return _page(error=Refusal("Phiên biểu mẫu đã hết hạn hoặc không hợp lệ, hãy tải lại trang và gửi lại",
                               "the form has expired or is not valid; reload the page and send it again"), status=400)


def init_app(app: Flask, settings: Settings) -> None:
    app.register_blueprint(blueprint)
