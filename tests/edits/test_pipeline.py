"""The stage runner: retries per policy, permanent failures, and resuming after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from mizual.edits.pipeline import OUTAGE_PATIENCE_SECONDS, Pipeline
from mizual.edits.repository import EditRecord
from mizual.edits.stages import RETRY_POLICY, Stage
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.tables import edits, utcnow
from mizual.kit.storage.base import Storage, StorageError
from mizual.kit.storage.local import LocalStorage
from mizual.providers.editing.base import EditingError, EditOutcome, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.prompting.base import EnhancedPrompt, UnchangedPrompt
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import load_settings
from tests.support import data_url, jpeg_bytes


class FlakyStorage(LocalStorage):
    """Fails the first `failures` writes of results, as a store having a bad moment would."""

    def __init__(self, *, root: Path, base_url: str, failures: int, transient: bool = True) -> None:
        super().__init__(root=root, base_url=base_url)
        self.failures = failures
        self.transient = transient
        self.result_writes = 0

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        if "/results/" in key:
            self.result_writes += 1
            if self.result_writes <= self.failures:
                raise StorageError("connection reset by peer", transient=self.transient)
        super().put(key, data, content_type=content_type)


class CountingEditor(LocalEditingProvider):
    def __init__(self, error: EditingError | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.error = error

    def edit(self, request: EditRequest) -> EditOutcome:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return super().edit(request)


@pytest.fixture
def runtime(database_options: dict[str, str], tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(data_dir=tmp_path, environment="preview", **database_options)
    built = build_runtime(settings, role=Role.WORKER)
    upgrade(built.engine, schema=settings.database_schema)
    yield built
    built.close()


def make_pipeline(
    runtime: Runtime,
    editor: CountingEditor,
    delays: list[float],
    *,
    storage: Storage | None = None,
) -> Pipeline:
    return Pipeline(
        settings=runtime.settings,
        status=runtime.edit_status,
        storage=storage or runtime.storage,
        editor=editor,
        enhancer=UnchangedPrompt("off in tests"),
        sleep=delays.append,
    )


def expire_lease(runtime: Runtime, edit_uuid: UUID) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(
            update(edits)
            .where(edits.c.uuid == edit_uuid)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def new_edit(runtime: Runtime, prompt: str = "make it black and white") -> UUID:
    record = runtime.edits.submit(
        prompt=prompt, image=data_url(jpeg_bytes(64, 48)), parent_edit_id=None
    )
    return record.uuid


def test_an_upload_failing_while_storage_is_down_is_retried_in_place(
    runtime: Runtime, tmp_path: Path
) -> None:
    flaky = FlakyStorage(root=tmp_path / "images", base_url="http://test", failures=2)
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, CountingEditor(), delays, storage=flaky).run(edit_uuid)

    record = runtime.edits.get(edit_uuid)
    assert record.status == "completed"
    assert record.attempts == 1
    assert flaky.result_writes == 3
    assert delays == [0.25, 0.5]  # short waits: it goes on soon after the store is back


def test_storage_down_past_the_patience_hands_the_edit_back_without_failing_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    flaky = FlakyStorage(root=tmp_path / "images", base_url="http://test", failures=10**6)
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, CountingEditor(), delays, storage=flaky).run(edit_uuid)

    # Not failed, nothing stored: the reconciler dispatches it again once its lease expires.
    status = runtime.edit_status.read(edit_uuid)
    assert status["status"] == "processing"
    assert status["is_error"] is False
    assert status["edited_image_url"] is None
    assert sum(delays) == pytest.approx(OUTAGE_PATIENCE_SECONDS, abs=2.0)
    assert max(delays) <= 2.0

    flaky.failures = 0
    expire_lease(runtime, edit_uuid)
    make_pipeline(runtime, CountingEditor(), [], storage=flaky).run(edit_uuid)
    record = runtime.edits.get(edit_uuid)
    assert record.status == "completed"
    assert record.attempts == 2


def test_a_store_that_refuses_the_write_fails_the_edit_with_a_safe_message(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Access denied, no such bucket: not an outage, so the stage's retries, then a failure."""
    flaky = FlakyStorage(
        root=tmp_path / "images", base_url="http://test", failures=99, transient=False
    )
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, CountingEditor(), delays, storage=flaky).run(edit_uuid)

    status = runtime.edit_status.read(edit_uuid)
    assert status["status"] == "failed"
    assert status["error_stage"] == "uploading_result"
    assert status["message"] == "We could not save your edited image. Please try again."
    assert "connection reset" not in status["message"]  # details stay in the logs
    policy = RETRY_POLICY[Stage.UPLOADING_RESULT]
    assert delays == [policy.delay_seconds, policy.delay_seconds * 2]


def test_the_database_down_at_the_start_of_a_run_is_waited_out(runtime: Runtime) -> None:
    edit_uuid = new_edit(runtime)
    pipeline = make_pipeline(runtime, CountingEditor(), delays := [])
    real_start = runtime.edit_status.repository.start_attempt
    failures = iter([True, True, True])

    def flaky_start(edit: UUID, *, lease_seconds: float) -> EditRecord | None:
        if next(failures, False):
            raise OperationalError("UPDATE edits", {}, Exception("server closed the connection"))
        return real_start(edit, lease_seconds=lease_seconds)

    runtime.edit_status.repository.start_attempt = flaky_start  # type: ignore[method-assign]
    try:
        pipeline.run(edit_uuid)
    finally:
        del runtime.edit_status.repository.start_attempt
    assert runtime.edits.get(edit_uuid).status == "completed"
    assert delays == [0.25, 0.5, 1.0]


def test_the_database_down_at_the_final_write_is_waited_out(runtime: Runtime) -> None:
    edit_uuid = new_edit(runtime)
    pipeline = make_pipeline(runtime, CountingEditor(), delays := [])
    real_update = runtime.edit_status.repository.update
    failed: list[str] = []

    def flaky_update(edit: UUID, **values: Any) -> EditRecord | None:
        if values.get("status") == "completed" and len(failed) < 2:
            failed.append("completed")
            raise OperationalError("UPDATE edits", {}, Exception("terminating connection"))
        return real_update(edit, **values)

    runtime.edit_status.repository.update = flaky_update  # type: ignore[method-assign]
    try:
        pipeline.run(edit_uuid)
    finally:
        del runtime.edit_status.repository.update
    assert runtime.edit_status.read(edit_uuid)["status"] == "completed"
    assert delays == [0.25, 0.5]


class ReadCountingStorage(LocalStorage):
    """Counts round trips about originals (reads and existence checks); `reads_fail` fails that
    many first reads, as a store having a bad moment would."""

    def __init__(self, *, root: Path, base_url: str, reads_fail: int = 0) -> None:
        super().__init__(root=root, base_url=base_url)
        self.original_calls = 0
        self.reads_fail = reads_fail

    def get(self, key: str) -> bytes:
        if "/originals/" in key:
            self.original_calls += 1
            if self.original_calls <= self.reads_fail:
                raise StorageError("connection reset by peer")
        return super().get(key)

    def exists(self, key: str) -> bool:
        self.original_calls += "/originals/" in key
        return super().exists(key)


def test_a_run_asks_storage_for_the_original_once(runtime: Runtime, tmp_path: Path) -> None:
    storage = ReadCountingStorage(root=tmp_path / "images", base_url="http://test")
    edit_uuid = new_edit(runtime)
    make_pipeline(runtime, CountingEditor(), [], storage=storage).run(edit_uuid)

    assert runtime.edits.get(edit_uuid).status == "completed"
    assert storage.original_calls == 1


def test_an_unreadable_original_is_retried_at_initialization(
    runtime: Runtime, tmp_path: Path
) -> None:
    storage = ReadCountingStorage(root=tmp_path / "images", base_url="http://test", reads_fail=1)
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, CountingEditor(), delays, storage=storage).run(edit_uuid)

    assert runtime.edits.get(edit_uuid).status == "completed"
    assert delays == [0.25]  # an outage of the store: waited out, not a stage retry


def test_a_missing_original_fails_the_edit_at_initialization(runtime: Runtime) -> None:
    edit_uuid = new_edit(runtime)
    storage = runtime.storage
    assert isinstance(storage, LocalStorage)
    storage.path_for(runtime.edits.get(edit_uuid).original_key).unlink()
    editor = CountingEditor()
    make_pipeline(runtime, editor, []).run(edit_uuid)

    status = runtime.edit_status.read(edit_uuid)
    assert (status["status"], status["error_stage"]) == ("failed", "initialization")
    assert (
        status["message"] == "The original image of this edit is missing. Please upload it again."
    )
    assert editor.calls == 0


def test_permanent_editor_error_is_not_retried(runtime: Runtime) -> None:
    editor = CountingEditor(EditingError("Your prompt was refused.", retryable=False))
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, editor, delays).run(edit_uuid)
    assert editor.calls == 1
    assert delays == []
    assert runtime.edit_status.read(edit_uuid)["message"] == "Your prompt was refused."


def test_ai_processing_has_no_retries_even_for_retryable_errors(runtime: Runtime) -> None:
    editor = CountingEditor(EditingError("The editor is busy.", retryable=True))
    edit_uuid = new_edit(runtime)
    make_pipeline(runtime, editor, []).run(edit_uuid)
    assert editor.calls == 1 + RETRY_POLICY[Stage.AI_PROCESSING].max_retries == 1


def test_rerun_after_a_crash_skips_recorded_stages(runtime: Runtime) -> None:
    edit_uuid = new_edit(runtime)
    make_pipeline(runtime, CountingEditor(), []).run(edit_uuid)
    finished = runtime.edits.get(edit_uuid)
    # As if the worker died after uploading the result but before completing the edit.
    runtime.edits.repository.update(
        edit_uuid, status="processing", processing_stage="completion", finished_at=None
    )
    editor = CountingEditor()
    make_pipeline(runtime, editor, []).run(edit_uuid)

    resumed = runtime.edits.get(edit_uuid)
    assert resumed.status == "completed"
    assert editor.calls == 0  # the recorded result was kept, not made again
    assert resumed.result_key == finished.result_key
    assert resumed.attempts == 2


def test_finished_edit_is_not_run_again(runtime: Runtime) -> None:
    edit_uuid = new_edit(runtime)
    make_pipeline(runtime, CountingEditor(), []).run(edit_uuid)
    editor = CountingEditor()
    make_pipeline(runtime, editor, []).run(edit_uuid)
    assert editor.calls == 0
    assert runtime.edits.get(edit_uuid).attempts == 1


def test_sweep_fails_edits_stuck_in_processing(runtime: Runtime) -> None:
    stuck, busy = new_edit(runtime), new_edit(runtime)
    an_hour_ago = utcnow() - timedelta(hours=1)
    with runtime.engine.begin() as conn:
        conn.execute(
            update(edits)
            .where(edits.c.uuid == stuck)
            .values(status="processing", processing_stage="ai_processing", updated_at=an_hour_ago)
        )
    runtime.edits.repository.update(busy, status="processing", processing_stage="ai_processing")

    assert runtime.edits.fail_stuck_edits() == 1
    status = runtime.edit_status.read(stuck)
    assert status["status"] == "failed"
    assert status["error_stage"] == "ai_processing"
    assert "stopped making progress" in status["message"]
    assert runtime.edits.get(busy).status == "processing"
    assert runtime.edits.fail_stuck_edits() == 0


def test_a_poll_that_read_the_row_before_a_change_cannot_cache_it_during_the_change(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll reads the database (pending), a worker changes the edit, the poll then stores what
    it read: the next poll, before the worker has written the new status, must not see it."""
    edit_id = str(new_edit(runtime))
    stale = runtime.edits.get(UUID(edit_id))
    status, repository = runtime.edit_status, runtime.edits.repository
    real_update = repository.update
    polls: list[dict[str, object]] = []

    def update_then_let_the_slow_poll_store_its_read(edit_uuid: UUID, **values: object) -> object:
        updated = real_update(edit_uuid, **values)
        status._fill(stale)  # the slow poll's `add` of the row it read before
        polls.append(status.read(UUID(edit_id)))  # the next poll, while the change is unpublished
        return updated

    monkeypatch.setattr(repository, "update", update_then_let_the_slow_poll_store_its_read)
    status.change(UUID(edit_id), processing_stage="initialization")
    assert polls[0]["processing_stage"] == "initialization"
    assert status.read(UUID(edit_id))["processing_stage"] == "initialization"


class WaitingEnhancer:
    """An enhancer that has an answer at once but is not the 'off' one: its stage is written."""

    def enhance(self, *, prompt: str, image: bytes) -> EnhancedPrompt:
        return EnhancedPrompt(prompt=f"{prompt}, carefully", note=None)

    def close(self) -> None:
        return None


def recorded_changes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every change the pipeline asks the status store for, as it asks for it."""
    changes: list[dict[str, Any]] = []
    real_change = runtime.edit_status.change

    def change(edit_uuid: UUID, **values: Any) -> EditRecord | None:
        changes.append(values)
        return real_change(edit_uuid, **values)

    monkeypatch.setattr(runtime.edit_status, "change", change)
    return changes


def test_stages_with_nothing_to_wait_for_ride_on_the_next_write(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enhancement off, the original read by initialization, and completion: none of them is
    written on its own, yet every stage's duration reaches the status view."""
    edit_uuid = new_edit(runtime)
    changes = recorded_changes(runtime, monkeypatch)
    make_pipeline(runtime, CountingEditor(), []).run(edit_uuid)

    assert [c.get("processing_stage") for c in changes] == [
        "ai_processing",
        "uploading_result",
        "completed",
    ]
    # The enhanced prompt (here the prompt itself) is written with ai_processing's start.
    assert changes[0]["enhanced_prompt"] == "make it black and white"
    # The result's key goes with completion, in one durable write.
    assert "result_key" in changes[-1]
    assert changes[-1]["durable"] is True
    status = runtime.edit_status.read(edit_uuid)
    assert status["status"] == "completed"
    assert status["edited_image_url"] is not None
    assert set(status["stage_timings_ms"]) == {
        "initialization",
        "enhancing_prompt",
        "fetching_image",
        "ai_processing",
        "uploading_result",
    }


def test_a_stage_that_may_wait_is_written_before_it_runs(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_uuid = new_edit(runtime)
    changes = recorded_changes(runtime, monkeypatch)
    Pipeline(
        settings=runtime.settings,
        status=runtime.edit_status,
        storage=runtime.storage,
        editor=CountingEditor(),
        enhancer=WaitingEnhancer(),
        sleep=[].append,
    ).run(edit_uuid)

    assert [c.get("processing_stage") for c in changes] == [
        "enhancing_prompt",
        "ai_processing",
        "uploading_result",
        "completed",
    ]
    assert runtime.edit_status.read(edit_uuid)["enhanced_prompt"] == (
        "make it black and white, carefully"
    )
