"""Which webhook message a state of an edit is, and when a failed attempt is tried again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from mizual.edits.stages import EditStatus

if TYPE_CHECKING:
    from mizual.edits.repository import EditRecord

# Seconds before attempt 2, 3, ...: the first attempt is immediate, 7 attempts in all.
RETRY_DELAYS = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A receiver's Retry-After is honoured within these bounds.
RETRY_AFTER_BOUNDS = (1, 3600)

_FINAL = {EditStatus.COMPLETED, EditStatus.FAILED, EditStatus.CANCELLED}


@dataclass(frozen=True)
class Message:
    event: str
    message_id: str


def message_for(record: EditRecord) -> Message | None:
    """The message this state of the edit is, if its submitter asked for that event.

    The id depends only on what the event is, never on the row's version: publishing the same
    state again (a progress update, the delivery summary) names the same message, which the
    unique message_id then stores once. A stage is a new message per attempt of the edit."""
    if record.webhook_url is None:
        return None
    if record.status in _FINAL:
        event = str(record.status)
        message_id = f"msg_{record.uuid.hex}_{event}"
    elif record.status == EditStatus.PROCESSING and record.processing_stage:
        event = "stage"
        message_id = f"msg_{record.uuid.hex}_stage_{record.attempts}_{record.processing_stage}"
    else:
        return None
    if event not in (record.webhook_events or ()):
        return None
    return Message(event=event, message_id=message_id)


def retry_delay(attempts: int, *, retry_after: float | None = None) -> timedelta | None:
    """How long after the `attempts`-th failed attempt to try again; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    if retry_after is not None:
        low, high = RETRY_AFTER_BOUNDS
        return timedelta(seconds=min(max(retry_after, low), high))
    return timedelta(seconds=RETRY_DELAYS[attempts - 1])


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not worth honouring here (the schedule
    applies instead)."""
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None
