"""A cancel reaching a running attempt, stage by stage, on SQLite and PostgreSQL: the attempt
stops without waiting for what it waits on (an LLM's answer), and keeps no result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from mizual.edits.pipeline import Pipeline
from mizual.edits.stages import EditStatus
from mizual.errors import Conflict
from mizual.kit.db.migrate import upgrade
from mizual.kit.storage.base import Storage
from mizual.kit.storage.local import LocalStorage
from mizual.providers.editing.base import EditOutcome, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.prompting.base import UnchangedPrompt
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import load_settings
from tests.fakes import gemini as fake_gemini
from tests.fakes.runner import FakeServer
from tests.support import data_url, jpeg_bytes


@pytest.fixture
def gemini() -> Iterator[FakeServer]:
    with FakeServer(fake_gemini.create_app()).start() as server:
        yield server


def build(database_options: dict[str, str], tmp_path: Path, **settings: str) -> Runtime:
    runtime = build_runtime(
        load_settings(data_dir=tmp_path, environment="preview", **database_options, **settings),
        role=Role.WORKER,
    )
    upgrade(runtime.engine, schema=runtime.settings.database_schema)
    return runtime


def submit(runtime: Runtime) -> tuple[UUID, str]:
    submission = runtime.edits.prepare(
        prompt="make it black and white", image=data_url(jpeg_bytes(64, 48)), parent_edit_id=None
    )
    accepted = runtime.edits.accept(submission)
    return accepted.record.uuid, accepted.edit_token


def wait_for_stage(runtime: Runtime, edit_uuid: UUID, stage: str) -> None:
    deadline = time.monotonic() + 20
    while runtime.edits.get(edit_uuid).processing_stage != stage:
        assert time.monotonic() < deadline, runtime.edits.get(edit_uuid)
        time.sleep(0.02)


def test_a_cancel_abandons_the_llm_call_and_the_edit_never_reaches_the_editor(
    database_options: dict[str, str], tmp_path: Path, gemini: FakeServer
) -> None:
    # The fake Gemini answers the "slow" key after 5 s; the cancel comes well before.
    runtime = build(database_options, tmp_path, gemini_api_key="slow", gemini_api_url=gemini.url)
    try:
        edit_uuid, token = submit(runtime)
        run = threading.Thread(target=runtime.pipeline.run, args=(edit_uuid,))
        run.start()
        wait_for_stage(runtime, edit_uuid, "enhancing_prompt")
        runtime.edits.cancel(str(edit_uuid), token=token)
        run.join(timeout=fake_gemini.SLOW_SECONDS - 1)
        assert not run.is_alive(), "the attempt waited for the LLM's answer"
        record = runtime.edits.get(edit_uuid)
        assert record.status == EditStatus.CANCELLED
        assert (record.enhanced_prompt, record.result_key) == (None, None)
    finally:
        runtime.close()


class CancellingStorage(LocalStorage):
    """Calls `on_result` once a result is written: a cancel that arrives mid-upload."""

    def __init__(self, *, root: Path, base_url: str, on_result: Callable[[], None]) -> None:
        super().__init__(root=root, base_url=base_url)
        self.on_result = on_result
        self.result_keys: list[str] = []

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        super().put(key, data, content_type=content_type)
        if "/results/" in key:
            self.result_keys.append(key)
            self.on_result()


class CancellingEditor(LocalEditingProvider):
    """Calls `on_edited` once the edit is made: a cancel that arrives while the editor works."""

    def __init__(self, on_edited: Callable[[], None]) -> None:
        super().__init__()
        self.on_edited = on_edited

    def edit(self, request: EditRequest) -> EditOutcome:
        outcome = super().edit(request)
        self.on_edited()
        return outcome


def run_pipeline(
    runtime: Runtime, edit_uuid: UUID, *, storage: Storage, editor: LocalEditingProvider
) -> None:
    pipeline = Pipeline(
        settings=runtime.settings,
        status=runtime.edit_status,
        storage=storage,
        editor=editor,
        enhancer=UnchangedPrompt("off in tests"),
    )
    try:
        pipeline.run(edit_uuid)
    finally:
        pipeline.close()


def test_a_result_written_as_the_edit_is_cancelled_is_deleted(
    database_options: dict[str, str], tmp_path: Path
) -> None:
    runtime = build(database_options, tmp_path)
    try:
        edit_uuid, token = submit(runtime)
        storage = CancellingStorage(
            root=tmp_path / "images",
            base_url="http://test",
            on_result=lambda: runtime.edits.cancel(str(edit_uuid), token=token),
        )
        run_pipeline(runtime, edit_uuid, storage=storage, editor=LocalEditingProvider())
        assert len(storage.result_keys) == 1
        assert not storage.exists(storage.result_keys[0])
        record = runtime.edits.get(edit_uuid)
        assert (record.status, record.result_key, record.edited_image_url) == (
            EditStatus.CANCELLED,
            None,
            None,
        )
    finally:
        runtime.close()


def test_an_edit_cancelled_while_the_editor_works_stops_before_uploading(
    database_options: dict[str, str], tmp_path: Path
) -> None:
    runtime = build(database_options, tmp_path)
    try:
        edit_uuid, token = submit(runtime)
        editor = CancellingEditor(lambda: runtime.edits.cancel(str(edit_uuid), token=token))
        run_pipeline(runtime, edit_uuid, storage=runtime.storage, editor=editor)
        record = runtime.edits.get(edit_uuid)
        assert record.status == EditStatus.CANCELLED
        assert not list((tmp_path / "images").rglob("results/*"))
        # The attempt wrote nothing after the cancel: the stage stays "cancelled".
        assert record.processing_stage == "cancelled"
        assert record.stage_timings.get("ai_processing") is None
        with pytest.raises(Conflict, match="already been cancelled"):
            runtime.edits.cancel(str(edit_uuid), token=token)
    finally:
        runtime.close()
