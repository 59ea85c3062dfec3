"""The image_url fetcher: the address policy applied to the connection, no redirects, a size cap
while streaming and one deadline for the whole fetch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from mizual.errors import InvalidInput, MizualError, PayloadTooLarge, UnsupportedImageType
from mizual.kit.imagefetch import ImageFetcher
from tests.fakes.runner import FakeServer
from tests.support import jpeg_bytes

PHOTO = jpeg_bytes(40, 30)


def app() -> FastAPI:
    server = FastAPI()

    @server.get("/photo.jpg")
    def photo() -> Response:
        return Response(PHOTO, media_type="image/jpeg")

    @server.get("/redirect")
    def redirect() -> Response:
        return RedirectResponse("/photo.jpg", status_code=301)

    @server.get("/broken")
    def broken() -> Response:
        return Response("oops", status_code=500)

    @server.get("/empty")
    def empty() -> Response:
        return Response(b"", media_type="image/jpeg")

    @server.get("/json")
    def json_answer() -> Response:
        return Response("{}", media_type="application/json")

    @server.get("/drip")
    def drip() -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(50):  # each byte well within the read timeout; all of them not
                yield b"\0"
                await asyncio.sleep(0.05)

        return StreamingResponse(body(), media_type="image/jpeg")

    @server.get("/stall")
    async def stall() -> Response:
        await asyncio.sleep(3)
        return Response(PHOTO, media_type="image/jpeg")

    return server


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(app()).start() as running:
        yield running


def fetcher(**options: object) -> ImageFetcher:
    settings: dict[str, object] = {
        "allow_http": True,
        "allowed_hosts": ["127.0.0.1"],
        "timeout_seconds": 5.0,
        "max_bytes": 1024 * 1024,
        **options,
    }
    return ImageFetcher(**settings)  # type: ignore[arg-type]


def refusal(client: ImageFetcher, url: str) -> MizualError:
    with pytest.raises(MizualError) as caught:
        client.fetch(url)
    assert caught.value.message.startswith("image_url: ")
    return caught.value


def test_an_allowed_host_is_fetched(server: FakeServer) -> None:
    client = fetcher()
    try:
        assert client.fetch(f"{server.url}/photo.jpg") == PHOTO
        assert client.fetch(f"  {server.url}/photo.jpg  ") == PHOTO  # pooled, trimmed
    finally:
        client.close()


def test_loopback_is_refused_unless_listed_and_http_unless_allowed(server: FakeServer) -> None:
    error = refusal(fetcher(allowed_hosts=[]), f"{server.url}/photo.jpg")
    assert isinstance(error, InvalidInput)
    assert "loopback" in error.message
    assert "IMAGE_URL_ALLOWED_HOSTS" in error.message
    error = refusal(fetcher(allow_http=False), f"{server.url}/photo.jpg")
    assert "https" in error.message


def test_the_address_connected_to_is_checked_not_only_the_first_answer(
    server: FakeServer,
) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public to the check, then rebound

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    client = fetcher(allowed_hosts=[], resolver=rebinding)
    error = refusal(client, f"http://images.example:{server.port}/photo.jpg")
    assert "loopback" in error.message


@pytest.mark.parametrize(
    ("path", "kind", "word"),
    [
        ("/redirect", InvalidInput, "redirect"),
        ("/broken", InvalidInput, "500"),
        ("/empty", InvalidInput, "empty"),
        ("/json", UnsupportedImageType, "application/json"),
    ],
)
def test_answers_that_are_not_an_image_are_refused(
    server: FakeServer, path: str, kind: type[MizualError], word: str
) -> None:
    error = refusal(fetcher(), f"{server.url}{path}")
    assert isinstance(error, kind), error.message
    assert word in error.message


def test_a_body_above_the_cap_is_cut_off(server: FakeServer) -> None:
    error = refusal(fetcher(max_bytes=len(PHOTO) - 1), f"{server.url}/photo.jpg")
    assert isinstance(error, PayloadTooLarge)


@pytest.mark.parametrize("path", ["/drip", "/stall"])
def test_the_whole_fetch_has_one_deadline(server: FakeServer, path: str) -> None:
    error = refusal(fetcher(timeout_seconds=0.5), f"{server.url}{path}")
    assert "longer than 0.5 s" in error.message


def test_an_unreachable_host_is_a_clear_refusal() -> None:
    error = refusal(fetcher(allowed_hosts=["127.0.0.1"]), "http://127.0.0.1:9/photo.jpg")
    assert "could not be fetched" in error.message
