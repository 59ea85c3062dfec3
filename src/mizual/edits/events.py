"""Live status of an edit as server-sent events: `GET /edit/{uuid}/events`.

Every change to an edit goes through the status store (`edits.status`), which writes the new
status view through to the status cache and then publishes the same view on the process's
`Broadcast` (in the process, or Redis pub/sub on `{ENVIRONMENT}:events:{uuid}` when `REDIS_URL`
is set, which every API process relays to its own subscribers). This module only turns those
views into server-sent events. A stream sends

    event: status          one per change of the edit, starting with its current state
    id: <updated_at in microseconds since 1970>     increases with every change
    data: <the JSON of GET /edit/{uuid}>

and, when the edit completes, fails or is cancelled, the same with `event: done`, after which
it ends. When the process starts to stop (SIGTERM, `mizual.serving.Drain`), the stream sends
`retry: 1000` and ends: the client reconnects a second later, to another process. A comment
line (`: heartbeat`) goes out every `EVENTS_HEARTBEAT_SECONDS`, and the state is read again at
each one, so a message lost on the way costs at most one interval. While the Redis
relay is disconnected, streams read the state every `FALLBACK_POLL_SECONDS` instead.

States are always read the way `GET /edit/{uuid}` reads them (status cache, then database), and
pushed states are the very views written through to that cache, so stream and poll agree.
Waiting is asynchronous: a stream holds no thread and no database connection between reads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from starlette.responses import Response, StreamingResponse

from mizual.cleaning import parse_edit_id
from mizual.edits.stages import FINISHED_STATUSES
from mizual.edits.status import EditStatusStore
from mizual.kit.broadcast import CLOSED, RESYNC, Broadcast, Signal, Subscription

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # the default of EVENTS_HEARTBEAT_SECONDS
FALLBACK_POLL_SECONDS = 1.0
# How long a state read directly waits for the pushed messages of the changes up to it.
CATCH_UP_SECONDS = 0.25
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FINISHED = {status.value for status in FINISHED_STATUSES}
HEARTBEAT = b": heartbeat\n\n"
# Sent as the process stops (the stream got CLOSED): an EventSource reconnects after this many
# milliseconds instead of its default 3 s, and through the proxy reaches a process that is not
# stopping; its Last-Event-ID skips what it has.
RECONNECT = b"retry: 1000\n\n"
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


def event_id(view: dict[str, Any]) -> int:
    """`updated_at` in whole microseconds: every recorded change of an edit moves it forward."""
    stamp = datetime.fromisoformat(str(view["updated_at"]))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // timedelta(microseconds=1)


def is_finished(view: dict[str, Any]) -> bool:
    return view.get("status") in _FINISHED


def format_event(view: dict[str, Any]) -> bytes:
    kind = "done" if is_finished(view) else "status"
    data = json.dumps(view, separators=(",", ":"), ensure_ascii=False)
    return f"event: {kind}\nid: {event_id(view)}\ndata: {data}\n\n".encode()


def parse_last_event_id(value: str | None) -> int | None:
    """The id a reconnecting client already has; anything unreadable counts as none."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        return None
    return int(text)


class EditEvents:
    def __init__(
        self,
        *,
        status: EditStatusStore,
        broadcast: Broadcast,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        poll_seconds: float = FALLBACK_POLL_SECONDS,
    ) -> None:
        self.status = status
        self.broadcast = broadcast
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds

    # Streams --------------------------------------------------------------------------------

    async def open(self, edit_id: str, *, last_event_id: str | None) -> Response:
        """The stream's response; errors (422, 404) are raised before anything is streamed."""
        edit_uuid = parse_edit_id(edit_id)
        seen = parse_last_event_id(last_event_id)
        view = await self.status.aread(edit_uuid)
        if is_finished(view) and seen is not None and event_id(view) <= seen:
            # The client has the final state already. 204 tells an EventSource to stop trying.
            return Response(status_code=204)
        return StreamingResponse(
            self._stream(edit_uuid, seen),
            media_type="text/event-stream",
            headers=STREAM_HEADERS,
        )

    async def _read_or_none(self, edit_uuid: UUID) -> dict[str, Any] | None:
        try:
            return await self.status.aread(edit_uuid)
        except Exception as exc:  # the database, say: the next round tries again
            logger.warning("edit %s: event stream could not read: %r", edit_uuid, exc)
            return None

    async def _stream(self, edit_uuid: UUID, seen: int | None) -> AsyncIterator[bytes]:
        # Subscribed before the state is read, so no change can fall between the two.
        loop_time = time.monotonic
        async with self.broadcast.subscribe(str(edit_uuid)) as subscription:
            latest = seen

            def newer(view: dict[str, Any]) -> bool:
                return latest is None or event_id(view) > latest or is_finished(view)

            view = await self.status.aread(edit_uuid)
            if newer(view):
                yield format_event(view)
                latest = event_id(view) if latest is None else max(latest, event_id(view))
            if is_finished(view):
                return

            next_heartbeat = loop_time() + self.heartbeat_seconds
            next_poll = loop_time() + self.poll_seconds
            while True:
                due = next_heartbeat
                if not subscription.healthy:
                    due = min(due, next_poll)
                batch = _Batch(await subscription.next(due - loop_time()))
                now = loop_time()
                if now >= next_heartbeat:
                    yield HEARTBEAT
                    next_heartbeat = now + self.heartbeat_seconds
                    batch.reread = True  # a safety net for a message lost on the way
                if not subscription.healthy and now >= next_poll:
                    next_poll = now + self.poll_seconds
                    batch.reread = True
                if batch.reread and not batch.closed:
                    fresh = await self._read_or_none(edit_uuid)
                    if fresh is not None:
                        batch.views.append(fresh)
                        if subscription.healthy and newer(fresh):
                            # Its own message, and those of the changes before it, may still
                            # be on the way: wait a moment, so they all go out in order.
                            await batch.catch_up(subscription, event_id(fresh))
                    batch.add(await subscription.next(0))
                if batch.closed:
                    yield RECONNECT
                    return
                for view in sorted(batch.views, key=event_id):
                    if not newer(view):
                        continue
                    yield format_event(view)
                    if is_finished(view):
                        return
                    latest = event_id(view)


class _Batch:
    """What one round of a stream has to consider: views (pushed or read) and signals."""

    def __init__(self, items: list[dict[str, Any] | Signal]) -> None:
        self.views: list[dict[str, Any]] = []
        self.reread = False
        self.closed = False
        self.newest_pushed = -1
        self.add(items)

    def add(self, items: list[dict[str, Any] | Signal]) -> None:
        for item in items:
            if item is CLOSED:
                self.closed = True
            elif item is RESYNC:
                self.reread = True
            elif isinstance(item, dict):
                self.views.append(item)
                self.newest_pushed = max(self.newest_pushed, event_id(item))

    async def catch_up(self, subscription: Subscription, until_id: int) -> None:
        """Collect pushed views until one reaches `until_id`, for at most CATCH_UP_SECONDS."""
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while not self.closed and self.newest_pushed < until_id:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.add(await subscription.next(left))
