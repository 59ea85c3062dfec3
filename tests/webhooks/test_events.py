"""Which state is which message, and the retry schedule."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from mizual.edits.repository import EditRecord
from mizual.webhooks.events import MAX_ATTEMPTS, message_for, parse_retry_after, retry_delay

_NOW = datetime(2026, 12, 3, tzinfo=UTC)


def record(**values: Any) -> EditRecord:
    base: dict[str, Any] = {field.name: None for field in dataclasses.fields(EditRecord)}
    base.update(
        uuid=uuid.UUID(int=7), status="processing", processing_stage="ai_processing",
        attempts=1, version=3, webhook_url="https://example.com/hook",
        webhook_events=["completed", "failed", "cancelled"], created_at=_NOW, updated_at=_NOW,
    )  # fmt: skip
    base.update(values)
    return EditRecord(**base)


def test_final_states_are_their_event_when_asked_for() -> None:
    for status in ("completed", "failed", "cancelled"):
        message = message_for(record(status=status, processing_stage=status))
        assert message is not None
        assert message.event == status
        assert message.message_id == f"msg_{uuid.UUID(int=7).hex}_{status}"
    assert message_for(record(status="completed", webhook_events=["failed"])) is None
    assert message_for(record(status="completed", webhook_url=None)) is None


def test_stages_are_sent_only_when_asked_and_once_per_stage_and_attempt() -> None:
    assert message_for(record()) is None  # not asked for
    asked = ["stage", "completed"]
    first = message_for(record(webhook_events=asked))
    assert first is not None
    assert first.event == "stage"
    # A re-publish of the same state (another version) is the same message...
    assert message_for(record(webhook_events=asked, version=9)) == first
    # ...a new stage, or the same stage in a new attempt, a new one.
    assert message_for(record(webhook_events=asked, processing_stage="uploading_result")) != first
    assert message_for(record(webhook_events=asked, attempts=2)) != first
    assert message_for(record(webhook_events=asked, status="pending")) is None


def test_the_retry_schedule() -> None:
    delays = [retry_delay(attempts) for attempts in range(1, MAX_ATTEMPTS + 1)]
    seconds = [5, 30, 120, 600, 1800, 3600]
    assert delays == [timedelta(seconds=s) for s in seconds] + [None]
    assert MAX_ATTEMPTS == 7


def test_retry_after_is_honoured_within_bounds() -> None:
    assert retry_delay(1, retry_after=12) == timedelta(seconds=12)
    assert retry_delay(1, retry_after=0) == timedelta(seconds=1)
    assert retry_delay(1, retry_after=86400) == timedelta(hours=1)
    assert retry_delay(MAX_ATTEMPTS, retry_after=3) is None
    assert parse_retry_after(" 7 ") == 7
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after(None) is None
