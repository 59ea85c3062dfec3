"""Runs an edit through its stages: records each stage, retries per policy, resumes after a crash.

The same `Pipeline.run` serves the in-process queue (embedded) and the Celery task (distributed).
An attempt holds a lease on its edit while it runs (`edits.lease`), and every write it makes
names its attempt, so an attempt that another worker has taken over writes nothing more.

An outage of the database or the object store (`kit.outages`) is never a failed edit: the
operation is tried again with backoff for up to OUTAGE_PATIENCE_SECONDS, and if the service is
still down the attempt stops without writing anything ("handed back"); the edit's lease then
expires and the reconciler dispatches it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import UUID

import pyvips

from mizual.edits.lease import Lease, LeaseLost, LeaseRenewer
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
from mizual.kit.outages import describe, outage_of
from mizual.kit.storage.base import ObjectNotFound, Storage
from mizual.observability import metrics
from mizual.providers.editing.base import (
    EditCancelled,
    EditingError,
    EditingProvider,
    EditRequest,
)
from mizual.providers.prompting.base import EnhancedPrompt, PromptEnhancer, UnchangedPrompt
from mizual.settings import Settings

logger = logging.getLogger(__name__)

_ORIGINAL_MISSING = "The original image of this edit is missing. Please upload it again."
# Long enough to ride out a database or storage restart in place; after it the attempt is
# handed back, so a worker does not hold an edit through a long outage.
OUTAGE_PATIENCE_SECONDS = 60.0
# Short waits, so an edit goes on within a couple of seconds of the service coming back.
_OUTAGE_BACKOFF = (0.25, 0.5, 1.0, 2.0)

# How often a stage that waits (for the LLM) asks whether the edit was cancelled.
_CANCEL_CHECK_SECONDS = 0.25
# The stages whose start is written while their work goes on, rather than before it: their work
# is harmless should the write find the edit taken over (reading the original; uploading the
# result under this attempt's own key, deleted then). A paid call (the LLM, the editing
# service) is never sent before the write that proves this attempt still runs the edit.
_STARTS_OVERLAP = frozenset({Stage.FETCHING_IMAGE, Stage.UPLOADING_RESULT})

T = TypeVar("T")


class HandedBack(Exception):
    """A service stayed down past OUTAGE_PATIENCE_SECONDS: this attempt stops, writing nothing;
    the reconciler dispatches the edit again once its lease has expired."""


@dataclass
class _Work:
    """What one run carries between stages; rebuilt from the database on a re-run."""

    record: EditRecord
    attempt: int  # the fencing token: every write names it
    original: bytes | None = None
    encoded: imaging.EncodedImage | None = None
    plan: list[dict[str, Any]] | None = None
    # What rides on the next write instead of a write of its own, because the next stage's
    # start follows at once: the enhanced prompt (already in `record`), the result's key.
    carried: dict[str, Any] = field(default_factory=dict)
    # A write still going on beside the stage's work (`Pipeline._start_write`): every later
    # write waits for it first, so the edit's states are written in their order.
    pending: Future[EditRecord] | None = None


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
        self.lease_seconds = settings.edit_lease_seconds
        self.leases = LeaseRenewer(
            renew=lambda held: status.renew_leases(held, lease_seconds=self.lease_seconds),
            lease_seconds=self.lease_seconds,
        )
        ai_retries = settings.ai_processing_retries
        self.retry_policy = {
            **RETRY_POLICY,
            Stage.AI_PROCESSING: RetryPolicy(max_retries=ai_retries, delay_seconds=5),
        }
        self.sleep = sleep
        self._llm_calls = ThreadPoolExecutor(
            max_workers=max(settings.max_workers, settings.celery_concurrency),
            thread_name_prefix="prompt-enhancer",
        )
        # At most one write per edit at a time (`_Work.pending`): one thread per running edit.
        self._overlapped_writes = ThreadPoolExecutor(
            max_workers=max(settings.max_workers, settings.celery_concurrency),
            thread_name_prefix="edit-writes",
        )
        self._stages: dict[Stage, Callable[[_Work], None]] = {
            Stage.INITIALIZATION: self._initialize,
            Stage.ENHANCING_PROMPT: self._enhance_prompt,
            Stage.FETCHING_IMAGE: self._fetch_image,
            Stage.AI_PROCESSING: self._edit_image,
            Stage.UPLOADING_RESULT: self._upload_result,
            Stage.COMPLETION: self._complete,
        }

    def run(self, edit_uuid: UUID) -> None:
        try:
            self._run(edit_uuid)
        except HandedBack as exc:
            logger.warning("edit %s: handed back to the reconciler: %s", edit_uuid, exc)

    def _run(self, edit_uuid: UUID) -> None:
        record = self._through_outages(
            lambda: self.status.start_attempt(edit_uuid, lease_seconds=self.lease_seconds),
            doing=f"starting edit {edit_uuid}",
        )
        if record is None:
            logger.info(
                "edit %s: nothing to do (finished, unknown, or running elsewhere)", edit_uuid
            )
            return
        logger.info("edit %s: attempt %d started", edit_uuid, record.attempts)
        work = _Work(record, attempt=record.attempts)
        try:
            with self.leases.hold(edit_uuid, attempt=work.attempt) as lease:
                try:
                    self._run_stages(work, lease)
                finally:
                    # Nothing of this attempt is written after it has stopped.
                    self._settle_pending(work)
        except (LeaseLost, EditCancelled):
            self._discard_unwritten_result(work)
            if self._is_cancelled(work):
                logger.info("edit %s: attempt %d stopped: cancelled", edit_uuid, work.attempt)
                return
            logger.warning(
                "edit %s: attempt %d stopped: another attempt runs the edit now",
                edit_uuid,
                work.attempt,
            )

    def _is_cancelled(self, work: _Work) -> bool:
        """Asked by the providers before each request while they wait, and between stages.
        A write started beside the work that has failed meanwhile raises its error here."""
        if work.pending is not None and work.pending.done():
            self._finish_pending(work)
        try:
            # Deleted (DELETE /edit/{uuid}) means cancelled first, then erased: stop as well.
            status = self.status.repository.status_of(work.record.uuid)
            return status in (EditStatus.CANCELLED, EditStatus.DELETED)
        except Exception as exc:  # the database is down: go on; the next write will tell
            logger.debug("edit %s: could not read its status: %r", work.record.uuid, exc)
            return False

    def close(self) -> None:
        self.leases.close()
        self._llm_calls.shutdown(wait=False, cancel_futures=True)
        self._overlapped_writes.shutdown(wait=True)

    def _run_stages(self, work: _Work, lease: Lease) -> None:
        timings = dict(work.record.stage_timings or {})
        for stage in PIPELINE:
            if self._already_done(stage, work.record):
                continue
            lease.check()
            # One write per stage that can take long enough to be seen: its start, with the
            # durations of the stages before it; the first stage's start is the attempt's claim
            # (`start_attempt`), which wrote it. A stage with nothing to wait for is not
            # written on its own: the durations ride on the next write.
            if not self._waits(stage, work):
                work.carried["stage_timings"] = dict(timings)
            elif work.record.processing_stage != stage.value or work.carried:
                write = self._start_write if stage in _STARTS_OVERLAP else self._write
                # A copy: this loop adds the stage's own duration while the write may go on.
                write(
                    work, durable=False, processing_stage=stage.value, stage_timings=dict(timings)
                )
            started = time.perf_counter()
            try:
                self._run_with_retries(stage, work)
            except ProcessingError as exc:
                self._fail(work, stage, exc)
                return
            elapsed = time.perf_counter() - started
            timings[stage.value] = round(elapsed * 1000, 2)
            metrics.observe_stage(stage.value, elapsed)

    def _through_outages(self, operation: Callable[[], T], *, doing: str) -> T:
        """`operation()`, tried again while the database or storage is down (HandedBack when
        it stays down past OUTAGE_PATIENCE_SECONDS). Any other error is raised at once."""
        started = time.monotonic()
        tries, slept = 0, 0.0
        while True:
            try:
                return operation()
            except Exception as exc:
                outage = outage_of(exc)
                if outage is None:
                    raise
                # The time slept counts too: with the sleep of a test, the clock stands still.
                if max(time.monotonic() - started, slept) >= OUTAGE_PATIENCE_SECONDS:
                    raise HandedBack(
                        f"{outage} still down after {OUTAGE_PATIENCE_SECONDS:.0f}s while "
                        f"{doing} ({describe(exc)})"
                    ) from exc
                delay = _OUTAGE_BACKOFF[min(tries, len(_OUTAGE_BACKOFF) - 1)]
                if tries == 0:
                    logger.warning("%s: %s is down (%s); retrying", doing, outage, describe(exc))
                metrics.outage_retry(outage.value)
                tries += 1
                slept += delay
                self.sleep(delay)

    def _write(self, work: _Work, *, durable: bool = True, **values: Any) -> None:
        """Record a change of this attempt's edit; LeaseLost if another attempt runs it now."""
        self._finish_pending(work)
        changes = {**work.carried, **values}
        # A result's key rides on a progress write: that write must then be waited for on disk.
        durable = durable or "result_key" in work.carried
        work.record = self._record(work, durable=durable, changes=changes)
        # Only once written: a result's key still carried is the result to delete should the
        # attempt stop here (`_discard_unwritten_result`).
        work.carried = {}

    def _start_write(self, work: _Work, *, durable: bool = True, **values: Any) -> None:
        """`_write`, on a thread of its own while the caller goes on: its errors (LeaseLost,
        HandedBack) are raised by the next write, or by the next cancel check
        (`_is_cancelled`). A result's key is never written so: it must be written before the
        attempt goes on."""
        if "result_key" in work.carried:
            self._write(work, durable=durable, **values)
            return
        self._finish_pending(work)
        changes = {**work.carried, **values}
        work.carried = {}
        work.pending = self._overlapped_writes.submit(
            self._record, work, durable=durable, changes=changes
        )

    def _record(self, work: _Work, *, durable: bool, changes: dict[str, Any]) -> EditRecord:
        updated = self._through_outages(
            lambda: self.status.change(
                work.record.uuid, attempt=work.attempt, durable=durable, **changes
            ),
            doing=f"recording a change of edit {work.record.uuid}",
        )
        if updated is None:
            raise LeaseLost(f"edit {work.record.uuid}: attempt {work.attempt} was taken over")
        return updated

    def _finish_pending(self, work: _Work) -> None:
        """Wait for the write started beside the work, and raise what it raised."""
        pending, work.pending = work.pending, None
        if pending is not None:
            work.record = pending.result()

    def _settle_pending(self, work: _Work) -> None:
        """Wait for a write still going on when the attempt stops for another reason, which
        is the one raised."""
        try:
            self._finish_pending(work)
        except Exception as exc:
            logger.debug("edit %s: an overlapped write failed: %r", work.record.uuid, exc)

    def _waits(self, stage: Stage, work: _Work) -> bool:
        """Whether the stage may take long enough for a poll to see it. Enhancement that is
        off, an original already read, and completion (a single write of its own) do not."""
        if stage == Stage.ENHANCING_PROMPT:
            return not isinstance(self.enhancer, UnchangedPrompt)
        if stage == Stage.FETCHING_IMAGE:
            return work.original is None
        return stage != Stage.COMPLETION

    @staticmethod
    def _already_done(stage: Stage, record: EditRecord) -> bool:
        if stage == Stage.ENHANCING_PROMPT:
            return record.enhanced_prompt is not None
        if stage in (Stage.FETCHING_IMAGE, Stage.AI_PROCESSING, Stage.UPLOADING_RESULT):
            return record.result_key is not None
        return False

    def _run_with_retries(self, stage: Stage, work: _Work) -> None:
        policy = self.retry_policy[stage]
        retry = 0
        while True:
            try:
                # An outage inside the stage (storage, say) repeats the stage, not counted
                # against its retries.
                self._through_outages(
                    lambda: self._stages[stage](work),
                    doing=f"edit {work.record.uuid} at {stage.value}",
                )
                return
            except ProcessingError as exc:
                error = exc
            except (LeaseLost, HandedBack, EditCancelled):
                raise
            except Exception as exc:  # an unexpected bug: retry, then fail safely
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

    def _fail(self, work: _Work, stage: Stage, error: ProcessingError) -> None:
        logger.error("edit %s: failed at %s: %s", work.record.uuid, stage, error.detail)
        self._write(
            work,
            status=EditStatus.FAILED,
            processing_stage=FAILED_STAGE,
            error_stage=stage.value,
            error_message=error.message,
            finished_at=utcnow(),
            lease_expires_at=None,
        )
        metrics.edit_finished(EditStatus.FAILED)

    # Stages ------------------------------------------------------------------------------------

    def _initialize(self, work: _Work) -> None:
        """The original must be there. Read it now when a later stage needs it (one storage
        round trip instead of a check here and a read later); only check it when the result
        is already stored."""
        if work.record.result_key is None:
            self._load_original(work)
        elif not self.storage.exists(work.record.original_key):
            raise ProcessingError(
                _ORIGINAL_MISSING,
                retryable=False,
                detail=f"original {work.record.original_key} not in storage",
            )

    def _enhance_prompt(self, work: _Work) -> None:
        original = self._load_original(work)
        if isinstance(self.enhancer, UnchangedPrompt):  # nothing to wait for
            enhanced = self.enhancer.enhance(prompt=work.record.prompt, image=original)
        else:
            enhanced = self._wait_for_enhancer(work, original)
        work.carried.update(enhanced_prompt=enhanced.prompt, prompt_note=enhanced.note)
        work.record = replace(
            work.record, enhanced_prompt=enhanced.prompt, prompt_note=enhanced.note
        )

    def _wait_for_enhancer(self, work: _Work, original: bytes) -> EnhancedPrompt:
        # In a thread of its own, so that a cancel abandons the LLM's answer instead of
        # waiting for it (up to LLM_TIMEOUT_SECONDS): the call ends by itself, unread.
        answer = self._llm_calls.submit(
            self.enhancer.enhance, prompt=work.record.prompt, image=original
        )
        while True:
            try:
                return answer.result(timeout=_CANCEL_CHECK_SECONDS)
            except FutureTimeout:
                if self._is_cancelled(work):
                    raise EditCancelled("cancelled while the prompt was enhanced") from None

    def _fetch_image(self, work: _Work) -> None:
        self._load_original(work)

    def _load_original(self, work: _Work) -> bytes:
        if work.original is None:
            try:
                work.original = self.storage.get(work.record.original_key)
            except ObjectNotFound as exc:
                raise ProcessingError(_ORIGINAL_MISSING, retryable=False, detail=str(exc)) from exc
        return work.original

    def _edit_image(self, work: _Work) -> None:
        request = EditRequest(
            image=self._load_original(work),
            prompt=work.record.prompt,
            enhanced_prompt=work.record.enhanced_prompt,
            task=work.record.provider_task,
            # Written while the provider goes on to its first poll (a few ms sooner).
            record_task=lambda task: self._start_write(work, provider_task=task),
            cancelled=lambda: self._is_cancelled(work),
        )
        try:
            outcome = self.editor.edit(request)
            # pyvips is lazy: encoding is when the pixels are computed, so it belongs here.
            work.encoded = imaging.encode_result(
                outcome.image,
                format=work.record.output_format or "jpeg",
                quality=work.record.output_quality,
            )
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
            attempt=work.attempt,
        )
        self.storage.put(key, encoded.data, content_type=encoded.content_type)
        # The result's description goes with its key, in one durable write: a run resumed
        # after it skips to completion, and the status view must still describe it. That write
        # is completion's own (it follows at once), so a result costs no write of its own.
        work.carried.update(
            result_key=key,
            edited_image_url=self.storage.url(key),
            edit_plan=work.plan,
            result_info=encoded.info,
        )

    def _discard_unwritten_result(self, work: _Work) -> None:
        """An attempt stopped (cancelled, or taken over) before the write of the result it
        uploaded: the result is nobody's, and a cancelled edit keeps none. Another attempt
        writes under a key of its own."""
        key = work.carried.pop("result_key", None)
        if key is None:
            return
        self._through_outages(
            lambda: self.storage.delete(key), doing=f"deleting the unused result {key}"
        )

    def _complete(self, work: _Work) -> None:
        self._write(
            work,
            status=EditStatus.COMPLETED,
            processing_stage=COMPLETED_STAGE,
            finished_at=utcnow(),
            error_message=None,
            error_stage=None,
            lease_expires_at=None,
        )
        metrics.edit_finished(EditStatus.COMPLETED)
        logger.info("edit %s: completed", work.record.uuid)
