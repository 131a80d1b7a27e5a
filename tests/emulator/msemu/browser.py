"""Sign-in without a person: fetch the emulator's pages and submit their forms as a browser would.

Each call uses a fresh browser (a private window): no session cookie survives between calls, so every
sign-in shows the sign-in page and then the consent page.
"""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from urllib.parse import urlencode, urljoin

MAX_PAGES = 6


class SignInError(Exception):
    """The emulator showed an error page instead of redirecting back to the client."""

    def __init__(self, page: str, status: int) -> None:
        super().__init__(f"sign-in stopped at an HTTP {status} page: {page[:300]}")
        self.page = page
        self.status = status


@dataclass
class Form:
    id: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    status: int
    url: str
    headers: Message
    html: str
    forms: list[Form]

    @property
    def location(self) -> str | None:
        return self.headers.get("Location") if 300 <= self.status < 400 else None

    @property
    def text(self) -> str:
        """The visible text, for error messages and assertions."""
        without_blocks = re.sub(r"<(style|script)\b.*?</\1>", " ", self.html, flags=re.S | re.I)
        return " ".join(re.sub(r"<[^>]+>", " ", without_blocks).split())


class _FormParser(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("id", attributes.get("name", "")),
                                   urljoin(self.base_url, attributes.get("action", ""))))
        elif tag == "input" and self.forms and attributes.get("name") and attributes.get("type") != "submit":
            self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Stop at redirects: the final one goes to the client's redirect URI, which nothing serves."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    def __init__(self, ca_path: str | None = None) -> None:
        context = ssl.create_default_context(cafile=ca_path) if ca_path else None
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(CookieJar()),
            _NoRedirect())

    def open(self, url: str, fields: dict[str, str] | None = None) -> Page:
        data = urlencode(fields).encode("ascii") if fields is not None else None
        try:
            response = self._opener.open(url, data=data, timeout=30)
        except urllib.error.HTTPError as err:  # 3xx, 4xx and 5xx answers all arrive here
            response = err
        with response:
            html = response.read().decode("utf-8", "replace")
            parser = _FormParser(url)
            parser.feed(html)
            return Page(response.status, url, response.headers, html, parser.forms)


def _walk(browser: Browser, page: Page, user: str | None, consent: bool) -> Page:
    """Fill in the sign-in and consent forms until the emulator answers with anything else."""
    for _ in range(MAX_PAGES):
        form = page.forms[0] if page.status == 200 and page.forms else None
        if form is None or form.id not in ("signin", "consent"):
            return page
        if form.id == "signin":
            answers = {"login": user} if user else {}
        else:
            answers = {"action": "accept" if consent else "cancel"}
        page = browser.open(form.action, dict(form.fields, **answers))
    raise SignInError(page.text, page.status)


def sign_in(base_url: str, ca_path: str | None, authorize_url: str, user: str | None,
            consent: bool = True) -> str:
    """The final redirect as the address bar would show it. For response_mode=form_post, which has no
    redirect, the url-encoded body the browser would POST to the redirect URI."""
    browser = Browser(ca_path)
    page = _walk(browser, browser.open(authorize_url), user, consent)
    if page.location:
        return urljoin(page.url, page.location)
    if page.status == 200 and page.forms and not page.forms[0].action.startswith(base_url + "/"):
        return urlencode(page.forms[0].fields)
    raise SignInError(page.text, page.status)


def device_sign_in(base_url: str, ca_path: str | None, user_code: str, user: str | None,
                   consent: bool = True) -> str:
    """Enter user_code on /devicelogin, sign in and answer the consent page; returns the final page's text."""
    browser = Browser(ca_path)
    entry = browser.open(f"{base_url}/devicelogin")
    page = browser.open(entry.forms[0].action, {"otc": user_code})
    page = _walk(browser, page, user, consent)
    if page.status != 200 or page.forms:
        raise SignInError(page.text, page.status)
    return page.text
