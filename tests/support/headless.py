"""A headless user agent for Keycloak's login pages: keeps its cookies on http://localhost, posts the latest form."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if "password" in self.fields:
            return "password"
        if "otp" in self.fields:
            return "otp"
        return "other"


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(html.unescape(values.get("action", ""))))
        elif tag == "input" and self.forms and values.get("name"):
            if values.get("type") in ("submit", "button", "checkbox", "radio") and "checked" not in values:
                return
            self.forms[-1].fields[values["name"]] = values.get("value", "")


class LoginFormError(AssertionError):
    """A page we cannot answer (wrong password, unexpected form, error page)."""


@dataclass
class Navigation:
    response: requests.Response
    forms: list[str]  # the kinds of forms filled on the way ("password", "otp", "other")


class HeadlessBrowser:
    def __init__(self) -> None:
        self.http = requests.Session()
        # Keycloak marks its cookies Secure even on http://localhost; without this they never come back.
        self.http.cookies.set_policy(DefaultCookiePolicy(secure_protocols=("http", "https")))

    def open(self, url: str, *, username: str | None = None, password: str | None = None,
             otp: str | None = None, method: str = "GET", max_steps: int = 30) -> Navigation:
        """Follow redirects and fill Keycloak's forms until a page that is not a form (the app's page)."""
        filled: list[str] = []
        data: dict[str, str] | None = None
        for _ in range(max_steps):
            response = self.http.request(method, url, data=data, allow_redirects=False, timeout=30)
            for cookie in self.http.cookies:
                # requests merges the jar into a fresh one (default policy) per request, so the policy alone
                # is not enough: drop the Secure flag that Keycloak sets on http://localhost.
                cookie.secure = False
            if response.is_redirect:
                url, method, data = urljoin(url, response.headers["Location"]), "GET", None
                continue
            parser = _Forms()
            parser.feed(response.text if "html" in response.headers.get("Content-Type", "") else "")
            forms = [f for f in parser.forms if "login-actions" in f.action or "broker" in f.action]
            if response.status_code != 200 or not forms:
                return Navigation(response, filled)
            form = next((f for f in forms if f.kind != "other"), forms[-1])
            values = dict(form.fields)
            if form.kind == "password":
                if username is None or password is None:
                    raise LoginFormError("a login form was shown")
                values.update(username=username, password=password)
            elif form.kind == "otp":
                if otp is None:
                    raise LoginFormError("an OTP form was shown")
                values["otp"] = otp
            if len(filled) > 8 and filled[-1] == form.kind:
                raise LoginFormError(f"stuck on a {form.kind} form: {response.text[:2000]}")
            filled.append(form.kind)
            url, method, data = urljoin(url, form.action), "POST", values
        raise LoginFormError("too many steps")
