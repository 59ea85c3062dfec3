"""The HTTP server of `mizual serve` and `mizual api`: its socket, bound before anything says the
server is up, uvicorn on it (in this process, or in `API_WORKERS` child processes), and the drain
that lets a load balancer take a stopping process out of rotation before it stops.

SIGTERM (a deploy, `docker stop`) first starts the drain: `GET /health` answers 503 "draining"
while every other request is served as usual, and the open event streams end (their clients
reconnect, through the proxy, to another process). SHUTDOWN_DRAIN_SECONDS later uvicorn's own
graceful shutdown runs: it stops accepting, finishes the requests in flight (for at most
`GRACEFUL_SHUTDOWN_SECONDS`) and the process exits 0. SIGINT (Ctrl-C), or a second signal during
the drain, goes to that shutdown at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.server import HANDLED_SIGNALS
from uvicorn.supervisors import Multiprocess

from mizual.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

_CHANGE_HOST = "set HOST or pass --host (127.0.0.1: this machine only; 0.0.0.0: every network)"
# How long uvicorn lets requests in flight finish once it stops accepting.
GRACEFUL_SHUTDOWN_SECONDS = 10
# What `uvicorn --factory` and each `mizual api --workers N` child process load.
APP_FACTORY = "mizual.app:create_app_from_env"

_SignalHandler = Callable[[int, FrameType | None], Any]


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


class Drain:
    """One app's drain (so one process's): `started` once SIGTERM or SIGINT has come.

    It lives in the app rather than in a uvicorn.Server subclass so that every server that
    runs the app drains it the same way: `mizual serve`, each child of `mizual api --workers N`
    (uvicorn's supervisor builds a plain uvicorn.Server there), `uvicorn --factory` and
    gunicorn's uvicorn worker. `install` puts its handler in front of the server's own SIGTERM
    and SIGINT handlers, which it calls once the drain is over; the server's graceful shutdown
    is then unchanged."""

    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        self.started = False  # read by GET /health on every probe: a plain attribute
        self._on_start: list[Callable[[], None]] = []
        self._servers: dict[int, _SignalHandler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handed_over = False

    def on_start(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the drain starts; it runs in a signal handler, so it must only
        hand work to the event loop (as `Broadcast.end_subscriptions` does)."""
        self._on_start.append(callback)

    def install(self) -> None:
        """In the app's start-up, on the event loop. Nothing happens outside the main thread
        (signals cannot be handled there) or when no server handles the signals."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            server_handler = signal.getsignal(sig)
            if callable(server_handler):
                self._servers[sig] = server_handler
                signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, server_handler in self._servers.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, server_handler)
        self._servers.clear()

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: flags, and work handed to the loop (logging included, whose locks
        # the interrupted code may hold).
        first = not self.started
        if first:
            self.start()
        waits = first and sig == signal.SIGTERM and self.seconds > 0
        if not waits:
            # SIGINT, a second signal, or no drain: the server's shutdown now.
            self._hand_over(sig, frame)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self._after_signal, sig, first, waits)

    def start(self) -> None:
        self.started = True
        for callback in self._on_start:
            callback()

    def _after_signal(self, sig: int, first: bool, waits: bool) -> None:
        name = signal.Signals(sig).name
        if waits:
            logger.info(
                "%s: draining for %g s (GET /health answers 503, event streams are ended), "
                "then shutting down",
                name,
                self.seconds,
            )
            asyncio.get_running_loop().call_later(self.seconds, self._end_of_drain, sig)
        elif first:
            logger.info("%s: shutting down without draining", name)
        else:
            logger.info("%s again: shutting down now", name)

    def _end_of_drain(self, sig: int) -> None:
        if not self._handed_over:  # a second signal has not done it already
            self._hand_over(sig, None)

    def _hand_over(self, sig: int, frame: FrameType | None) -> None:
        self._handed_over = True
        server_handler = self._servers.get(sig)
        if server_handler is not None:
            server_handler(sig, frame)


class Server(uvicorn.Server):
    """uvicorn's server, exiting 0 after a graceful shutdown. uvicorn raises the signal that
    stopped it again once it has shut down, so that the process dies of it (exit status -15
    for SIGTERM, which orchestrators count as a failure); a stop that went as planned is a
    success here. A module-level class: the supervisor's child processes unpickle it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _config(app: FastAPI | str, settings: Settings, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # uvicorn's loggers (access lines included) go through ours: one format for all.
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Mizual reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
        proxy_headers=False,
        **options,
    )


def run_server(*, app: FastAPI, settings: Settings, listener: socket.socket) -> bool:
    """uvicorn on `listener` in this process until it is stopped; False if it could not start.
    The app drains itself on SIGTERM (`Drain`)."""
    server = Server(_config(app, settings))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    return bool(server.started)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor of `API_WORKERS` processes, each loading `APP_FACTORY`.

    Once it has passed SIGTERM on to its children it waits for them; a signal that comes then
    (a second SIGTERM, or a SIGINT) is passed on too, so that it cuts their drain short as it
    does for one process. uvicorn's would only queue it."""

    def join_all(self) -> None:
        while any(child.process.is_alive() for child in self.processes):
            passed_on = [sig for sig in self.signal_queue if sig in HANDLED_SIGNALS]
            self.signal_queue.clear()
            for sig in passed_on:
                for child in self.processes:
                    if child.process.is_alive() and child.pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child.pid, sig)
            time.sleep(0.1)
        super().join_all()


def run_workers(*, settings: Settings, listener: socket.socket, workers: int) -> None:
    """`workers` processes serving `listener`, each building the app from the environment (so
    from the same settings as this one) and draining on SIGTERM; until they are stopped."""
    config = _config(APP_FACTORY, settings, factory=True, workers=workers)
    _Supervisor(config, sockets=[listener]).run()
