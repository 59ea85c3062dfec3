"""Small messages fanned out to asyncio subscribers: in the process, or across processes by Redis.

One façade, in the shape of encode/broadcaster: `Broadcast.from_url(url)` picks the backend (the
process's own `Hub` without a URL; Redis pub/sub relayed into that hub with one), `publish` may
be called from any thread, and `subscribe(topic)` is an async context manager yielding a
subscription whose `next()` returns what arrived: messages, and two signals — `RESYNC` (a message
may have been missed: read the current state) and `CLOSED` (the process is shutting down).

Delivery is at most once. While the Redis relay is disconnected a subscription is not `healthy`,
and its reader should poll instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from mizual.kit.broadcast.hub import CLOSED, RESYNC, Hub, Publisher, Signal, Subscription
from mizual.kit.broadcast.redis_relay import RedisPublisher, RedisRelay

__all__ = ["CLOSED", "RESYNC", "Broadcast", "Signal", "Subscription"]

logger = logging.getLogger(__name__)


class Broadcast:
    def __init__(self, *, hub: Hub, publisher: Publisher, relay: RedisRelay | None = None) -> None:
        self._hub = hub
        self._publisher = publisher
        self._relay = relay
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str | None, *, prefix: str) -> Broadcast:
        """In this process without a URL; through Redis (channels `prefix + topic`) with one."""
        if url is None:
            hub = Hub()
            return cls(hub=hub, publisher=hub)
        # No message arrives until the relay's subscription is confirmed.
        hub = Hub(healthy=False)
        return cls(
            hub=hub,
            publisher=RedisPublisher(url, prefix=prefix),
            relay=RedisRelay(url, prefix=prefix, hub=hub),
        )

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """From any thread; never raises (a subscriber also re-reads now and then)."""
        try:
            self._publisher.publish(topic, message)
        except Exception:
            logger.exception("could not publish to %s", topic)

    def redis_channel(self, topic: str, *, url: str) -> str | None:
        """The Redis channel `publish(topic)` sends on when it publishes through the Redis at
        `url`, else None: a caller already writing to that Redis may publish the message in
        the same round trip (`RedisCache.put_and_publish`)."""
        if isinstance(self._publisher, RedisPublisher) and self._publisher.url == url:
            return self._publisher.prefix + topic
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        """Inside the event loop; what is published after entry is delivered."""
        subscription = self._hub.subscribe(topic)
        try:
            yield subscription
        finally:
            subscription.close()

    # Lifetime ---------------------------------------------------------------------------------

    def start(self) -> None:
        """In a process that subscribes, inside its event loop: start relaying from Redis."""
        self._loop = asyncio.get_running_loop()
        if self._relay is not None:
            self._relay.start()

    def end_subscriptions(self) -> None:
        """Shutting down: every subscription gets CLOSED (its clients reconnect elsewhere).

        Safe from any thread and in a signal handler: the work is handed to the event loop."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._hub.close)

    async def stop(self) -> None:
        self._hub.close()
        if self._relay is not None:
            await self._relay.stop()

    def close(self) -> None:
        """Release the publishing connection (after `stop`, or in a process that never started)."""
        if isinstance(self._publisher, RedisPublisher):
            self._publisher.close()

    def subscriber_count(self) -> int:
        return self._hub.count()
