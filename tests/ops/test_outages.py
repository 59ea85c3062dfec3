"""The database going away under a running server: clear 503s with Retry-After, never a 500,
and service again within seconds of it coming back. The database sits behind a TCP relay the
test can cut, so the shared PostgreSQL itself is never stopped."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support import MizualServer, assert_error, edit_and_wait, jpeg_bytes, submit


class Relay:
    """Forwards a local port to a target; `cut()` drops every connection and refuses new ones
    (as a stopped server does), `mend()` lets them through again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def cut(self) -> None:
        self._up = False
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def mend(self) -> None:
        self._up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relay(postgres_url: str) -> Iterator[Relay]:
    host_port = postgres_url.split("@")[-1].split("/")[0].split("://")[-1]
    host, _, port = host_port.partition(":")
    relayed = Relay((host or "127.0.0.1", int(port or 5432)))
    yield relayed
    relayed.close()


def until(check: Callable[[], bool], *, timeout: float) -> float:
    """Seconds until `check()` holds (AssertionError after `timeout`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_the_database_down_is_a_503_with_retry_after_and_service_resumes_by_itself(
    make_server: Callable[..., MizualServer],
    relay: Relay,
    postgres_url: str,
    postgres_schema: str,
) -> None:
    database = postgres_url.rsplit("/", 1)[-1]
    server = make_server(
        {
            "DATABASE_URL": f"postgresql://127.0.0.1:{relay.port}/{database}",
            "DATABASE_SCHEMA": postgres_schema,
        }
    )
    with server.client() as client:
        done = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
        assert done["status"] == "completed"

        relay.cut()
        unknown = client.get(f"/edit/{uuid.uuid4()}")  # not cached: asks the database
        detail = assert_error(unknown, 503, "service_unavailable", "database", "try again")
        assert unknown.headers["Retry-After"] == "2"
        assert "Traceback" not in detail
        assert "SELECT" not in detail

        refused = submit(client, "make it brighter", jpeg_bytes(64, 48))
        assert_error(refused, 503, "service_unavailable", "database")
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/health").status_code == 503

        relay.mend()
        recovery = until(lambda: client.get("/health").status_code == 200, timeout=15)
        again = edit_and_wait(client, "make it brighter", jpeg_bytes(64, 48))
        assert again["status"] == "completed"
        assert client.get(f"/edit/{uuid.uuid4()}").status_code == 404
    log = server.log()
    assert "answered 503" in log
    assert "internal_error" not in log
    assert "Traceback" not in log
    print(f"service back {recovery:.1f}s after the database")
