"""The listener of the edit status store: each published state that is a webhook message is
stored (once), then handed to this process's sender threads."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from uuid import UUID

from mizual.kit.db.tables import utcnow
from mizual.webhooks.events import message_for
from mizual.webhooks.repository import WebhookRepository

if TYPE_CHECKING:
    from mizual.edits.repository import EditRecord

logger = logging.getLogger(__name__)

# Message ids this process already stored: re-publishing a state then costs no query.
_REMEMBERED = 4096


class DeliveryWork:
    """Edits with messages to send, for the sender's threads; each edit waits here once."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._waiting: set[UUID] = set()
        self._lock = threading.Lock()

    def put(self, edit_uuid: UUID) -> None:
        with self._lock:
            if edit_uuid in self._waiting:
                return
            self._waiting.add(edit_uuid)
        self._queue.put(edit_uuid)

    def take(self) -> UUID | None:
        """The next edit to send for; None: stop."""
        edit_uuid = self._queue.get()
        if edit_uuid is not None:
            with self._lock:
                self._waiting.discard(edit_uuid)
        return edit_uuid

    def stop(self, *, consumers: int) -> None:
        for _ in range(consumers):
            self._queue.put(None)


class WebhookOutbox:
    def __init__(self, *, repository: WebhookRepository, work: DeliveryWork) -> None:
        self.repository = repository
        self.work = work
        self._stored: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def on_publish(self, record: EditRecord, view: dict[str, Any]) -> None:
        """Called after every committed change of an edit with a webhook_url; never raises."""
        try:
            self._store(record, view)
        except Exception:  # a webhook never fails the edit; the state is committed already
            logger.exception("could not store the webhook message of edit %s", record.uuid)

    def _store(self, record: EditRecord, view: dict[str, Any]) -> None:
        message = message_for(record)
        if message is None or record.webhook_url is None:
            return
        with self._lock:
            if message.message_id in self._stored:
                return
        body = json.dumps({**view, "event": message.event}, separators=(",", ":"))
        self.repository.enqueue(
            edit_uuid=record.uuid,
            message_id=message.message_id,
            event=message.event,
            url=record.webhook_url,
            body=body,
            now=utcnow(),
        )
        with self._lock:
            self._stored[message.message_id] = None
            while len(self._stored) > _REMEMBERED:
                self._stored.popitem(last=False)
        # Even when another process stored it first: a claim decides who sends it.
        self.work.put(record.uuid)
