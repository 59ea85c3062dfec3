"""The API documentation pages, /docs (Swagger UI) and /redoc, work without internet access:
everything they load comes from Mizual itself.

The browser tests drive Debian's Chromium through Playwright, launched as tests/test_web_page.py
does (it skips where /usr/bin/chromium is missing, and fails so in CI). The page is opened under a
host name other than localhost, as in a deployment (Swagger UI treats localhost specially), and
every request to any other host is aborted and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    expect,
)

from tests.browser import chromium
from tests.support import MizualServer

DOCS_HOST = "docs.mizual.test"  # Chromium resolves it to the loopback address
PAGES = ["/docs", "/redoc"]
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
# Redoc's footer shows Redocly's logo from their CDN, unconditionally; the pages' policy stops
# the browser from fetching it, and Redoc then leaves the logo out.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class _Assets(HTMLParser):
    """The addresses of a page's scripts, styles and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag == "script" else values.get("href")
        if tag in {"script", "link"} and url:
            self.urls.append(url)


def assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_load_their_files_from_this_server(server: MizualServer, path: str) -> None:
    with server.client() as client:
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        urls = assets_of(page.text)
        assert len(urls) >= 2, urls  # the script, and the icon (and Swagger UI's styles)
        assert not [url for url in urls if re.match(r"(https?:)?//", url)], urls
        assert not re.search(r"https?://", page.text), "the page names another host"
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        for url in urls:
            asset = client.get(urljoin(f"{server.url}{path}", url))
            assert asset.status_code == 200, url
            expected = CONTENT_TYPES[Path(urlsplit(url).path).suffix]
            assert asset.headers["content-type"].startswith(expected), url
            assert "immutable" in asset.headers["cache-control"], url
            assert len(asset.content) > 500, url


def test_fastapis_cdn_pages_are_not_served(server: MizualServer) -> None:
    """The Swagger UI page is ours, not FastAPI's default that loads from a CDN."""
    page = httpx.get(f"{server.url}/docs", timeout=10).text
    assert "cdn.jsdelivr.net" not in page
    assert "fastapi.tiangolo.com" not in page
    assert "SwaggerUIBundle" in page


def test_oauth2_redirect_page_is_served(server: MizualServer) -> None:
    page = httpx.get(f"{server.url}/docs/oauth2-redirect", timeout=10)
    assert page.status_code == 200
    assert "Swagger UI: OAuth2 Redirect" in page.text


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(f"--host-resolver-rules=MAP {DOCS_HOST} 127.0.0.1") as instance:
        yield instance


class Offline:
    """A browser page that can reach only DOCS_HOST: what it asked of other hosts, what
    reached the server, and what the page's policy or scripts reported."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.foreign: list[str] = []
        self.finished: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._only_docs_host)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("requestfinished", lambda request: self.finished.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", self._on_console)

    def _only_docs_host(self, route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == DOCS_HOST:
            route.continue_()
        else:
            self.foreign.append(request.url)
            route.abort()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, server: MizualServer, path: str) -> Page:
        self.page.goto(f"http://{DOCS_HOST}:{server.port}{path}")
        return self.page

    def assert_stayed_home(self) -> None:
        assert self.foreign == []
        assert self.finished
        assert {urlsplit(url).hostname for url in self.finished} == {DOCS_HOST}


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    instance = Offline(browser)
    yield instance
    instance.context.close()


def test_swagger_ui_renders_and_tries_an_operation_offline(
    offline: Offline, server: MizualServer
) -> None:
    page = offline.open(server, "/docs")
    edit = page.locator(".opblock-post", has_text="/edit-image/")
    expect(edit).to_be_visible()
    expect(edit).to_contain_text("POST")
    expect(page.locator(".opblock-get", has_text="/chain/{edit_uuid}")).to_be_visible()
    # The admin token's scheme: Swagger UI offers to send it.
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # Swagger UI names an operation's block by its tag and operation id.
    health = page.locator("#operations-ops-getHealth")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table")).to_contain_text("Service is running")
    offline.assert_stayed_home()
    assert offline.errors == []


def test_redoc_renders_offline(offline: Offline, server: MizualServer) -> None:
    page = offline.open(server, "/redoc")
    operation = page.locator('[id="tag/edits/operation/editImage"]')
    expect(operation).to_contain_text("Submit an image and a prompt")
    expect(operation).to_contain_text("/edit-image/")
    expect(page.locator('[id="tag/admin/operation/getDbSchema"]')).to_contain_text("AdminToken")
    offline.assert_stayed_home()
    assert REDOC_LOGO not in offline.finished
    refused = [error for error in offline.errors if REDOC_LOGO not in error]
    assert refused == []
