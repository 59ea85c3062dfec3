"""The subscribers of one process: async streams on its event loop, by topic.

`publish` may be called from any thread (an edit worker thread, the sweep); each subscription
hands what it receives to its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any, Final, Protocol


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
