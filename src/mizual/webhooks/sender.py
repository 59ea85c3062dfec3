"""Sends stored webhook messages: a few threads per process, fed by the outbox right after a
message is stored and by a periodic round with whatever is due (retries, messages of a process
that died). Any number of processes may send at once: each attempt is claimed first."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import httpx

from mizual.kit.db.tables import utcnow
from mizual.kit.safehttp import UnsafeDestination
from mizual.observability import metrics
from mizual.webhooks import signing
from mizual.webhooks.events import parse_retry_after, retry_delay
from mizual.webhooks.outbox import DeliveryWork
from mizual.webhooks.repository import DELIVERED, FAILED, PENDING, DeliveryRow, WebhookRepository

if TYPE_CHECKING:
    from mizual.edits.status import EditStatusStore

logger = logging.getLogger(__name__)

ROUND_SECONDS = 1.0
_DUE_PER_ROUND = 100
# A claim outlives the attempt (its timeout) by this much; then another process may take over.
_CLAIM_MARGIN = timedelta(seconds=30)
# Shutdown waits this long in all for attempts under way; the rest are claimed again later.
_CLOSE_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    state: str  # pending (try again), delivered or failed
    metric: str  # delivered, retry, failed or refused
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


class WebhookSender:
    def __init__(
        self,
        *,
        repository: WebhookRepository,
        work: DeliveryWork,
        status: EditStatusStore,
        client: httpx.Client,
        secret: str,
        timeout_seconds: float,
        threads: int = 4,
    ) -> None:
        self.repository = repository
        self.work = work
        self.status = status
        self.client = client
        self._key = signing.secret_key(secret)
        self._hold = timedelta(seconds=timeout_seconds) + _CLAIM_MARGIN
        self._threads = [
            threading.Thread(target=self._serve, name=f"webhook-sender-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def send_due(self) -> None:
        """The periodic round: hand every edit with a message due to the sender threads."""
        for edit_uuid in self.repository.due_edits(now=utcnow(), limit=_DUE_PER_ROUND):
            self.work.put(edit_uuid)

    def close(self) -> None:
        """Stop the threads (an attempt under way finishes or times out) and the client. A
        message not sent yet stays due: the next round of any process sends it."""
        self.work.stop(consumers=len(self._threads))
        deadline = time.monotonic() + _CLOSE_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.client.close()

    def send_for(self, edit_uuid: UUID) -> None:
        """Send the edit's due messages, in order, until none is left or one must wait."""
        while True:
            now = utcnow()
            row = self.repository.claim_next(edit_uuid, now=now, hold_until=now + self._hold)
            if row is None:
                return
            self._deliver(row)

    def _serve(self) -> None:
        while (edit_uuid := self.work.take()) is not None:
            try:
                self.send_for(edit_uuid)
            except Exception:  # the database may be down: the round tries again later
                logger.exception("webhook delivery for edit %s failed", edit_uuid)

    def _deliver(self, row: DeliveryRow) -> None:
        outcome = self._attempt(row)
        attempts = row.attempts + 1
        now = utcnow()
        state, metric, next_attempt_at = outcome.state, outcome.metric, now
        if state == PENDING:
            delay = retry_delay(attempts, retry_after=outcome.retry_after)
            if delay is None:
                state, metric = FAILED, "failed"
            else:
                next_attempt_at = now + delay
        metrics.webhook_attempt(metric)
        if state != DELIVERED:
            logger.info(
                "webhook %s (%s) attempt %d: %s", row.message_id, row.event, attempts,
                outcome.error or outcome.status_code,
            )  # fmt: skip
        self.repository.record(
            row.id,
            state=state,
            attempts=attempts,
            status_code=outcome.status_code,
            error=outcome.error,
            next_attempt_at=next_attempt_at,
            delivered_at=now if state == DELIVERED else None,
        )
        summary = {
            "delivered": state == DELIVERED,
            "attempts": attempts,
            "event": row.event,
            "last_status_code": outcome.status_code,
            "state": state,
        }
        # No attempt fence: the summary is not the worker's to write, and may follow any state.
        self.status.change(row.edit_uuid, webhook_delivery=summary)

    def _attempt(self, row: DeliveryRow) -> Outcome:
        headers = signing.signed_headers(
            key=self._key, message_id=row.message_id, timestamp=int(time.time()), body=row.body
        )
        try:
            # Streamed and never read: only the status and headers matter, and a receiver's
            # body (however large) stays on the wire.
            with self.client.stream(
                "POST", row.url, content=row.body.encode(), headers=headers
            ) as response:
                pass
        except UnsafeDestination as exc:  # the name now resolves to a private address
            return Outcome(FAILED, "refused", error=exc.reason)
        except httpx.TransportError as exc:  # timeouts, refused connections, broken answers
            return Outcome(PENDING, "retry", error=f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(DELIVERED, "delivered", status_code=code)
        if code == 429 or code >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return Outcome(PENDING, "retry", status_code=code, retry_after=retry_after)
        # Other 4xx (and 3xx: redirects are not followed): trying again would not help.
        return Outcome(FAILED, "failed", status_code=code)
