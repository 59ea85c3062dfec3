"""The HTTP server of `mizual serve` and `mizual api`: its socket, bound before anything says the
server is up, and uvicorn on it."""

from __future__ import annotations

import contextlib
import errno
import socket
from types import FrameType
from typing import TYPE_CHECKING

from mizual.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

_CHANGE_HOST = "set HOST or pass --host (127.0.0.1: this machine only; 0.0.0.0: every network)"


class CannotListen(Exception):
    """The port or address cannot be used; the message says what to change."""


def listen(*, host: str, port: int) -> socket.socket:
    """The listening socket: a port in use is then one sentence with the fix, before our
    "serving at" line, rather than uvicorn's error after it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise CannotListen(
            f"{host!r} is not an address this machine can listen on; {_CHANGE_HOST}"
        ) from None
    listener = socket.socket(family, kind, proto)
    # As uvicorn does: a restart need not wait for the old connections' TIME_WAIT to pass.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise CannotListen(_bind_failure(exc, host=host, port=port)) from None
    listener.set_inheritable(True)
    return listener


def _bind_failure(exc: OSError, *, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another Mizual running?); "
            "set PORT or pass --port to use another one"
        )
    if exc.errno == errno.EACCES:
        return (
            f"port {port} on {host} needs privileges this user lacks; set PORT or pass "
            "--port to use one above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; {_CHANGE_HOST}"
    return f"cannot listen on {host} port {port} ({exc.strerror or exc})"


def run_server(app: FastAPI, settings: Settings, listener: socket.socket) -> bool:
    """uvicorn on `listener` until it is stopped; False if it could not start.

    One addition to uvicorn: on SIGTERM/SIGINT the open event streams end at once, instead of
    holding the graceful shutdown for its 10 s (their clients reconnect elsewhere)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.broadcast.end_subscriptions()

    server = Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # uvicorn's loggers (access lines included) go through ours: one format for all.
            log_config=None,
            timeout_graceful_shutdown=10,
            # Mizual reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
            proxy_headers=False,
        )
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    return bool(server.started)
