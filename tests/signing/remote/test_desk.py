"""The signing desk over HTTP: a batch of PDFs signed with the Decree 30 appearance under one approval (one SAD
bound to every document's hash), the step-up rule, and all-or-nothing on a bad document."""

from __future__ import annotations

import base64

import requests

from tests.signing.remote.conftest import CscWorld
from tests.support.documents import official_document
from tests.support.pdfpeers import pyhanko_statuses


def post_desk(csc: CscWorld, token: str, files: list[tuple[str, bytes]], **form: str) -> requests.Response:
    return requests.post(f"{csc.url}/desk/v1/sign", headers={"Authorization": f"Bearer {token}"}, timeout=120,
                         data={"credentialID": csc.credential("official-rsa"), **form},
                         files=[("document", (name, data, "application/pdf")) for name, data in files])


def _records(csc: CscWorld) -> list[dict]:
    import json

    from sqlalchemy import select

    from egov.audit import AuditRecord

    with csc.authority.database.transaction() as session:
        rows = session.execute(select(AuditRecord).where(AuditRecord.action.in_(("csc.authorize", "csc.signHash")))
                               .order_by(AuditRecord.seq)).scalars()
        return [{"seq": r.seq, "action": r.action, "details": json.loads(r.details)} for r in rows]


def last_seq(csc: CscWorld) -> int:
    records = _records(csc)
    return records[-1]["seq"] if records else 0


def test_batch_is_signed_with_the_decree_30_appearance_under_one_approval(csc: CscWorld):
    documents = [official_document(number=f"{n}/QĐ-UBND") for n in (301, 302)]
    before = last_seq(csc)
    answer = post_desk(csc, csc.tokens.get("official"),
                       [(f"quyet-dinh-{n}.pdf", d.data) for n, d in zip((301, 302), documents, strict=True)],
                       appearance="personal", placeholder=documents[0].placeholder, level="B-B",
                       reason="Phê duyệt", location="Bình Phước")
    assert answer.status_code == 200, answer.text
    signed = answer.json()["documents"]
    assert [d["name"] for d in signed] == ["quyet-dinh-301.pdf", "quyet-dinh-302.pdf"]
    root = csc.authority.require_role("root").certificate
    for document in signed:
        assert document["level"] == "B-B" and document["field"] == documents[0].placeholder
        (status,) = pyhanko_statuses(base64.b64decode(document["pdf"]), [root])
        assert status.intact and status.valid and status.trusted
    records = [r for r in _records(csc) if r["seq"] > before]
    assert [r["action"] for r in records] == ["csc.authorize", "csc.signHash"]
    granted, made = records
    assert granted["details"]["result"] == "granted" and granted["details"]["num_signatures"] == 2
    assert "quyet-dinh-301.pdf" in granted["details"]["documents"]
    assert made["details"]["signatures"] == 2 and made["details"]["activation"] == granted["details"]["activation"]


def test_desk_needs_a_fresh_second_factor(csc: CscWorld):
    answer = post_desk(csc, csc.tokens.get("official", acr="loa1"), [("a.pdf", official_document().data)])
    assert answer.status_code == 401 and answer.json()["error"] == "insufficient_user_authentication"
    assert 'acr_values="loa2"' in answer.headers["WWW-Authenticate"]
    anonymous = requests.post(f"{csc.url}/desk/v1/sign", data={"credentialID": "x"}, timeout=30)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_bad_document_signs_nothing_of_the_batch(csc: CscWorld):
    before = last_seq(csc)
    answer = post_desk(csc, csc.tokens.get("official"),
                       [("good.pdf", official_document().data), ("bad.pdf", b"%PDF-1.7 not really")])
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"error", "error_description"}
    assert [r for r in _records(csc) if r["seq"] > before] == []  # no approval asked, nothing signed


def test_another_officials_credential_cannot_be_used_at_the_desk(csc: CscWorld):
    answer = requests.post(f"{csc.url}/desk/v1/sign", headers={"Authorization": f"Bearer {csc.tokens.get('official')}"},
                           data={"credentialID": csc.credential("clerk-seal")},
                           files=[("document", ("a.pdf", official_document().data, "application/pdf"))], timeout=60)
    assert answer.status_code == 400 and "credentialID" in answer.json()["error_description"]


def test_desk_signs_at_the_requested_pades_level_with_our_tsa(csc: CscWorld):
    document = official_document(number="401/QĐ-UBND")
    answer = post_desk(csc, csc.tokens.get("official"), [("quyet-dinh-401.pdf", document.data)], level="B-T",
                       appearance="attachment", number_symbol="401/QĐ-UBND")
    assert answer.status_code == 200, answer.text
    (signed,) = answer.json()["documents"]
    assert signed["level"] == "B-T"
    (status,) = pyhanko_statuses(base64.b64decode(signed["pdf"]), [csc.authority.require_role("root").certificate])
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
