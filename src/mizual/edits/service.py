"""The rules of edits: what may be submitted, how chains grow, what is recovered after a crash.

What a client sees of an edit, and every change to it, is the status store's (`edits.status`)."""

from __future__ import annotations

import logging
import uuid as uuid_module
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from mizual.cleaning import clean_text, parse_edit_id
from mizual.edits import tokens
from mizual.edits.repository import EditRecord, EditRepository, Orphan
from mizual.edits.schemas import DEFAULT_WEBHOOK_EVENTS, MAX_PROMPT_CHARS
from mizual.edits.stages import EditStatus
from mizual.edits.status import EditStatusStore
from mizual.edits.storage_keys import image_key
from mizual.errors import (
    ChainTooLong,
    Conflict,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from mizual.kit import imaging
from mizual.kit.dataurl import decode_image_payload
from mizual.kit.db.tables import utcnow
from mizual.kit.imagefetch import ImageFetcher
from mizual.kit.queue.base import JobQueue
from mizual.kit.safehttp import UnsafeDestination, check_url
from mizual.kit.storage.base import Storage
from mizual.observability import metrics
from mizual.settings import Settings

logger = logging.getLogger(__name__)

STUCK_MESSAGE = "Your edit stopped making progress and was cancelled. Please submit it again."
# An edit whose workers keep dying under it (a photo that crashes them, say) is not handed out
# for ever.
MAX_ATTEMPTS = 5
GAVE_UP_MESSAGE = (
    "Your edit was started {attempts} times and stopped each time before it finished, so it "
    "was cancelled. Please try a smaller image or another prompt."
)
# An edit committed this long ago and never queued was left by an API process that died between
# its commit and its dispatch (a moment): dispatched by the reconciler.
UNDISPATCHED_GRACE_SECONDS = 5.0
_FINISHED_AS: dict[str, str] = {
    EditStatus.COMPLETED: "completed",
    EditStatus.FAILED: "failed",
    EditStatus.CANCELLED: "been cancelled",
}
QUEUE_DOWN_MESSAGE = (
    "Edits cannot be queued right now because the job queue is unreachable. Please try again "
    "in a minute."
)


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check, not yet stored (see `EditService.prepare`)."""

    prompt: str
    parent: EditRecord | None
    chain_position: int
    # The uploaded image (checked), or the storage key of the parent's result it continues from.
    source: tuple[bytes, imaging.ImageInfo] | str
    webhook: Webhook | None = None
    output: OutputChoice | None = None


@dataclass(frozen=True)
class OutputChoice:
    """The result's format and encoder quality asked for (None: the format's default)."""

    format: str
    quality: int | None = None


@dataclass(frozen=True)
class Webhook:
    url: str
    events: list[str]


@dataclass(frozen=True)
class Accepted:
    """An edit just recorded, and its token (given to the submitter once, stored hashed)."""

    record: EditRecord
    edit_token: str


def clean_prompt(prompt: str) -> str:
    text = clean_text(prompt)
    if not text:
        raise InvalidInput(
            "prompt: the prompt is empty; describe the edit, e.g. 'make it brighter'"
        )
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            f"prompt: the prompt is {len(text)} characters long; at most {MAX_PROMPT_CHARS} "
            "are accepted"
        )
    return text


class EditService:
    def __init__(
        self,
        *,
        settings: Settings,
        repository: EditRepository,
        status: EditStatusStore,
        storage: Storage,
        queue: JobQueue | None,
        image_fetcher: ImageFetcher | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.status = status
        self.storage = storage
        self.queue = queue
        # None where no submission is taken (a worker): an image_url is then refused.
        self.image_fetcher = image_fetcher

    # Submitting --------------------------------------------------------------------------------

    def submit(self, *, prompt: str, image: str | None, parent_edit_id: str | None) -> EditRecord:
        """Validate, store the original, record the edit, then queue it."""
        submission = self.prepare(prompt=prompt, image=image, parent_edit_id=parent_edit_id)
        return self.accept(submission).record

    def prepare(
        self,
        *,
        prompt: str,
        image: str | None,
        parent_edit_id: str | None,
        webhook_url: str | None = None,
        webhook_events: list[str] | None = None,
        output_format: str | None = None,
        output_quality: int | None = None,
        image_bytes: bytes | None = None,
        image_url: str | None = None,
    ) -> Submission:
        """Every check of a submission, nothing stored: what is refused is refused here. The
        image comes as `image` (base64 or a data URL), `image_bytes` (a form's file) or
        `image_url` (fetched here, once every cheaper check has passed)."""
        if image_url is not None and (image is not None or image_bytes is not None):
            raise InvalidInput(
                "image_url: give the image either as image or as image_url, not both"
            )
        text = clean_prompt(prompt)
        webhook = self._webhook(webhook_url, webhook_events)
        output = (
            OutputChoice(output_format or "jpeg", output_quality)
            if output_format or output_quality
            else None
        )
        parent = self._usable_parent(parent_edit_id) if parent_edit_id else None
        position = (parent.chain_position or 1) + 1 if parent else 1
        if position > self.settings.max_chain_length:
            raise ChainTooLong(
                f"parent_edit_uuid: this chain already has {position - 1} edits, the most "
                f"allowed is {self.settings.max_chain_length}; start a new chain from the "
                "latest result instead"
            )
        data: bytes | None = image_bytes
        if image is not None:
            data = decode_image_payload(image, max_bytes=self.settings.max_upload_bytes)
        elif image_url is not None:
            data = self._fetch(image_url)
        if data is not None:
            if not data:
                raise InvalidInput("image: the image file is empty")
            info = imaging.inspect(
                data,
                unsupported=self.settings.unsupported_image_types,
                max_pixels=self.settings.max_image_pixels,
            )
            return Submission(
                text, parent, position, source=(data, info), webhook=webhook, output=output
            )
        if parent is not None and parent.result_key is not None:
            return Submission(
                text, parent, position, source=parent.result_key, webhook=webhook, output=output
            )
        raise InvalidInput(
            "image: an image is required unless parent_edit_uuid names a completed edit"
        )

    def _fetch(self, url: str) -> bytes:
        if self.image_fetcher is None:
            raise InvalidInput("image_url: this server does not fetch images by URL")
        return self.image_fetcher.fetch(url)

    def _webhook(self, url: str | None, events: list[str] | None) -> Webhook | None:
        if url is None:
            if events is not None:
                raise InvalidInput("webhook_events: given without a webhook_url to send them to")
            return None
        if self.settings.webhook_secret is None:
            raise InvalidInput(
                "webhook_url: this server cannot sign webhooks (its WEBHOOK_SECRET is not set), "
                "so it sends none; poll GET /edit/{uuid} or follow /edit/{uuid}/events instead"
            )
        try:
            check_url(
                url,
                allow_http=self.settings.webhook_allow_http,
                allowed_hosts=self.settings.webhook_allowed_hosts,
            )
        except UnsafeDestination as exc:
            raise InvalidInput(f"webhook_url: {exc.reason}") from None
        return Webhook(url=url, events=list(events or DEFAULT_WEBHOOK_EVENTS))

    def accept(self, submission: Submission) -> Accepted:
        """Store the original, record the edit, then queue it."""
        edit_uuid = uuid_module.uuid4()
        edit_token = tokens.new_token()
        parent = submission.parent
        if isinstance(submission.source, str):
            original_key = submission.source  # the parent's result is this edit's input
        else:
            data, info = submission.source
            original_key = image_key(
                prefix=self.settings.storage_path_prefix,
                kind="originals",
                edit_uuid=edit_uuid,
                extension=info.extension,
            )
            self.storage.put(original_key, data, content_type=info.content_type)

        record = self.repository.create(
            values={
                "uuid": edit_uuid,
                "prompt": submission.prompt,
                "original_key": original_key,
                "original_image_url": self.storage.url(original_key),
                "edit_token_hash": tokens.token_hash(edit_token),
                "webhook_url": submission.webhook.url if submission.webhook else None,
                "webhook_events": submission.webhook.events if submission.webhook else None,
                "output_format": submission.output.format if submission.output else None,
                "output_quality": submission.output.quality if submission.output else None,
            },
            parent_edit_uuid=parent.uuid if parent else None,
            chain_position=submission.chain_position,
        )
        if parent is not None:
            self.status.chain_grows(parent.uuid)
        if self.queue is not None:
            self._dispatch(record)
        logger.info("edit %s: accepted (chain position %d)", edit_uuid, submission.chain_position)
        return Accepted(record, edit_token)

    def _dispatch(self, record: EditRecord) -> None:
        assert self.queue is not None
        try:
            self.queue.dispatch(record.uuid)
        except Exception as exc:
            # Not left pending forever: the edit is failed and the client told to retry.
            logger.error("edit %s: could not be queued: %r", record.uuid, exc)
            self.status.change(
                record.uuid,
                status=EditStatus.FAILED,
                processing_stage="failed",
                error_stage="pending",
                error_message=QUEUE_DOWN_MESSAGE,
                finished_at=utcnow(),
            )
            metrics.edits_failed(1)
            raise ServiceUnavailable(QUEUE_DOWN_MESSAGE, retry_after=10) from None
        try:
            self.repository.mark_dispatched(record.uuid)
        except Exception as exc:  # queued all the same: at worst the reconciler queues it again
            logger.warning("edit %s: queued, but not marked as queued: %s", record.uuid, exc)

    def _usable_parent(self, parent_edit_id: str) -> EditRecord:
        parent_uuid = parse_edit_id(parent_edit_id, field="parent_edit_uuid")
        parent = self.repository.get(parent_uuid)
        if parent is None:
            raise NotFound(f"parent_edit_uuid: no edit {parent_uuid} exists")
        if parent.status != EditStatus.COMPLETED or parent.result_key is None:
            state = {
                EditStatus.FAILED: "failed",
                EditStatus.CANCELLED: "cancelled",
                EditStatus.EXPIRED: "expired (its images were removed)",
                EditStatus.DELETED: "deleted",
            }.get(EditStatus(parent.status), "not finished yet")
            raise Conflict(
                f"parent_edit_uuid: edit {parent_uuid} is {state}; only a completed edit can be "
                "edited further"
            )
        return parent

    # Cancelling --------------------------------------------------------------------------------

    def cancel(self, edit_id: str, *, token: str | None) -> EditRecord:
        """Cancel the edit for its submitter (`token`: its edit_token, or the admin token).
        A pending edit never starts; a running one stops at its next check (see the pipeline).
        NotFound, Unauthorized (no token), Forbidden (another token), Conflict (finished)."""
        edit_uuid = parse_edit_id(edit_id)
        record = self.status.record(edit_uuid)
        tokens.authorize(
            record, token=token, admin_token=self.settings.admin_token, doing="cancelling"
        )
        cancelled = self.status.cancel(edit_uuid)
        if cancelled is None:
            current = self.status.record(edit_uuid)
            raise Conflict(
                f"edit {edit_uuid} has already {_FINISHED_AS.get(current.status, 'finished')}; "
                "only a pending or processing edit can be cancelled"
            )
        metrics.edit_finished(EditStatus.CANCELLED)
        logger.info("edit %s: cancelled (it was %s)", edit_uuid, record.status)
        return cancelled

    # Reading -----------------------------------------------------------------------------------

    def get(self, edit_uuid: UUID) -> EditRecord:
        return self.status.record(edit_uuid)

    def chain(self, edit_id: str) -> dict[str, Any]:
        edit_uuid = parse_edit_id(edit_id)
        views = self.status.chain(edit_uuid)
        return {
            "edit_uuid": str(edit_uuid),
            "chain_length": len(views),
            "chain_history": [
                {
                    "edit": view,
                    "chain_position": view["chain_position"],
                    "parent_edit_uuid": view["parent_edit_uuid"],
                }
                for view in views
            ],
        }

    # Recovery ----------------------------------------------------------------------------------

    def recover_unfinished(self) -> int:
        """At the start of the one process that runs edits (embedded): queue again every edit a
        previous run left pending or processing; their leases died with that run."""
        if self.queue is None:
            return 0
        self.repository.release_leases()
        unfinished = self.repository.list_unfinished()
        for edit_uuid in unfinished:
            self.queue.dispatch(edit_uuid)
        if unfinished:
            logger.info("re-queued %d unfinished edit(s) from a previous run", len(unfinished))
        return len(unfinished)

    def reconcile(self) -> int:
        """Dispatch again what the rows say must run and nothing runs: edits pending though
        dispatched REDISPATCH_AFTER_SECONDS ago (the job was lost with the broker), edits never
        dispatched UNDISPATCHED_GRACE_SECONDS after their commit (the API died in between), and
        edits whose worker's lease has expired (it died).
        Safe in every process at once: each edit is claimed by one of them per interval."""
        if self.queue is None:
            return 0
        now = utcnow()
        orphans = self.repository.claim_orphans(
            dispatched_before=now - timedelta(seconds=self.settings.redispatch_after_seconds),
            undispatched_before=now - timedelta(seconds=UNDISPATCHED_GRACE_SECONDS),
        )
        for orphan in orphans:
            if orphan.attempts >= MAX_ATTEMPTS:
                self._give_up(orphan)
                continue
            logger.warning(
                "edit %s: %s with no live job (attempt %d); dispatching it again",
                orphan.uuid,
                orphan.status,
                orphan.attempts,
            )
            self.queue.dispatch(orphan.uuid)
        return len(orphans)

    def _give_up(self, orphan: Orphan) -> None:
        record = self.status.change(
            orphan.uuid,
            attempt=orphan.attempts,
            status=EditStatus.FAILED,
            error_stage=orphan.processing_stage,
            processing_stage="failed",
            error_message=GAVE_UP_MESSAGE.format(attempts=orphan.attempts),
            finished_at=utcnow(),
        )
        if record is not None:
            logger.error("edit %s: stopped %d times; marked failed", orphan.uuid, orphan.attempts)
            metrics.edits_failed(1)

    def fail_stuck_edits(self) -> int:
        """No edit stays "processing" forever: fail those without progress past the deadline."""
        idle_since = utcnow() - timedelta(seconds=self.settings.stuck_edit_timeout_seconds)
        failed = self.repository.fail_stuck(idle_since=idle_since, message=STUCK_MESSAGE)
        for edit_uuid in failed:
            record = self.repository.get(edit_uuid)
            if record is not None:
                self.status.publish(record)
            logger.error("edit %s: no progress since %s; marked failed", edit_uuid, idle_since)
        metrics.edits_failed(len(failed))
        return len(failed)
