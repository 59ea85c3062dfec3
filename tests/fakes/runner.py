"""Run a fake provider app on a free loopback port, in a thread of the test process or alone."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request


class Recorder:
    """What a fake was sent, in order, for tests to inspect through `GET /_fake/requests`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []

    async def record(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        try:
            payload = await request.json() if body else None
        except ValueError:
            payload = None
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "json": payload,
        }
        with self._lock:
            self._requests.append(entry)
        return entry

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


def add_control_routes(app: FastAPI, recorder: Recorder, *, on_reset: Any = None) -> None:
    @app.get("/_fake/requests")
    def recorded() -> list[dict[str, Any]]:
        return recorder.all()

    @app.post("/_fake/reset")
    def reset() -> dict[str, bool]:
        recorder.clear()
        if on_reset is not None:
            on_reset()
        return {"reset": True}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer:
    """`with FakeServer(app).start() as server:` serves `app` at `server.url` in the block."""

    def __init__(self, app: FastAPI, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @contextmanager
    def start(self, timeout: float = 10.0) -> Iterator[FakeServer]:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake server did not start on port {self.port}")
            time.sleep(0.02)
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def main(create_app: Any, name: str) -> None:
    parser = argparse.ArgumentParser(description=f"Serve the fake {name} API on loopback.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args()
    port = args.port or free_port()
    print(f"fake {name} at http://127.0.0.1:{port}", flush=True)
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")
