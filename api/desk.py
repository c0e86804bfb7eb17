"""The signing desk over HTTP: upload PDFs with appearance options, get them back signed; the approval is the
official's fresh loa2 login and one SAD covers the whole batch (the rules of the CSC API)."""

from __future__ import annotations

import base64

from flask import Blueprint, Flask, Response, request

from api.csc import caller_of_request, csc_json, refusal, remote_signing_service
from idp.errors import TokenError
from signing.errors import SigningError
from signing.remote.desk import DeskDocument, sign_documents, signature_request
from signing.remote.errors import CscError, InvalidRequest

blueprint = Blueprint("desk", __name__)


@blueprint.post("/desk/v1/sign")
def sign() -> Response:
    """multipart/form-data: `credentialID`, one or more `document` files, `level`, `appearance` (none, personal with
    `placeholder` or `page`+`box`, seal, copy with `copy_form`+`copy_org`, attachment with `number_symbol`),
    `reason`, `location`. Answers the signed PDFs as base64 in JSON, in the order sent."""
    caller = caller_of_request()
    try:
        caller.require_token()  # a missing or bad token is answered as such, before any form field
        documents = [DeskDocument(f.filename or f"document-{i + 1}.pdf", f.read())
                     for i, f in enumerate(request.files.getlist("document"))]
        credential_id = request.form.get("credentialID") or ""
        if not credential_id:
            raise InvalidRequest("Missing (or invalid type) string parameter credentialID")
        level, signature = signature_request(request.form)
        signed = sign_documents(remote_signing_service(), caller, credential_id, documents, level, signature)
    except (CscError, TokenError) as error:
        return refusal(error)
    except SigningError as error:
        return csc_json({"error": error.code, "error_description": error.english}, error.status)
    return csc_json({"documents": [
        {"name": d.name, "level": s.level.value, "field": s.field_name, "signing_time": s.signing_time.isoformat(),
         "pdf": base64.b64encode(s.data).decode()}
        for d, s in zip(documents, signed, strict=True)
    ]})


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
