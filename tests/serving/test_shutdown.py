"""Stopping `mizual serve` with its default settings, over real HTTP: SIGTERM drains first
(GET /health 503 "draining", everything else served, event streams told to reconnect), then
uvicorn's graceful shutdown finishes what is in flight and the process exits 0; SIGINT, or a
second SIGTERM, stops without the drain."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mizual.settings import Settings
from tests.support import MizualServer, jpeg_bytes, read_events, submit

DRAIN = Settings.model_fields["shutdown_drain_seconds"].default
GRACE = 10  # uvicorn's timeout_graceful_shutdown (mizual.serving.GRACEFUL_SHUTDOWN_SECONDS)
DRAINING = {"status": "draining", "message": "This server is shutting down; retry on another one"}


def default_drain_server(data_dir: Path, env: dict[str, str] | None = None) -> MizualServer:
    """A server with SHUTDOWN_DRAIN_SECONDS at its default (tests/support.py sets it to 0)."""
    server = MizualServer(data_dir, env)
    del server.env["SHUTDOWN_DRAIN_SECONDS"]
    return server.start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MizualServer]:
    # Each edit takes 2 s: one is running when the signal comes.
    instance = default_drain_server(
        tmp_path, {"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "2"}
    )
    yield instance
    instance.kill()


def slow_upload_body(image: bytes, *, seconds: float, parts: int = 20) -> Iterator[bytes]:
    """A valid submission's JSON, sent in `parts` pieces over `seconds`."""
    body = json.dumps(
        {"prompt": "flip it", "image": "data:image/jpeg;base64," + base64.b64encode(image).decode()}
    ).encode()
    size = -(-len(body) // parts)
    for start in range(0, len(body), size):
        yield body[start : start + size]
        time.sleep(seconds / parts)


def wait_for_exit(server: MizualServer, *, within: float) -> int:
    assert server.process is not None
    return server.process.wait(within)


@pytest.mark.slow
def test_sigterm_drains_then_finishes_in_flight_requests_and_exits_0(
    server: MizualServer,
) -> None:
    assert DRAIN == 3
    assert server.process is not None
    with server.client() as client:
        running = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]

    # A submission whose body is still arriving when the drain ends (~5 s against 3 s).
    upload: dict[str, object] = {}

    def send_slowly() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as uploader:
            started = time.monotonic()
            response = uploader.post(
                "/edit-image/",
                content=slow_upload_body(jpeg_bytes(64, 48), seconds=5),
                headers={"Content-Type": "application/json"},
            )
            upload.update(response=response, seconds=time.monotonic() - started)

    uploading = threading.Thread(target=send_slowly)
    uploading.start()

    events: list[object] = []

    def follow() -> None:
        with server.client() as follower:
            events.extend(read_events(follower, running, timeout=30))

    streaming = threading.Thread(target=follow)
    streaming.start()
    time.sleep(0.5)  # both requests are under way

    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)

    # The open stream is told to reconnect in 1 s, and ends, at once.
    streaming.join(5)
    assert not streaming.is_alive()
    assert time.monotonic() - signalled < 2
    assert [event.kind for event in events][-1:] == ["retry"], events  # type: ignore[attr-defined]
    assert events[-1].id == 1000  # type: ignore[attr-defined]
    assert "done" not in [event.kind for event in events]  # type: ignore[attr-defined]

    # During the drain: the balancer's probe fails, every other request is served.
    with httpx.Client(base_url=server.url, timeout=5) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json() == DRAINING
        assert health.headers["Retry-After"] == "1"
        head = client.head("/health")
        assert head.status_code == 503
        assert head.content == b""
        assert client.get("/version").status_code == 200
        assert client.get(f"/edit/{running}").status_code == 200
        assert time.monotonic() - signalled < DRAIN
    assert server.process.poll() is None

    code = wait_for_exit(server, within=DRAIN + GRACE + 5)
    stopped = time.monotonic() - signalled
    assert code == 0, server.log()
    assert stopped >= DRAIN  # the drain was waited out
    uploading.join(5)
    response = upload["response"]
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200, response.text  # in flight at the end: finished
    assert "edit_id" in response.json()
    assert upload["seconds"] > DRAIN  # type: ignore[operator]
    log = server.log()
    assert "SIGTERM: draining for 3 s" in log
    assert "timeout graceful shutdown exceeded" not in log
    print(f"SIGTERM to exit: {stopped:.2f} s")


def test_sigint_stops_without_the_drain(server: MizualServer) -> None:
    assert server.process is not None
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert wait_for_exit(server, within=DRAIN + GRACE) == 0
    assert time.monotonic() - signalled < DRAIN - 1
    assert "SIGINT: shutting down without draining" in server.log()


def test_a_second_sigterm_cuts_the_drain_short(tmp_path: Path) -> None:
    server = default_drain_server(tmp_path, {"SHUTDOWN_DRAIN_SECONDS": "60"})
    assert server.process is not None
    try:
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while httpx.get(f"{server.url}/health", timeout=5).status_code != 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert wait_for_exit(server, within=GRACE) == 0
        assert time.monotonic() - signalled < 3
        assert "SIGTERM again: shutting down now" in server.log()
    finally:
        server.kill()
