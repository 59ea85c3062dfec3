"""One pipelined Redis connection for the status poll's one command (`kit.limitedread`).

redis-py's asyncio client takes a pooled connection per command and reads each reply through
its stream reader: 115 µs of CPU a call with 100 calls in flight, against 28.5 µs for this
(bench/redis_client.py, bench/RESULTS.md). Here the commands of one turn of the event loop are
written together on one connection (one system call, and one read for Redis), and the replies,
which Redis sends in the same order, are parsed as they arrive and handed to the callers
waiting for them, first come first served.

It speaks only what that command needs, over plain TCP: AUTH and SELECT from the URL, INFO to
learn the server's run (an entry stamped by another run is a miss, `kit.rediscache`), and RESP2
replies. Its errors are redis-py's (`ConnectionError`, `TimeoutError`, `ResponseError`,
`NoScriptError`), so callers handle both clients alike. A reply later than the timeout closes
the connection, since what it would answer is then unknown; every command still waiting fails
with it, and the next one connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from typing import Any

from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_RUN_ID = re.compile(rb"run_id:([0-9a-f]+)")
_CRLF = b"\r\n"


def encode(*args: str | bytes | int | float) -> bytes:
    """A command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


def _parse(buffer: bytearray, start: int) -> tuple[Any, int]:
    """The RESP2 reply at `start`, and where the next begins. An error reply is returned as an
    exception, not raised: it is the answer to one command only."""
    end = buffer.find(_CRLF, start)
    if end < 0:
        raise _Incomplete
    kind, line, position = buffer[start], bytes(buffer[start + 1 : end]), end + 2
    if kind == 0x3A:  # ':' integer
        return int(line), position
    if kind == 0x24:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, position
        if len(buffer) < position + size + 2:
            raise _Incomplete
        return bytes(buffer[position : position + size]), position + size + 2
    if kind == 0x2A:  # '*' array
        count = int(line)
        if count < 0:
            return None, position
        items = []
        for _ in range(count):
            item, position = _parse(buffer, position)
            items.append(item)
        return items, position
    if kind == 0x2B:  # '+' simple string
        return line, position
    if kind == 0x2D:  # '-' error
        message = line.decode(errors="replace")
        if message.startswith("NOSCRIPT"):
            return NoScriptError(message), position
        return ResponseError(message), position
    raise RedisConnectionError(f"Redis sent a reply this client cannot read ({bytes([kind])!r})")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._transport: Any = None  # asyncio's Transport, or uvloop's (not a subclass of it)
        self._unsent: list[bytes] = []  # the commands of this turn of the loop, sent together
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        start = 0
        try:
            while start < len(self._buffer):
                reply, start = _parse(self._buffer, start)
                if not self._waiting:
                    raise RedisConnectionError("Redis sent a reply no command asked for")
                waiter = self._waiting.popleft()
                if not waiter.done():
                    if isinstance(reply, Exception):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
        except _Incomplete:
            pass
        except (RedisConnectionError, ValueError) as exc:
            self.fail(RedisConnectionError(f"Redis connection unreadable: {exc}"))
            return
        del self._buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(f"Redis closed the connection ({exc or 'at its end'})"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        if self.closed or self._transport is None:
            waiter.set_exception(RedisConnectionError("the Redis connection is closed"))
            return waiter
        self._waiting.append(waiter)
        if not self._unsent:
            loop.call_soon(self._flush)
        self._unsent.append(command)
        return waiter

    def _flush(self) -> None:
        """Write the commands of the loop's last turn in one go: one system call, and one
        read for Redis, for all the polls that turn took in."""
        unsent, self._unsent = self._unsent, []
        if unsent and not self.closed and self._transport is not None:
            self._transport.write(unsent[0] if len(unsent) == 1 else b"".join(unsent))

    def fail(self, error: Exception) -> None:
        """Close the connection and fail every command still waiting for a reply."""
        self.closed = True
        if self._transport is not None:
            # Its loop may be closed (a test's TestClient): the socket then goes with the GC.
            with contextlib.suppress(RuntimeError):
                self._transport.close()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class PipelinedRedis:
    def __init__(self, url: str, *, timeout_seconds: float = 0.5) -> None:
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._host = str(options.get("host", "localhost"))
        self._port = int(options.get("port", 6379))
        self._db = int(options.get("db", 0) or 0)
        self._username: str | None = options.get("username")
        self._password: str | None = options.get("password")
        self._timeout = timeout_seconds
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        # The loop the connection belongs to: a test's next TestClient runs another.
        self._loop: asyncio.AbstractEventLoop | None = None
        # The run of the server the current connection reaches ("" until connected).
        self.server_run = ""

    @staticmethod
    def supports(url: str) -> bool:
        """Plain TCP (redis://). TLS (rediss://, with its certificate options) and Unix sockets
        are left to redis-py."""
        return url.startswith("redis://")

    async def call(self, *args: str | bytes | int | float) -> Any:
        """One command's reply; redis-py's exceptions on failure."""
        protocol = self._protocol
        if protocol is None or protocol.closed or self._loop is not asyncio.get_running_loop():
            protocol = await self._connect()
        try:
            async with asyncio.timeout(self._timeout):
                return await protocol.send(encode(*args))
        except TimeoutError:  # asyncio's: this command's reply is late
            late = RedisTimeoutError(f"Redis did not answer within {self._timeout:g} s")
            protocol.fail(late)
            raise late from None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._protocol is not None:
                self._protocol.fail(RedisConnectionError("left behind on another event loop"))
            self._protocol, self._connecting, self._loop = None, asyncio.Lock(), loop
        assert self._connecting is not None
        async with self._connecting:
            current = self._protocol
            if current is not None and not current.closed:
                return current  # another caller connected while this one waited
            try:
                async with asyncio.timeout(self._timeout):
                    protocol = await self._open()
            except OSError as exc:  # refused, unreachable, or TimeoutError: not there in time
                raise RedisConnectionError(
                    f"cannot connect to Redis at {self._host}:{self._port} ({exc!r})"
                ) from exc
            self._protocol = protocol
            return protocol

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, self._host, self._port)
        try:
            if self._password is not None:
                credentials = [self._username] if self._username else []
                await protocol.send(encode("AUTH", *credentials, self._password))
            if self._db:
                await protocol.send(encode("SELECT", self._db))
            info = await protocol.send(encode("INFO", "server"))
        except BaseException:
            protocol.fail(RedisConnectionError("Redis refused the connection's set-up"))
            raise
        match = _RUN_ID.search(info if isinstance(info, bytes) else b"")
        self.server_run = match.group(1).decode() if match else ""
        return protocol

    async def aclose(self) -> None:
        if self._protocol is not None:
            self._protocol.fail(RedisConnectionError("the Redis connection was closed"))
            self._protocol = None
