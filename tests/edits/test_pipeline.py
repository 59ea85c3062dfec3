"""The stage runner: retries per policy, permanent failures, and resuming after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import update

from mizual.edits.pipeline import Pipeline
from mizual.edits.stages import RETRY_POLICY, Stage
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.tables import edits, utcnow
from mizual.kit.storage.base import Storage, StorageError
from mizual.kit.storage.local import LocalStorage
from mizual.providers.editing.base import EditingError, EditOutcome, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.prompting.base import UnchangedPrompt
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import load_settings
from tests.support import data_url, jpeg_bytes


class FlakyStorage(LocalStorage):
    """Fails the first `failures` writes of results, as a store having a bad moment would."""

    def __init__(self, *, root: Path, base_url: str, failures: int) -> None:
        super().__init__(root=root, base_url=base_url)
        self.failures = failures
        self.result_writes = 0

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        if "/results/" in key:
            self.result_writes += 1
            if self.result_writes <= self.failures:
                raise StorageError("connection reset by peer")
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


def new_edit(runtime: Runtime, prompt: str = "make it black and white") -> UUID:
    record = runtime.edits.submit(
        prompt=prompt, image=data_url(jpeg_bytes(64, 48)), parent_edit_id=None
    )
    return record.uuid


def test_retryable_upload_failure_is_retried_with_backoff(runtime: Runtime, tmp_path: Path) -> None:
    flaky = FlakyStorage(root=tmp_path / "images", base_url="http://test", failures=2)
    edit_uuid = new_edit(runtime)
    delays: list[float] = []
    make_pipeline(runtime, CountingEditor(), delays, storage=flaky).run(edit_uuid)

    record = runtime.edits.get(edit_uuid)
    assert record.status == "completed"
    assert flaky.result_writes == 3
    policy = RETRY_POLICY[Stage.UPLOADING_RESULT]
    assert delays == [policy.delay_seconds, policy.delay_seconds * 2]


def test_upload_failing_past_the_policy_fails_the_edit_with_a_safe_message(
    runtime: Runtime, tmp_path: Path
) -> None:
    flaky = FlakyStorage(root=tmp_path / "images", base_url="http://test", failures=99)
    edit_uuid = new_edit(runtime)
    make_pipeline(runtime, CountingEditor(), [], storage=flaky).run(edit_uuid)

    status = runtime.edit_status.read(edit_uuid)
    assert status["status"] == "failed"
    assert status["error_stage"] == "uploading_result"
    assert status["message"] == "We could not save your edited image. Please try again."
    assert "connection reset" not in status["message"]  # details stay in the logs
    assert status["progress_percent"] == 90


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
    assert delays == [RETRY_POLICY[Stage.INITIALIZATION].delay_seconds]


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
