"""Storing and sending webhook messages on SQLite and PostgreSQL: one row per message however
often a state is published, one sender per attempt, outcomes and the status view's summary."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from mizual.edits.repository import EditRepository
from mizual.edits.status import EditStatusStore
from mizual.kit.broadcast import Broadcast
from mizual.kit.cache import MemoryCache
from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.tables import utcnow
from mizual.kit.db.timing import OperationTimings
from mizual.kit.safehttp import UnsafeDestination
from mizual.kit.storage.local import LocalStorage
from mizual.settings import load_settings
from mizual.webhooks.outbox import DeliveryWork, WebhookOutbox
from mizual.webhooks.repository import WebhookRepository
from mizual.webhooks.sender import WebhookSender

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
Reply = Callable[[httpx.Request], httpx.Response]


@dataclass
class Setup:
    edits: EditRepository
    webhooks: WebhookRepository
    status: EditStatusStore
    work: DeliveryWork
    replies: list[Reply]
    requests: list[httpx.Request]
    sender: WebhookSender

    def edit(self, events: list[str]) -> UUID:
        edit_uuid = uuid.uuid4()
        self.edits.create(
            values={
                "uuid": edit_uuid,
                "prompt": "flip it",
                "original_key": f"originals/{edit_uuid}.jpg",
                "original_image_url": f"/images/originals/{edit_uuid}.jpg",
                "webhook_url": "https://hooks.example.com/in",
                "webhook_events": events,
            },
            parent_edit_uuid=None,
            chain_position=1,
        )
        return edit_uuid

    def make_due(self, edit_uuid: UUID) -> None:
        for row in self.webhooks.for_edit(edit_uuid):
            self.webhooks.record(
                row.id, state=row.state, attempts=row.attempts,
                status_code=row.last_status_code, error=row.last_error,
                next_attempt_at=utcnow() - timedelta(seconds=1), delivered_at=row.delivered_at,
            )  # fmt: skip


@pytest.fixture
def setup(database_options: dict[str, str], tmp_path: Path) -> Iterator[Setup]:
    settings = load_settings(data_dir=tmp_path, environment="preview", **database_options)
    engine = build_engine(settings)
    upgrade(engine, schema=settings.database_schema)
    timings = OperationTimings()
    edits, webhooks, work = (
        EditRepository(engine, timings),
        WebhookRepository(engine, timings),
        DeliveryWork(),
    )
    outbox = WebhookOutbox(repository=webhooks, work=work)
    status = EditStatusStore(
        repository=edits,
        storage=LocalStorage(root=tmp_path / "images", base_url="http://test"),
        cache=MemoryCache(),
        broadcast=Broadcast.from_url(None, prefix="test:"),
        key_prefix="test:",
        listener=outbox.on_publish,
    )
    replies: list[Reply] = []
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return replies.pop(0)(request)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    # No threads: the test sends itself, with `send_for`.
    sender = WebhookSender(
        repository=webhooks, work=work, status=status, client=client, secret=SECRET,
        timeout_seconds=5, threads=0,
    )  # fmt: skip
    yield Setup(edits, webhooks, status, work, replies, requests, sender)
    sender.close()
    engine.dispose()


def answer(code: int, **headers: str) -> Reply:
    return lambda request: httpx.Response(code, headers=headers)


def test_a_state_published_again_is_stored_once(setup: Setup) -> None:
    edit_uuid = setup.edit(["completed", "stage"])
    setup.status.change(
        edit_uuid, status="processing", processing_stage="ai_processing", attempts=1
    )
    setup.status.change(edit_uuid, durable=False, stage_timings={"ai_processing": 0.5})
    setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    rows = setup.webhooks.for_edit(edit_uuid)
    assert [row.event for row in rows] == ["stage", "completed"]
    # Another process (no memory of what was stored) stores nothing new either.
    other = WebhookOutbox(repository=setup.webhooks, work=DeliveryWork())
    other.on_publish(setup.status.record(edit_uuid), {})
    assert len(setup.webhooks.for_edit(edit_uuid)) == 2
    assert setup.work.take() == edit_uuid


def test_delivered_in_order_signed_and_summarised(setup: Setup) -> None:
    edit_uuid = setup.edit(["completed", "stage"])
    setup.status.change(
        edit_uuid, status="processing", processing_stage="ai_processing", attempts=1
    )
    final = setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    assert final is not None
    setup.replies.extend([answer(200), answer(204)])
    setup.sender.send_for(edit_uuid)
    bodies = [Webhook(SECRET).verify(r.content, dict(r.headers)) for r in setup.requests]
    assert [body["event"] for body in bodies] == ["stage", "completed"]
    assert {key: value for key, value in bodies[1].items() if key != "event"} == setup.status.view(
        final
    )
    view = setup.status.read(edit_uuid)
    assert view["webhook"] == {
        "delivered": True, "attempts": 1, "event": "completed", "last_status_code": 204,
        "state": "delivered",
    }  # fmt: skip
    # The summary's own publishes stored nothing new.
    assert len(setup.webhooks.for_edit(edit_uuid)) == 2


def test_a_5xx_is_retried_on_schedule_with_the_same_id(setup: Setup) -> None:
    edit_uuid = setup.edit(["completed"])
    setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    setup.replies.append(answer(503))
    setup.sender.send_for(edit_uuid)
    (row,) = setup.webhooks.for_edit(edit_uuid)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, 503)
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=5)
    setup.sender.send_for(edit_uuid)  # not due yet: nothing is sent
    assert len(setup.requests) == 1
    setup.make_due(edit_uuid)
    setup.replies.append(answer(200))
    setup.sender.send_for(edit_uuid)
    first, second = setup.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert setup.status.read(edit_uuid)["webhook"]["attempts"] == 2
    assert setup.status.read(edit_uuid)["webhook"]["delivered"] is True


def test_given_up_after_seven_attempts(setup: Setup) -> None:
    edit_uuid = setup.edit(["failed"])
    setup.status.change(edit_uuid, status="failed", processing_stage="failed")
    for _ in range(7):
        setup.make_due(edit_uuid)
        setup.replies.append(answer(500))
        setup.sender.send_for(edit_uuid)
    (row,) = setup.webhooks.for_edit(edit_uuid)
    assert (row.state, row.attempts) == ("failed", 7)
    setup.make_due(edit_uuid)
    setup.sender.send_for(edit_uuid)
    assert len(setup.requests) == 7


@pytest.mark.parametrize(
    ("reply", "state", "after"),
    [
        (answer(400), "failed", None),
        (answer(410), "failed", None),
        (answer(301, location="https://elsewhere.example.com/"), "failed", None),
        (answer(429, **{"retry-after": "20"}), "pending", 20),
        (answer(429), "pending", 5),
    ],
)
def test_outcomes(setup: Setup, reply: Reply, state: str, after: int | None) -> None:
    edit_uuid = setup.edit(["completed"])
    setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    setup.replies.append(reply)
    setup.sender.send_for(edit_uuid)
    (row,) = setup.webhooks.for_edit(edit_uuid)
    assert row.state == state
    if after is not None:
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        assert after - 2 < wait <= after


def _raise(exc: Exception) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc

    return reply


def test_timeouts_and_connection_errors_are_retried_refusals_are_not(setup: Setup) -> None:
    for exc, state in [
        (httpx.ConnectError("refused"), "pending"),
        (httpx.ReadTimeout("slow"), "pending"),
        (UnsafeDestination("hooks.example.com is a loopback address"), "failed"),
    ]:
        edit_uuid = setup.edit(["completed"])
        setup.status.change(edit_uuid, status="completed", processing_stage="completed")
        setup.replies.append(_raise(exc))
        setup.sender.send_for(edit_uuid)
        (row,) = setup.webhooks.for_edit(edit_uuid)
        assert row.state == state, exc
        assert row.last_error is not None


def test_a_claim_is_taken_once(setup: Setup) -> None:
    edit_uuid = setup.edit(["cancelled"])
    setup.status.change(edit_uuid, status="cancelled", processing_stage="cancelled")
    now = utcnow()
    first = setup.webhooks.claim_next(edit_uuid, now=now, hold_until=now + timedelta(seconds=60))
    again = setup.webhooks.claim_next(edit_uuid, now=now, hold_until=now + timedelta(seconds=60))
    assert first is not None
    assert again is None
    assert setup.webhooks.due_edits(now=now, limit=10) == []
    # A claimer that died: its claim runs out, and the message is due again.
    later = now + timedelta(seconds=61)
    assert setup.webhooks.due_edits(now=later, limit=10) == [edit_uuid]


def test_a_failing_listener_never_fails_the_change(setup: Setup, monkeypatch: Any) -> None:
    edit_uuid = setup.edit(["completed"])

    def broken(**_values: Any) -> bool:
        raise RuntimeError("database gone")

    monkeypatch.setattr(setup.webhooks, "enqueue", broken)
    changed = setup.status.change(edit_uuid, status="completed", processing_stage="completed")
    assert changed is not None
    assert changed.status == "completed"
