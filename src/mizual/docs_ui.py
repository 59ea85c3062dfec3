"""The interactive API documentation, `/docs` (Swagger UI) and `/redoc`, whose scripts, styles
and icon Mizual serves itself: they work on a machine without internet access, and the pages
load nothing from another host.

The files come from the `fastapi-offline` package, chosen among those on PyPI that ship them
(as of December 2026): 1.7.7 (June 2026) carries Swagger UI 5.32.6 and Redoc 2, and an icon;
it depends on nothing but FastAPI and follows Swagger UI's releases. The others:
`swagger-ui-bundle` (the usual choice) is stuck at Swagger UI 4.15.5 (2023);
`swagger-ui-bundle-v2` (5.31) and `swagger-ui-py` (5.24) lack Redoc and pull in Jinja2 (and
PyYAML); `fastapi-swagger` (5.34) lacks Redoc; `drf-spectacular-sidecar` (5.33, Redoc)
requires Django. Only its files are used, not its `FastAPIOffline` app, so that the paths,
headers and page policy are ours.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from mizual.kit.staticfiles import StaticFilesWithHeaders

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
# The package's version is part of the path, so that the files can be cached for a year and an
# upgrade is still fetched at once (its files have new addresses).
ASSETS_ROUTE = f"/docs/static/{version('fastapi-offline')}"
DOCS_ROUTE = "/docs"
OAUTH2_REDIRECT_ROUTE = "/docs/oauth2-redirect"
REDOC_ROUTE = "/redoc"

SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
# Swagger UI's validator badge is an image from validator.swagger.io, shown for any API not on
# localhost: turned off.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

# Everything from this server. What the pages' scripts would still fetch from elsewhere (Redoc's
# footer logo from cdn.redoc.ly, which it hides when refused) is not even requested. Both render
# with inline styles; Swagger UI's start-up script is inline, allowed by its hash.
_POLICY = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy that allows its own inline scripts only."""
    hashes = [
        base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    ]
    scripts = "".join(f" 'sha256-{digest}'" for digest in hashes)
    page.headers["Content-Security-Policy"] = _POLICY.format(scripts=scripts)
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


def install(app: FastAPI) -> None:
    """The two pages, Swagger UI's OAuth2 redirect page, and their files under ASSETS_ROUTE.
    The app must be made with `docs_url=None, redoc_url=None`, so that FastAPI's own pages,
    which load these files from a CDN, are not there as well."""

    def root(request: Request) -> str:
        # Behind a proxy that serves Mizual under a prefix (uvicorn's --root-path).
        return str(request.scope.get("root_path", "")).rstrip("/")

    def asset(request: Request, name: str) -> str:
        return f"{root(request)}{ASSETS_ROUTE}/{name}"

    def openapi_url(request: Request) -> str:
        return f"{root(request)}{app.openapi_url}"

    @app.get(DOCS_ROUTE, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} API",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            oauth2_redirect_url=f"{root(request)}{OAUTH2_REDIRECT_ROUTE}",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        return with_policy(page)

    @app.get(OAUTH2_REDIRECT_ROUTE, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_ROUTE, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} API",
            redoc_js_url=asset(request, REDOC_JS),
            redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False,
        )
        return with_policy(page)

    app.mount(
        ASSETS_ROUTE,
        StaticFilesWithHeaders(directory=ASSETS_DIR, headers=ASSET_HEADERS),
        name="docs-static",
    )
