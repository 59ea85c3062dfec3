"""Live progress as server-sent events (`GET /edit/{uuid}/events`), over real HTTP: embedded, and
across processes (`mizual api` ≠ `mizual worker`) with PostgreSQL, Redis and S3."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from mizual.edits.stages import PIPELINE
from tests.support import (
    UNKNOWN_ID,
    MizualServer,
    S3Server,
    StreamEvent,
    WorkerProcess,
    assert_error,
    distributed_env,
    free_port,
    jpeg_bytes,
    migrate,
    read_events,
    submit,
    wait_for,
    wait_for_workers,
)

# Every state an edit passes through, in order: the stream must show each one. With
# enhancement off (as here), the stages with nothing to wait for are not written on their own.
INSTANT_STAGES = {"enhancing_prompt", "fetching_image", "completion"}
ALL_STAGES = [
    "pending",
    *[stage.value for stage in PIPELINE if stage.value not in INSTANT_STAGES],
    "completed",
]
STAGE_ORDER = {stage: index for index, stage in enumerate(ALL_STAGES)}
# One worker and a slow editor: a second edit waits while the first is edited, so its stream
# can be opened before anything has happened to it.
SLOW_ONE_WORKER = {
    "EDIT_PROVIDER": "noop",
    "NOOP_EDIT_DELAY_SECONDS": "1.5",
    "MAX_WORKERS": "1",
    "EVENTS_HEARTBEAT_SECONDS": "0.3",
}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    server = MizualServer(tmp_path_factory.mktemp("events"), SLOW_ONE_WORKER).start()
    yield server
    server.stop()


def distinct_stages(events: list[StreamEvent]) -> list[str]:
    stages: list[str] = []
    for event in events:
        if event.data is not None and (not stages or stages[-1] != event.stage):
            stages.append(str(event.stage))
    return stages


def assert_whole_story(events: list[StreamEvent], final: dict[str, object]) -> None:
    """From the queued state to `done`, every stage in order, ids rising, data as GET's."""
    changes = [event for event in events if event.data is not None]
    assert distinct_stages(changes) == ALL_STAGES, changes
    assert [event.kind for event in changes] == ["status"] * (len(changes) - 1) + ["done"]
    ids = [event.id for event in changes]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids), ids
    assert changes[0].data is not None
    assert changes[0].data["status"] == "pending"
    assert changes[-1].data == final  # the last event is exactly what a poll now returns
    assert all(set(event.data or {}) == set(final) for event in changes)
    # The stages not shown on their own were still run, and timed.
    assert set(final["stage_timings_ms"]) == {stage.value for stage in PIPELINE} - {"completion"}


def delays_ms(events: list[StreamEvent]) -> list[float]:
    """From each change (its `updated_at`, this machine's clock) to its event's arrival; the
    first event, the state at connection, is left out."""
    changes = [event for event in events if event.data is not None][1:]
    return [
        round((event.arrived - datetime.fromisoformat(event.data["updated_at"]).timestamp()) * 1000)
        for event in changes
        if event.data is not None
    ]


def test_stream_follows_an_edit_from_submit_to_done(slow_server: MizualServer) -> None:
    with slow_server.client() as client:
        blocker = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
        edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()["edit_id"]
        assert client.get(f"/edit/{edit_id}").json()["status"] == "pending"

        events = read_events(client, edit_id, timeout=30)
        assert_whole_story(events, client.get(f"/edit/{edit_id}").json())
        assert events[-1].kind == "done"  # and then the server ended the stream
        print(f"embedded delivery delays (ms): {delays_ms(events)}")
        wait_for(client, blocker)


def test_reconnect_with_last_event_id_gets_only_the_current_state(
    slow_server: MizualServer,
) -> None:
    with slow_server.client() as client:
        edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()["edit_id"]
        first = read_events(
            client, edit_id, until=lambda event: event.stage == "ai_processing", timeout=30
        )
        seen = first[-1]
        assert seen.id is not None

        # Reconnecting with the id it has: that state is not sent again, only newer ones.
        resumed = read_events(client, edit_id, last_event_id=seen.id, timeout=30)
        changes = [event for event in resumed if event.data is not None]
        assert changes[0].id is not None
        assert changes[0].id > seen.id
        assert STAGE_ORDER[str(changes[0].stage)] > STAGE_ORDER["ai_processing"]
        assert changes[-1].kind == "done"

        # Reconnecting after the end with an old id: the current (final) state alone, no history.
        replay = read_events(client, edit_id, last_event_id=first[0].id, timeout=30)
        assert [(event.kind, event.id) for event in replay] == [("done", changes[-1].id)]
        assert replay[0].data == client.get(f"/edit/{edit_id}").json()

        # With the final state already in hand, there is nothing to stream: 204 ends an
        # EventSource's reconnecting.
        response = client.get(
            f"/edit/{edit_id}/events", headers={"Last-Event-ID": str(changes[-1].id)}
        )
        assert response.status_code == 204
        assert response.content == b""


def test_heartbeat_comments_keep_a_quiet_stream_alive(slow_server: MizualServer) -> None:
    with slow_server.client() as client:
        edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()["edit_id"]
        events = read_events(client, edit_id, timeout=30)
        # 1.5 s of editing with a heartbeat every 0.3 s.
        assert [event for event in events if event.kind == "comment"]
        assert events[-1].kind == "done"


def test_unknown_or_invalid_id_is_a_json_error_not_a_stream(slow_server: MizualServer) -> None:
    with slow_server.client() as client:
        missing = client.get(f"/edit/{UNKNOWN_ID}/events")
        assert_error(missing, 404, "not_found", UNKNOWN_ID)
        assert missing.headers["content-type"] == "application/json"
        invalid = client.get("/edit/not-an-id/events")
        assert_error(invalid, 422, "invalid_input", "not a valid edit id")


def test_each_stream_counts_once_against_the_status_limit(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "2"})
    with server.client() as client:
        edit_id = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
        # However long a stream lasts, and whatever it carries, it is one status check.
        assert read_events(client, edit_id, timeout=30)[-1].kind == "done"
        assert read_events(client, edit_id, timeout=30)[-1].kind == "done"
        refused = client.get(f"/edit/{edit_id}/events")
        assert_error(refused, 429, "rate_limited", "2 status checks")
        assert "Retry-After" in refused.headers


@pytest.mark.faults
def test_shutdown_ends_open_streams_at_once(make_server) -> None:  # type: ignore[no-untyped-def]
    # Stopping lets running edits finish; this one finishes 3 s after it starts.
    server = make_server({"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "3"})
    with server.client() as client:
        edit_id = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
        with client.stream("GET", f"/edit/{edit_id}/events") as response:
            lines = response.iter_lines()
            assert next(lines) == "event: status"
            assert server.process is not None
            server.process.terminate()
            rest = list(lines)  # the server ends the stream; no `done`, the edit goes on
        assert "event: done" not in rest
        server.process.wait(30)
    assert "timeout graceful shutdown exceeded" not in server.log()


# Across processes ------------------------------------------------------------------------------


@pytest.fixture
def stack_env(
    postgres_url: str, postgres_schema: str, redis_url: str, s3_server: S3Server, s3_bucket: str
) -> dict[str, str]:
    return {
        **distributed_env(
            database_url=postgres_url,
            schema=postgres_schema,
            redis_url=redis_url,
            s3=s3_server.env(s3_bucket),
        ),
        "EDIT_PROVIDER": "noop",
        "NOOP_EDIT_DELAY_SECONDS": "2",
        "EVENTS_HEARTBEAT_SECONDS": "0.5",
    }


@pytest.fixture
def worker(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[WorkerProcess]:
    migrate(stack_env)
    process = WorkerProcess(tmp_path / "worker", stack_env).start()  # concurrency 1
    yield process
    process.stop()


@pytest.mark.slow
def test_stream_from_an_api_process_follows_an_edit_run_by_a_celery_worker(
    tmp_path: Path, stack_env: dict[str, str], worker: WorkerProcess
) -> None:
    api = MizualServer(tmp_path / "api", stack_env, command="api").start()
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            blocker = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
            edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()[
                "edit_id"
            ]
            events = read_events(client, edit_id, timeout=60)
            assert_whole_story(events, client.get(f"/edit/{edit_id}").json())
            print(f"distributed delivery delays (ms): {delays_ms(events)}")
            wait_for(client, blocker)
    finally:
        api.stop()
    # The worker made the changes; the API process only relayed them from Redis.
    assert f"edit {edit_id}: attempt 1 started" in worker.log()
    assert f"edit {edit_id}: attempt" not in api.log()


@pytest.mark.faults
@pytest.mark.slow
def test_without_redis_pubsub_streams_poll_the_database_and_still_finish(
    tmp_path: Path, stack_env: dict[str, str], worker: WorkerProcess
) -> None:
    # This API process's REDIS_URL (cache, limits, events) leads nowhere; its broker works, so
    # edits still reach the worker, whose changes are published where this process never hears.
    deaf = {**stack_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    api = MizualServer(tmp_path / "deaf-api", deaf, command="api").start()
    try:
        with api.client() as client:
            wait_for_workers(client, 1)
            edit_id = submit(client, "make it black and white", jpeg_bytes(64, 48)).json()[
                "edit_id"
            ]
            events = read_events(client, edit_id, timeout=60)
            changes = [event for event in events if event.data is not None]
            assert changes[-1].kind == "done"
            assert changes[-1].data == client.get(f"/edit/{edit_id}").json()
            stages = distinct_stages(changes)
            assert "ai_processing" in stages  # seen by a poll during the 2 s edit
            assert [STAGE_ORDER[stage] for stage in stages] == sorted(
                STAGE_ORDER[stage] for stage in stages
            )
    finally:
        api.stop()
    assert "event relay lost Redis" in api.log()


def test_stream_rejects_nothing_when_a_client_sends_a_strange_last_event_id(
    slow_server: MizualServer,
) -> None:
    with slow_server.client() as client:
        edit_id = submit(client, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
        wait_for(client, edit_id)
        for strange in ("abc", "-1", "9" * 400, "12.5", ""):
            events = read_events(client, edit_id, last_event_id=strange, timeout=30)
            assert [event.kind for event in events] == ["done"]
        assert httpx.get(f"{slow_server.url}/edit/{edit_id}").status_code == 200
