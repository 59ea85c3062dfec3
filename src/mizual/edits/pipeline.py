"""Runs an edit through its stages: records each stage, retries per policy, resumes after a crash.

The same `Pipeline.run` serves the in-process queue (embedded) and the Celery task (distributed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pyvips

from mizual.edits.repository import EditRecord
from mizual.edits.stages import (
    COMPLETED_STAGE,
    FAILED_STAGE,
    PIPELINE,
    RETRY_POLICY,
    STAGE_FAILURE_MESSAGES,
    EditStatus,
    ProcessingError,
    RetryPolicy,
    Stage,
)
from mizual.edits.status import EditStatusStore
from mizual.edits.storage_keys import image_key
from mizual.kit import imaging
from mizual.kit.db.tables import utcnow
from mizual.kit.storage.base import ObjectNotFound, Storage, StorageError
from mizual.observability import metrics
from mizual.providers.editing.base import EditingError, EditingProvider, EditRequest
from mizual.providers.prompting.base import PromptEnhancer
from mizual.settings import Settings

logger = logging.getLogger(__name__)

_ORIGINAL_MISSING = "The original image of this edit is missing. Please upload it again."


@dataclass
class _Work:
    """What one run carries between stages; rebuilt from the database on a re-run."""

    record: EditRecord
    original: bytes | None = None
    encoded: imaging.EncodedImage | None = None
    plan: list[dict[str, Any]] | None = None


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        status: EditStatusStore,
        storage: Storage,
        editor: EditingProvider,
        enhancer: PromptEnhancer,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.status = status
        self.storage = storage
        self.editor = editor
        self.enhancer = enhancer
        self.storage_path_prefix = settings.storage_path_prefix
        ai_retries = settings.ai_processing_retries
        self.retry_policy = {
            **RETRY_POLICY,
            Stage.AI_PROCESSING: RetryPolicy(max_retries=ai_retries, delay_seconds=5),
        }
        self.sleep = sleep
        self._stages: dict[Stage, Callable[[_Work], None]] = {
            Stage.INITIALIZATION: self._initialize,
            Stage.ENHANCING_PROMPT: self._enhance_prompt,
            Stage.FETCHING_IMAGE: self._fetch_image,
            Stage.AI_PROCESSING: self._edit_image,
            Stage.UPLOADING_RESULT: self._upload_result,
            Stage.COMPLETION: self._complete,
        }

    def run(self, edit_uuid: UUID) -> None:
        record = self.status.start_attempt(edit_uuid)
        if record is None:
            logger.info("edit %s: nothing to do (finished or unknown)", edit_uuid)
            return
        logger.info("edit %s: attempt %d started", edit_uuid, record.attempts)
        work = _Work(record)
        timings = dict(record.stage_timings or {})
        for stage in PIPELINE:
            if self._already_done(stage, work.record):
                continue
            # One write per stage: its start, with the durations of the stages before it.
            work.record = self._enter(work.record, stage, timings)
            started = time.perf_counter()
            try:
                self._run_with_retries(stage, work)
            except ProcessingError as exc:
                self._fail(work.record, stage, exc)
                return
            elapsed = time.perf_counter() - started
            timings[stage.value] = round(elapsed * 1000, 2)
            metrics.observe_stage(stage.value, elapsed)

    @staticmethod
    def _already_done(stage: Stage, record: EditRecord) -> bool:
        if stage == Stage.ENHANCING_PROMPT:
            return record.enhanced_prompt is not None
        if stage in (Stage.FETCHING_IMAGE, Stage.AI_PROCESSING, Stage.UPLOADING_RESULT):
            return record.result_key is not None
        return False

    def _enter(self, record: EditRecord, stage: Stage, timings: dict[str, float]) -> EditRecord:
        updated = self.status.change(
            record.uuid, durable=False, processing_stage=stage.value, stage_timings=timings
        )
        assert updated is not None
        return updated

    def _run_with_retries(self, stage: Stage, work: _Work) -> None:
        policy = self.retry_policy[stage]
        retry = 0
        while True:
            try:
                self._stages[stage](work)
                return
            except ProcessingError as exc:
                error = exc
            except Exception as exc:  # an unexpected bug or outage: retry, then fail safely
                logger.exception("edit %s: %s raised unexpectedly", work.record.uuid, stage)
                error = ProcessingError(
                    STAGE_FAILURE_MESSAGES[stage], retryable=True, detail=repr(exc)
                )
            if not error.retryable or retry >= policy.max_retries:
                raise error
            retry += 1
            delay = policy.delay_before(retry)
            logger.warning(
                "edit %s: %s failed (%s); retry %d/%d in %.1fs",
                work.record.uuid,
                stage,
                error.detail,
                retry,
                policy.max_retries,
                delay,
            )
            self.sleep(delay)

    def _fail(self, record: EditRecord, stage: Stage, error: ProcessingError) -> None:
        logger.error("edit %s: failed at %s: %s", record.uuid, stage, error.detail)
        self.status.change(
            record.uuid,
            status=EditStatus.FAILED,
            processing_stage=FAILED_STAGE,
            error_stage=stage.value,
            error_message=error.message,
            finished_at=utcnow(),
        )
        metrics.edit_finished(EditStatus.FAILED)

    # Stages ------------------------------------------------------------------------------------

    def _initialize(self, work: _Work) -> None:
        """The original must be there. Read it now when a later stage needs it (one storage
        round trip instead of a check here and a read later); only check it when the result
        is already stored."""
        if work.record.result_key is None:
            self._load_original(work, failure=STAGE_FAILURE_MESSAGES[Stage.INITIALIZATION])
        elif not self.storage.exists(work.record.original_key):
            raise ProcessingError(
                _ORIGINAL_MISSING,
                retryable=False,
                detail=f"original {work.record.original_key} not in storage",
            )

    def _enhance_prompt(self, work: _Work) -> None:
        original = self._load_original(work)
        enhanced = self.enhancer.enhance(prompt=work.record.prompt, image=original)
        updated = self.status.change(
            work.record.uuid,
            durable=False,
            enhanced_prompt=enhanced.prompt,
            prompt_note=enhanced.note,
        )
        assert updated is not None
        work.record = updated

    def _fetch_image(self, work: _Work) -> None:
        self._load_original(work)

    def _load_original(
        self, work: _Work, *, failure: str = STAGE_FAILURE_MESSAGES[Stage.FETCHING_IMAGE]
    ) -> bytes:
        if work.original is None:
            try:
                work.original = self.storage.get(work.record.original_key)
            except ObjectNotFound as exc:
                raise ProcessingError(_ORIGINAL_MISSING, retryable=False, detail=str(exc)) from exc
            except StorageError as exc:
                raise ProcessingError(failure, retryable=True, detail=str(exc)) from exc
        return work.original

    def _edit_image(self, work: _Work) -> None:
        request = EditRequest(
            image=self._load_original(work),
            prompt=work.record.prompt,
            enhanced_prompt=work.record.enhanced_prompt,
        )
        try:
            outcome = self.editor.edit(request)
            # pyvips is lazy: encoding is when the pixels are computed, so it belongs here.
            work.encoded = imaging.encode_result(outcome.image)
            work.plan = outcome.plan
        except EditingError as exc:
            metrics.provider_error(self.editor.name, exc.error_class)
            raise ProcessingError(
                exc.user_message, retryable=exc.retryable, detail=str(exc)
            ) from exc
        except pyvips.Error as exc:
            metrics.provider_error(self.editor.name, "other")
            raise ProcessingError(
                STAGE_FAILURE_MESSAGES[Stage.AI_PROCESSING], retryable=False, detail=str(exc)
            ) from exc

    def _upload_result(self, work: _Work) -> None:
        encoded = work.encoded
        assert encoded is not None
        key = image_key(
            prefix=self.storage_path_prefix,
            kind="results",
            edit_uuid=work.record.uuid,
            extension=encoded.extension,
        )
        try:
            self.storage.put(key, encoded.data, content_type=encoded.content_type)
        except StorageError as exc:
            raise ProcessingError(
                STAGE_FAILURE_MESSAGES[Stage.UPLOADING_RESULT], retryable=True, detail=str(exc)
            ) from exc
        updated = self.status.change(
            work.record.uuid,
            result_key=key,
            edited_image_url=self.storage.url(key),
            edit_plan=work.plan,
        )
        assert updated is not None
        work.record = updated

    def _complete(self, work: _Work) -> None:
        updated = self.status.change(
            work.record.uuid,
            status=EditStatus.COMPLETED,
            processing_stage=COMPLETED_STAGE,
            finished_at=utcnow(),
            error_message=None,
            error_stage=None,
        )
        assert updated is not None
        work.record = updated
        metrics.edit_finished(EditStatus.COMPLETED)
        logger.info("edit %s: completed", updated.uuid)
