"""The desk in a real browser (Debian Chromium through Playwright): Keycloak's login page, the upload form, a
click on the page preview to place the box (the static script under the page's CSP), the OTP step-up after
"approve" (a form post answered by a redirect to Keycloak, which the CSP's form-action must allow), downloads."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from signing.validation import Verdict, validate_pdf
from tests.desk.conftest import DeskWorld
from tests.support.browser import chromium
from tests.support.documents import official_document


def keycloak_login(page: Page, desk: DeskWorld, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", desk.password(username))
    page.click("#kc-login")


def test_an_official_signs_in_chromium_by_clicking_through_the_desk(desk: DeskWorld, tmp_path: Path):
    files = []
    for name, pages in (("Tờ trình – số 7.pdf", 1), ("bao-cao.pdf", 2)):
        path = tmp_path / name
        path.write_bytes(official_document(pages=pages, placeholder=False).data)
        files.append(path)
    problems: list[str] = []
    with chromium() as browser:
        page = browser.new_page(accept_downloads=True)
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto(f"{desk.url}/desk/")
        page.click("#login")
        keycloak_login(page, desk, "official")
        expect(page.locator("#upload-form")).to_be_visible()

        page.set_input_files("#upload-form input[type=file][name=documents]", [str(f) for f in files])
        page.click("#upload")
        expect(page.locator("#notice.ok")).to_be_visible()
        rows = page.locator("#documents tbody tr", has_text="Tờ trình – số 7.pdf")
        expect(rows).to_have_count(1)

        rows.locator("a.place").click()
        expect(page.locator("#preview")).to_be_visible()
        page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
        before = page.input_value("#x1")
        box = page.locator("#preview").bounding_box()
        assert box is not None
        # The position is the element's own (Playwright scrolls it into view first).
        page.locator("#preview").click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.6})
        expect(page.locator("#box-marker")).to_be_visible()
        chosen = [float(page.input_value(f"#{name}")) for name in ("x1", "y1", "x2", "y2")]
        assert page.input_value("#x1") != before and chosen[0] < 595 * 0.3 < chosen[2]
        page.click("#save-placement")
        expect(page.locator("#notice.ok")).to_be_visible()
        page.click("text=Về danh sách văn bản")

        for name in ("Tờ trình – số 7.pdf", "bao-cao.pdf"):
            page.locator("#documents tbody tr", has_text=name).locator("input[name=document]").check()
        page.click("#approve")
        page.wait_for_selector("#otp")
        page.fill("#otp", desk.otp("official"))
        page.click("#kc-login")
        expect(page.locator("#notice.ok")).to_be_visible(timeout=60_000)
        expect(page.locator("#level")).to_contain_text("B-T")

        row = page.locator("#documents tbody tr", has_text="Tờ trình – số 7.pdf")
        with page.expect_download() as downloading:
            row.locator("a.download").click()
        download = downloading.value
        assert download.suggested_filename == "Tờ trình – số 7.pdf"
        signed = Path(download.path()).read_bytes()
        page.click("#logout")
        expect(page.locator("#login")).to_be_visible()

    report = validate_pdf(signed, desk.settings)
    (signature,) = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED and signature.page == 0
    assert signature.box is not None and chosen[0] - 0.5 <= signature.box[0] and signature.box[2] <= chosen[2] + 0.5
    assert not [p for p in problems if "Content Security Policy" in p], problems
