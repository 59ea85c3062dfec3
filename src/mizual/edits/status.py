"""What a client sees of an edit, and every change to it: the one home of the status cache.

Every change goes through `change` / `start_attempt`, which keep this order:

1. the cached status is replaced by a short-lived "changing" marker;
2. the row is written;
3. the new view is written through to the cache (`set`), then published to the edit's event
   streams — the very view a poll would read. With both on one Redis, that is one script: one
   round trip and one encoding of the view (`RedisCache.put_and_publish`).

Each cached view carries the row's `version` (bumped by every change), and the cache never
replaces a version with an older one (`put_versioned`). A reader fills the cache from the
database without overwriting the marker, and treats the marker as a miss: a reader that loaded
the row just before a change can neither put the older state back over the newer one nor serve
it while the change is being written. Nothing cached before a Redis restart is served after it
(`kit.rediscache`), so a restored or emptied Redis cannot bring an older stage back. Chains
keep their shape (the members' ids) under a key of their own, with the same marker while a
chain grows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from anyio import to_thread

from mizual.edits.repository import EditRecord, EditRepository
from mizual.edits.schemas import EditStatusView
from mizual.edits.stages import EditStatus
from mizual.errors import Gone, NotFound
from mizual.kit.broadcast import Broadcast
from mizual.kit.cache import Cache
from mizual.kit.rediscache import RedisCache
from mizual.kit.storage.base import Storage

logger = logging.getLogger(__name__)

STATUS_TTL_SECONDS = 30
CHAIN_TTL_SECONDS = 60
# At most this long: the new value normally replaces the marker within milliseconds.
CHANGING_SECONDS = 10
_CHANGING = "changing"

View = dict[str, Any]
# Told of every published state of an edit that has a webhook_url (the webhooks outbox).
PublishListener = Callable[[EditRecord, View], None]


class EditStatusStore:
    def __init__(
        self,
        *,
        repository: EditRepository,
        storage: Storage,
        cache: Cache,
        broadcast: Broadcast,
        key_prefix: str,
        listener: PublishListener | None = None,
    ) -> None:
        self.repository = repository
        self.storage = storage
        self.cache = cache
        self.broadcast = broadcast
        self._prefix = key_prefix
        self._listener = listener

    # Reading -----------------------------------------------------------------------------------

    def read(self, edit_uuid: UUID) -> View:
        """The edit's status view: cached, else from the database (NotFound if there is none)."""
        cached = _as_view(self.cache.get(self._status_key(edit_uuid)))
        return _unless_deleted(cached) if cached is not None else self._load(edit_uuid)

    async def aread(self, edit_uuid: UUID) -> View:
        """`read` for the event loop: the cache is read on the loop (no thread hop for a hit);
        a miss goes to the thread pool for the database, without asking the cache again (that
        would double the wait while Redis is unreachable)."""
        cached = _as_view(await self.cache.aget(self._status_key(edit_uuid)))
        if cached is not None:
            return _unless_deleted(cached)
        return await to_thread.run_sync(self._load, edit_uuid)

    def status_key(self, edit_uuid: UUID) -> str:
        """The cache key of the edit's status view (read by `edits.polls` in its own way)."""
        return self._status_key(edit_uuid)

    def record(self, edit_uuid: UUID) -> EditRecord:
        """The edit as stored: NotFound if there is none, Gone if it was deleted."""
        record = self.repository.get(edit_uuid)
        if record is None:
            raise NotFound(f"no edit {edit_uuid} exists")
        if record.status == EditStatus.DELETED:
            raise _gone(edit_uuid)
        return record

    def view(self, record: EditRecord) -> View:
        return EditStatusView.from_record(record, storage=self.storage).model_dump(mode="json")

    def chain(self, edit_uuid: UUID) -> list[View]:
        """The status views of every member of the chain through the edit, positions 1..n."""
        key = self._chain_key(edit_uuid)
        members = self.cache.get(key)
        if isinstance(members, list):
            views = self._member_views([UUID(member) for member in members])
            if views is not None and all(not _is_deleted(view) for view in views):
                return views
            members = None  # a member was deleted since: the chain is read afresh
            self.cache.delete(key)
        records = self.repository.chain(edit_uuid)
        if not records:
            raise NotFound(f"no edit {edit_uuid} exists")
        if any(
            record.uuid == edit_uuid and record.status == EditStatus.DELETED for record in records
        ):
            raise _gone(edit_uuid)
        if members is None:  # not while the chain is changing
            shape = [str(record.uuid) for record in records]
            self.cache.add(key, shape, ttl_seconds=CHAIN_TTL_SECONDS)
        return [self._fill(record) for record in records]

    # Changing ----------------------------------------------------------------------------------

    def change(
        self,
        edit_uuid: UUID,
        *,
        attempt: int | None = None,
        durable: bool = True,
        **values: Any,
    ) -> EditRecord | None:
        """Record a change to an edit and publish it; None if nothing was changed. `attempt`:
        only if that attempt still runs the edit (a worker's writes). `durable=False` marks mere
        progress, which a database crash may lose (the edit is then resumed from its last
        durable state)."""
        self._mark_changing(edit_uuid)
        record = self.repository.update(edit_uuid, attempt=attempt, durable=durable, **values)
        if record is not None:
            self.publish(record)
        return record

    def cancel(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark the edit cancelled and publish it; None if it is unknown or already finished."""
        self._mark_changing(edit_uuid)
        record = self.repository.cancel(edit_uuid)
        if record is not None:
            self.publish(record)
        return record

    def erase(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark the finished edit deleted, its personal data erased (`EditRepository.erase`),
        and publish it: its streams end on a last `deleted` event, the cache holds the deleted
        state (read as Gone), and every chain it was in is read afresh. None if it is unknown,
        unfinished, or deleted already."""
        self._mark_changing(edit_uuid)
        record = self.repository.erase(edit_uuid)
        if record is None:
            return None
        self.publish(record)
        self.cache.delete(self._chain_key(edit_uuid))
        if record.parent_edit_uuid is not None:
            self.chain_grows(record.parent_edit_uuid)  # the chains of its ancestors shrink
        # The feedback service's cached copy of the erased feedback (`FeedbackService._key`).
        self.cache.delete(f"{self._prefix}feedback:{edit_uuid}")
        return record

    def claim_expiring(self, *, created_before: datetime, message: str) -> list[EditRecord]:
        """Mark expired the finished edits created before then (`EditRepository
        .claim_expiring`) and publish each; the claimed edits, their images to be removed."""
        records = self.repository.claim_expiring(created_before=created_before, message=message)
        for record in records:
            self.publish(record)
        return records

    def start_attempt(self, edit_uuid: UUID, *, lease_seconds: float) -> EditRecord | None:
        """Claim the edit for one more attempt, leased for `lease_seconds`; None if it is
        finished, unknown, or held by a live attempt."""
        self._mark_changing(edit_uuid)
        record = self.repository.start_attempt(edit_uuid, lease_seconds=lease_seconds)
        if record is not None:
            self.publish(record)
        return record

    def renew_leases(self, held: list[tuple[UUID, int]], *, lease_seconds: float) -> set[UUID]:
        """The edits of `held` (edit, attempt) whose attempt still runs them, leases renewed."""
        return self.repository.renew_leases(held, lease_seconds=lease_seconds)

    def publish(self, record: EditRecord) -> View:
        """Write the edit's current state through to the cache, then tell its event streams
        (the same view, after the cache has it). Called after every change."""
        topic = str(record.uuid)
        channel = self._events_channel(topic)
        view = self._cache_view(record, fill=False, channel=channel)
        if channel is None:  # else the cache's write published it
            self.broadcast.publish(topic, view)
        # Only edits with a webhook_url cost the listener anything; it never fails the change.
        if self._listener is not None and record.webhook_url is not None:
            try:
                self._listener(record, view)
            except Exception:
                logger.exception("the publish listener failed for edit %s", record.uuid)
        return view

    def chain_grows(self, parent_uuid: UUID) -> None:
        """A new child changes the chain seen from its parent and from every ancestor."""
        for member in self.repository.lineage(parent_uuid):
            self.cache.set(self._chain_key(member), _CHANGING, ttl_seconds=CHANGING_SECONDS)

    # Internals ---------------------------------------------------------------------------------

    def _load(self, edit_uuid: UUID) -> View:
        return self._fill(self.record(edit_uuid))

    def _fill(self, record: EditRecord) -> View:
        # A fill: a worker's newer state, or its marker, written meanwhile, wins over this read.
        return self._cache_view(record, fill=True)

    def _events_channel(self, topic: str) -> str | None:
        """The Redis channel of the topic's events when the cache's own Redis carries them: the
        cache's write then publishes the view too (`RedisCache.put_and_publish`)."""
        if isinstance(self.cache, RedisCache):
            return self.broadcast.redis_channel(topic, url=self.cache.url)
        return None

    def _cache_view(self, record: EditRecord, *, fill: bool, channel: str | None = None) -> View:
        view = self.view(record)
        key, version = self._status_key(record.uuid), record.version
        if channel is not None and isinstance(self.cache, RedisCache):
            self.cache.put_and_publish(
                key, view, version=version, ttl_seconds=STATUS_TTL_SECONDS, channel=channel
            )
        else:
            self.cache.put_versioned(
                key, view, version=version, ttl_seconds=STATUS_TTL_SECONDS, fill=fill
            )
        return view

    def _member_views(self, members: list[UUID]) -> list[View] | None:
        """Each member's current status: from the cache, the rest from the database."""
        keys = [self._status_key(member) for member in members]
        cached = [_as_view(value) for value in self.cache.get_many(keys)]
        missing = [member for member, view in zip(members, cached, strict=True) if view is None]
        loaded = {record.uuid: record for record in self.repository.get_many(missing)}
        if len(loaded) < len(missing):
            return None  # the cached shape names an edit the database lacks; read it afresh
        return [
            view if view is not None else self._fill(loaded[member])
            for member, view in zip(members, cached, strict=True)
        ]

    def _mark_changing(self, edit_uuid: UUID) -> None:
        self.cache.set(self._status_key(edit_uuid), _CHANGING, ttl_seconds=CHANGING_SECONDS)

    def _status_key(self, edit_uuid: UUID) -> str:
        return f"{self._prefix}status:{edit_uuid}"

    def _chain_key(self, edit_uuid: UUID) -> str:
        return f"{self._prefix}chain:{edit_uuid}"


def _is_deleted(view: View) -> bool:
    return view.get("status") == EditStatus.DELETED


def _gone(edit_uuid: UUID) -> Gone:
    return Gone(
        f"edit {edit_uuid} was deleted: its images and prompt were removed at its owner's "
        "request and cannot be brought back"
    )


def _unless_deleted(view: View) -> View:
    if _is_deleted(view):
        raise _gone(UUID(str(view["uuid"])))
    return view


def servable(payload: bytes) -> bool:
    """Whether a cached status, as JSON text, may be sent to a poll as it is: a view (not the
    changing marker, a JSON string) of an edit not deleted (`read` answers that with 410).
    Inside a JSON string a quote is escaped, so a prompt cannot spell the deleted status."""
    return payload.startswith(b"{") and _DELETED_JSON not in payload


_DELETED_JSON = f'"status":"{EditStatus.DELETED.value}"'.encode()


def _as_view(cached: Any) -> View | None:
    """A cached status view (a copy), or None for a miss or the changing marker."""
    return dict(cached) if isinstance(cached, dict) else None
