"""Messages across processes: published on Redis channels, relayed into each API process's hub.

Publishers anywhere (API processes, workers) send with `RedisPublisher`; each API process runs one
`RedisRelay` that listens to every channel of its prefix and hands the messages to its hub. The
hub is `healthy` only while the relay's subscription is confirmed; whenever a message may have
been missed (the relay (re)connected, or lost its connection) every subscriber gets `RESYNC`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import redis
import redis.asyncio as aioredis

from mizual.kit.broadcast.hub import Hub
from mizual.kit.throttle import ThrottledWarning

logger = logging.getLogger(__name__)


class RedisPublisher:
    """Publishes on the channel `prefix + topic`; Redis trouble is logged, never raised."""

    def __init__(self, url: str, *, prefix: str, timeout_seconds: float = 0.5) -> None:
        self.url = url
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._warning = ThrottledWarning(logger)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        try:
            self._client.publish(self.prefix + topic, json.dumps(message, separators=(",", ":")))
        except redis.RedisError as exc:
            self._warning.warn("event publish failed (streams will poll): %s", type(exc).__name__)

    def close(self) -> None:
        self._client.close()


class RedisRelay:
    """Listens to every channel of the prefix and hands each message to the hub.

    One connection per process (a pattern subscription), whatever the number of streams. The hub
    is healthy only while the subscription is confirmed; on a lost connection the relay tries
    again, every half second at first and at most every 5 s.
    """

    PING_EVERY_SECONDS = 5.0

    def __init__(self, url: str, *, prefix: str, hub: Hub) -> None:
        self.url = url
        self.prefix = prefix
        self.hub = hub
        self._task: asyncio.Task[None] | None = None
        self._warning = ThrottledWarning(logger)

    def start(self) -> None:
        """Call inside the event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="event-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis, OS and protocol errors alike: connect again
                self._warning.warn(
                    "event relay lost Redis (%s); streams poll the database until it is back",
                    type(exc).__name__,
                )
            finally:
                if self.hub.healthy:
                    self.hub.set_healthy(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2)
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(self.prefix + "*")
            last_heard = time.monotonic()
            pinged = False
            while True:
                message = await pubsub.get_message(timeout=1.0)
                now = time.monotonic()
                if message is None:
                    if now - last_heard > 2 * self.PING_EVERY_SECONDS and pinged:
                        raise ConnectionError("no answer to PING")
                    if now - last_heard > self.PING_EVERY_SECONDS and not pinged:
                        await pubsub.ping()
                        pinged = True
                    continue
                last_heard, pinged = now, False
                kind = message["type"]
                if kind == "psubscribe":
                    # Also after redis-py reconnected by itself: anything may have been missed.
                    self.hub.set_healthy(True)
                elif kind == "pmessage":
                    self._hand_over(message["channel"], message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped before redis 8
            with contextlib.suppress(Exception):
                await client.aclose()

    def _hand_over(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            message = json.loads(data)
        except ValueError:
            logger.warning("event relay: ignoring a message on %s that is not JSON", name)
            return
        if isinstance(message, dict):
            self.hub.publish(name.removeprefix(self.prefix), message)
