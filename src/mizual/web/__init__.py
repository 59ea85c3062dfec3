"""The web page at `/`: plain HTML, CSS and ES modules from `static/`, no build step.

The page talks to the same API as any other client (`POST /edit-image/`, the event stream or
polling of `GET /edit/{uuid}`, `POST /edit/{uuid}/cancel` with the edit tokens it keeps in
localStorage, `GET /chain/{uuid}`, `POST /feedback/`); it is served by the API so that it is
same-origin and needs no CORS settings. Its address names the edit it shows (`/?edit=<uuid>`),
so a reload or a shared link shows that edit again.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from mizual.kit.dataurl import describe_bytes
from mizual.kit.staticfiles import StaticFilesWithHeaders
from mizual.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_ROUTE = "/static"

# Scripts, styles and requests only from this origin; images also from wherever results are
# stored (an S3 bucket or CDN in the distributed mode), from data: and from blob: (previews).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: http: https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Revalidated on every visit (ETag), so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def render_index(settings: Settings) -> str:
    """index.html with this server's upload limits filled in, so the page can refuse a file
    that is too large before sending it."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return page.replace("{{max_upload_bytes}}", str(int(settings.max_upload_bytes))).replace(
        "{{max_upload_text}}", escape(describe_bytes(settings.max_upload_bytes))
    )


@router.api_route("/", methods=["GET", "HEAD"])
def index(request: Request) -> HTMLResponse:
    return HTMLResponse(render_index(request.app.state.settings), headers=PAGE_HEADERS)


def install(app: FastAPI) -> None:
    """The page at `/` and its files under `/static/`."""
    app.include_router(router)
    app.mount(
        STATIC_ROUTE,
        StaticFilesWithHeaders(directory=STATIC_DIR, headers=PAGE_HEADERS),
        name="static",
    )
