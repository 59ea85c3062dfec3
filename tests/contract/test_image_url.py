"""`image_url` through real HTTP, on both stacks: the API fetches the image from a loopback
server (allowed by name in STACK_ENV), stores it as if uploaded, and refuses private addresses,
redirects, error answers, pages and oversized bodies with a clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from tests.fakes.runner import FakeServer
from tests.support import assert_error, data_url, jpeg_bytes, wait_for

PHOTO = jpeg_bytes(120, 80)


def image_host() -> FastAPI:
    app = FastAPI()

    @app.get("/photo.jpg")
    def photo() -> Response:
        return Response(PHOTO, media_type="image/jpeg")

    @app.get("/untyped")
    def untyped() -> Response:  # no Content-Type: the magic bytes decide
        return Response(PHOTO, media_type=None)

    @app.get("/to-metadata")
    def to_metadata() -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    @app.get("/page")
    def page() -> Response:
        return Response("<html><body>not an image</body></html>", media_type="text/html")

    @app.get("/huge")
    def huge() -> Response:
        def body() -> Iterator[bytes]:  # chunked, no Content-Length: cut off while streaming
            yield PHOTO
            for _ in range(22):
                yield b"\0" * (1024 * 1024)

        return StreamingResponse(body(), media_type="image/jpeg")

    @app.get("/huge-declared")
    def huge_declared() -> Response:
        return Response(b"\0" * (21 * 1024 * 1024), media_type="image/jpeg")

    return app


@pytest.fixture(scope="module")
def host() -> Iterator[FakeServer]:
    with FakeServer(image_host()).start() as server:  # type: ignore[arg-type]
        yield server


def submit_url(client: httpx.Client, url: str, **extra: Any) -> httpx.Response:
    return client.post(
        "/edit-image/", json={"prompt": "make it brighter", "image_url": url, **extra}
    )


def test_an_image_url_is_fetched_and_stored_as_if_uploaded(
    client: httpx.Client, host: FakeServer
) -> None:
    response = submit_url(client, f"{host.url}/photo.jpg")
    assert response.status_code == 200, response.text
    status = wait_for(client, response.json()["edit_id"])
    assert status["status"] == "completed", status
    assert httpx.get(status["original_image_url"], timeout=30).content == PHOTO
    # As a form field too, and without a Content-Type from the host.
    response = client.post(
        "/edit-image/",
        files={"prompt": (None, "make it brighter"), "image_url": (None, f"{host.url}/untyped")},
    )
    assert response.status_code == 200, response.text
    status = wait_for(client, response.json()["edit_id"])
    assert httpx.get(status["original_image_url"], timeout=30).content == PHOTO


def test_refused_image_urls_say_why(client: httpx.Client, host: FakeServer) -> None:
    port = host.port
    cases = [
        (f"http://localhost:{port}/photo.jpg", 422, "loopback"),  # allowed only as 127.0.0.1
        (f"http://[::1]:{port}/photo.jpg", 422, "loopback"),
        ("http://10.0.0.1/photo.jpg", 422, "private"),
        ("http://169.254.169.254/latest/meta-data/", 422, "link-local"),
        ("ftp://example.com/photo.jpg", 422, "scheme"),
        (f"{host.url}/to-metadata", 422, "redirect"),
        (f"{host.url}/nothing-here", 422, "404"),
        (f"{host.url}/page", 415, "text/html"),
        (f"{host.url}/huge", 413, "larger than"),
        (f"{host.url}/huge-declared", 413, "larger than"),
    ]
    for url, status, word in cases:
        response = submit_url(client, url)
        assert response.status_code == status, (url, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("image_url: "), (url, detail)
        assert word in detail, (url, detail)
    assert "IMAGE_URL_ALLOWED_HOSTS" in submit_url(client, "http://10.0.0.1/").json()["detail"]


def test_an_image_and_an_image_url_together_are_refused(
    client: httpx.Client, host: FakeServer
) -> None:
    response = submit_url(client, f"{host.url}/photo.jpg", image=data_url(PHOTO))
    assert_error(response, 422, "invalid_input", "not both")
