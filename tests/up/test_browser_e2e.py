"""Browser end-to-end on the whole service that `egov up` started: headless Debian Chromium driven by Playwright
through Keycloak's real login pages. A citizen moves between the two portals with one login and logs out of both
from one; an official signs on the desk with the OTP step-up and the public verification page judges the result
(and a tampered copy). A screenshot of every step is kept under test-artifacts/browser/ (EGOV_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from idp.otp import totp
from tests.support.browser import chromium
from tests.support.documents import official_document
from tests.support.stack import Stack

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("EGOV_TEST_ARTIFACTS") or REPO / "test-artifacts") / "browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class Steps:
    """Screenshots named after the test and the step, in the order taken."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.directory = ARTIFACTS / name
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("*.png"):
            old.unlink()
        self.count = 0

    def shot(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.directory / f"{self.count:02d}-{step}.png"), full_page=True)


def keycloak_login(page: Page, steps: Steps, username: str, password: str) -> None:
    expect(page.locator("#username")).to_be_visible()
    steps.shot("keycloak-login-page")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


def keycloak_otp(page: Page, steps: Steps, secret: str, last_code: dict[str, str]) -> None:
    expect(page.locator("#otp")).to_be_visible()
    steps.shot("keycloak-otp-page")
    while (code := totp(secret)) == last_code.get(secret):  # Keycloak refuses a code twice
        time.sleep(1)
    last_code[secret] = code
    page.fill("#otp", code)
    page.click("#kc-login")


def portal_base(stack: Stack, name: str) -> str:
    return stack.urls[name].rstrip("/")


def test_a_citizen_logs_in_once_for_both_portals_and_out_of_both_from_one(stack: Stack, browser: Browser):
    dvc, motcua = portal_base(stack, "portal-dvc"), portal_base(stack, "portal-motcua")
    citizen = stack.users["citizen"]
    context = browser.new_context()
    page = context.new_page()
    steps = Steps(page, "sso-across-portals")
    page.goto(f"{dvc}/")
    expect(page.locator("#anonymous")).to_be_visible()
    steps.shot("portal-a-anonymous")
    page.click("a[href='/login']")
    keycloak_login(page, steps, citizen.username, citizen.password)
    page.wait_for_url(f"{dvc}/")
    session_id = page.inner_text("#sid")
    expect(page.locator("body")).to_contain_text("Xin chào")
    steps.shot("portal-a-logged-in")

    page.click(f"a[href='{motcua}/login']")  # the link to portal B: Keycloak's SSO cookie answers, no form
    page.wait_for_url(f"{motcua}/")
    assert page.locator("#username").count() == 0
    assert page.inner_text("#sid") == session_id  # one Keycloak session for both portals
    steps.shot("portal-b-without-second-login")

    page.click("form[action='/logout'] button")
    page.wait_for_url(f"{motcua}/")
    expect(page.locator("#anonymous")).to_be_visible()
    steps.shot("portal-b-logged-out")
    page.goto(f"{dvc}/")  # Keycloak's back-channel logout has already ended portal A's session
    expect(page.locator("#anonymous")).to_be_visible()
    steps.shot("portal-a-logged-out-too")
    page.goto(f"{motcua}/login")  # and the Keycloak session is gone: the login form is asked again
    expect(page.locator("#username")).to_be_visible()
    context.close()


def flip_inside_signed_range(data: bytes) -> bytes:
    """One byte of the document information dictionary (covered by the signature) changed."""
    at = data.index(b"ReportLab Generated PDF document")
    return data[:at] + b"X" + data[at + 1 :]


def verify_in_browser(page: Page, steps: Steps, verify_url: str, path: Path, step: str) -> str:
    page.goto(verify_url)
    page.set_input_files("#verify-form input[type=file][name=file]", str(path))
    page.click("#verify-form [type=submit]")
    expect(page.locator("#verdict")).to_be_visible()
    steps.shot(step)
    return page.get_attribute("#verdict", "data-verdict") or ""


def test_an_official_signs_on_the_desk_with_the_otp_and_the_verification_page_judges_it(
    stack: Stack, browser: Browser, tmp_path: Path
):
    official = stack.users["official"]
    assert official.otp_secret
    name = "Quyết định – Nguyễn Thị Hồng Đào.pdf"
    source = tmp_path / name
    source.write_bytes(official_document(pages=2, placeholder=False).data)

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    steps = Steps(page, "desk-sign-and-verify")
    page.goto(stack.urls["desk"])
    steps.shot("desk-anonymous")
    page.click("#login")
    keycloak_login(page, steps, official.username, official.password)
    expect(page.locator("#upload-form")).to_be_visible()
    steps.shot("desk-logged-in")

    page.set_input_files("#upload-form input[type=file][name=documents]", str(source))
    page.click("#upload")
    expect(page.locator("#notice.ok")).to_be_visible()
    row = page.locator("#documents tbody tr", has_text=name)
    expect(row).to_have_count(1)
    steps.shot("desk-uploaded")

    row.locator("a.place").click()
    expect(page.locator("#preview")).to_be_visible()
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
    steps.shot("desk-preview-and-position")
    page.click("text=Về danh sách văn bản")

    page.locator("#documents tbody tr", has_text=name).locator("input[name=document]").check()
    page.click("#approve")
    keycloak_otp(page, steps, official.otp_secret, {})
    expect(page.locator("#notice.ok")).to_be_visible(timeout=90_000)
    steps.shot("desk-signed")
    with page.expect_download() as downloading:
        page.locator("#documents tbody tr", has_text=name).locator("a.download").click()
    signed = tmp_path / "signed.pdf"
    downloading.value.save_as(signed)
    assert downloading.value.suggested_filename == name

    assert verify_in_browser(page, steps, stack.urls["verify"], signed, "verify-signed-valid") == "valid"
    expect(page.locator("#verdict")).to_contain_text("hợp lệ")
    expect(page.locator(".signature")).to_have_count(1)
    expect(page.locator(".signature")).to_contain_text("Trần Thị Bình")  # the official, family name first

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(flip_inside_signed_range(signed.read_bytes()))
    assert verify_in_browser(page, steps, stack.urls["verify"], tampered, "verify-tampered-invalid") == "invalid"
    expect(page.locator("#verdict")).to_contain_text("không hợp lệ")
    context.close()


@pytest.mark.parametrize("page_name", ["desk", "verify", "ca", "portal-dvc"])
def test_pages_fit_a_phone_screen_without_sideways_scrolling(stack: Stack, browser: Browser, page_name: str):
    """390 CSS pixels wide (a common phone): nothing wider than the screen, text readable, the page in Vietnamese."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(stack.urls[page_name])
    steps = Steps(page, f"phone-{page_name}")
    steps.shot("phone")
    assert page.evaluate("document.documentElement.lang") == "vi"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page_name} is {overflow} px wider than a phone screen"
    smallest = page.evaluate(
        "Math.min(...[...document.querySelectorAll('p, a, label, button, td, th, li')]"
        ".filter(e => e.offsetParent !== null && e.textContent.trim())"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
    assert smallest >= 12, f"text of {smallest}px on {page_name}"
    context.close()
