"""Small messages fanned out to asyncio subscribers: in the process, or across processes by Redis.

A `Hub` lives in each API process. Its subscribers are async streams on the event loop, one per
topic they follow; `publish` may be called from any thread (an edit worker thread, the sweep).
With Redis, publishers anywhere send with `RedisPublisher`, and each API process runs one
`RedisRelay` that listens to every topic of its prefix and hands the messages to its hub.

Delivery is at most once. A subscriber is told to re-read what it follows (`RESYNC`) whenever a
message may have been missed: when the relay (re)connects, and after it lost its connection.
While the relay is down the hub is not `healthy`, and subscribers should poll instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from typing import Any, Final, Protocol

import redis
import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

_WARN_EVERY_SECONDS = 30.0


class Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# What a subscription may receive besides messages.
RESYNC: Final = Signal("RESYNC")  # something may have been missed: read the current state
CLOSED: Final = Signal("CLOSED")  # the process is shutting down: end the stream


class Publisher(Protocol):
    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send the message to the topic's subscribers; never raises."""
        ...


class Subscription:
    """One follower of one topic; create with `Hub.subscribe`, inside the event loop."""

    def __init__(self, hub: Hub, topic: str) -> None:
        self.hub = hub
        self.topic = topic
        self._loop = asyncio.get_running_loop()
        self._items: deque[dict[str, Any] | Signal] = deque()
        self._ready = asyncio.Event()

    @property
    def healthy(self) -> bool:
        """False while messages cannot arrive (the relay is disconnected): poll instead."""
        return self.hub.healthy

    def deliver(self, item: dict[str, Any] | Signal) -> None:
        """Called from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._push, item)

    def _push(self, item: dict[str, Any] | Signal) -> None:
        self._items.append(item)
        self._ready.set()

    async def next(self, timeout: float) -> list[dict[str, Any] | Signal]:
        """What arrived, oldest first; an empty list when nothing did within `timeout`."""
        if not self._items:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout=max(timeout, 0.0))
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items

    def close(self) -> None:
        self.hub.unsubscribe(self)


class Hub:
    """The subscribers of one process, by topic."""

    def __init__(self, *, healthy: bool = True) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}
        self._healthy = healthy
        self._closed = False

    @property
    def healthy(self) -> bool:
        return self._healthy and not self._closed

    def subscribe(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        with self._lock:
            self._subscribers.setdefault(topic, set()).add(subscription)
            closed = self._closed
        if closed:
            subscription.deliver(CLOSED)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            followers = self._subscribers.get(subscription.topic)
            if followers is not None:
                followers.discard(subscription)
                if not followers:
                    del self._subscribers[subscription.topic]

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        with self._lock:
            followers = list(self._subscribers.get(topic, ()))
        for subscription in followers:
            subscription.deliver(message)

    def set_healthy(self, healthy: bool) -> None:
        """Every change tells all subscribers to re-read: messages may have been missed."""
        self._healthy = healthy
        self._signal_all(RESYNC)

    def close(self) -> None:
        """End every subscription (shutting down); thread-safe, and safe in a signal handler."""
        self._closed = True
        self._signal_all(CLOSED)

    def count(self) -> int:
        with self._lock:
            return sum(len(followers) for followers in self._subscribers.values())

    def _signal_all(self, signal: Signal) -> None:
        with self._lock:
            everyone = [s for followers in self._subscribers.values() for s in followers]
        for subscription in everyone:
            subscription.deliver(signal)


class _Throttled:
    """Logs a warning at most every half minute, not once per message while Redis is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def warn(self, text: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < _WARN_EVERY_SECONDS:
                return
            self._last = now
        logger.warning(text, *args)


class RedisPublisher:
    """Publishes on the channel `prefix + topic`; Redis trouble is logged, never raised."""

    def __init__(self, url: str, *, prefix: str, timeout_seconds: float = 0.5) -> None:
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._warning = _Throttled()

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
        self._warning = _Throttled()

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
                await pubsub.aclose()  # type: ignore[no-untyped-call]
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
