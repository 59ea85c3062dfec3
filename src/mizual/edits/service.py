"""The rules of edits: what may be submitted, how chains grow, what a client sees of an edit."""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid as uuid_module
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from mizual import metrics
from mizual.edits.repository import EditRecord, EditRepository
from mizual.edits.schemas import MAX_PROMPT_CHARS, EditStatusView
from mizual.edits.stages import EditStatus
from mizual.errors import ChainTooLong, Conflict, InvalidInput, NotFound, ServiceUnavailable
from mizual.kit import imaging
from mizual.kit.broadcast import Publisher
from mizual.kit.cache import Cache
from mizual.kit.dataurl import decode_image_payload
from mizual.kit.db.tables import utcnow
from mizual.kit.queue.base import JobQueue
from mizual.kit.storage.base import Storage
from mizual.settings import Settings

logger = logging.getLogger(__name__)

STATUS_TTL_SECONDS = 30
CHAIN_TTL_SECONDS = 60
# While an edit changes (or its chain grows), its cached status (or chain shape) is replaced by
# this marker until the new one is written, for at most a few seconds: a reader that loaded the
# old row just before cannot store it back in between (`add` never overwrites), and a reader
# that meets the marker reads the database.
CHANGING_SECONDS = 10
_CHANGING = "changing"
STUCK_MESSAGE = "Your edit stopped making progress and was cancelled. Please submit it again."
QUEUE_DOWN_MESSAGE = (
    "Edits cannot be queued right now because the job queue is unreachable. Please try again "
    "in a minute."
)
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Control characters, and the invisible ones used to disguise text (zero-width space, bidi marks,
# embeddings, overrides and isolates). ZWNJ and ZWJ (U+200C, U+200D) stay: Persian and Indic
# words and emoji sequences (👩‍🚀) need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check, not yet stored (see `EditService.prepare`)."""

    prompt: str
    parent: EditRecord | None
    chain_position: int
    # The uploaded image (checked), or the storage key of the parent's result it continues from.
    source: tuple[bytes, imaging.ImageInfo] | str


def parse_edit_id(value: str, *, field: str = "edit id") -> UUID:
    """Only the canonical 8-4-4-4-12 form: one edit, one spelling (and one cache key)."""
    if not _CANONICAL_UUID.fullmatch(value):
        raise InvalidInput(
            f"{field}: {value[:60]!r} is not a valid edit id; expected a UUID such as "
            "550e8400-e29b-41d4-a716-446655440000"
        )
    return UUID(value)


def clean_text(value: str) -> str:
    """NFC, control and disguising characters removed, runs of whitespace made one space."""
    return " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", value)).split())


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
        storage: Storage,
        cache: Cache,
        queue: JobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.storage = storage
        self.cache = cache
        self.queue = queue
        # Told of every change after it is written through (see edits.events); set at start-up.
        self.events: Publisher | None = None
        self._prefix = f"{settings.environment}:"

    # Submitting --------------------------------------------------------------------------------

    def submit(self, *, prompt: str, image: str | None, parent_edit_id: str | None) -> EditRecord:
        """Validate, store the original, record the edit, then queue it."""
        return self.accept(self.prepare(prompt=prompt, image=image, parent_edit_id=parent_edit_id))

    def prepare(self, *, prompt: str, image: str | None, parent_edit_id: str | None) -> Submission:
        """Every check of a submission, nothing stored: what is refused is refused here."""
        text = clean_prompt(prompt)
        parent = self._usable_parent(parent_edit_id) if parent_edit_id else None
        position = (parent.chain_position or 1) + 1 if parent else 1
        if position > self.settings.max_chain_length:
            raise ChainTooLong(
                f"parent_edit_uuid: this chain already has {position - 1} edits, the most "
                f"allowed is {self.settings.max_chain_length}; start a new chain from the "
                "latest result instead"
            )
        if image is not None:
            data = decode_image_payload(image, max_bytes=self.settings.max_upload_bytes)
            info = imaging.inspect(
                data,
                unsupported=self.settings.unsupported_image_types,
                max_pixels=self.settings.max_image_pixels,
            )
            return Submission(text, parent, position, source=(data, info))
        if parent is not None and parent.result_key is not None:
            return Submission(text, parent, position, source=parent.result_key)
        raise InvalidInput(
            "image: an image is required unless parent_edit_uuid names a completed edit"
        )

    def accept(self, submission: Submission) -> EditRecord:
        """Store the original, record the edit, then queue it."""
        edit_uuid = uuid_module.uuid4()
        parent = submission.parent
        if isinstance(submission.source, str):
            original_key = submission.source  # the parent's result is this edit's input
        else:
            data, info = submission.source
            original_key = self._key("originals", edit_uuid, info.extension)
            self.storage.put(original_key, data, content_type=info.content_type)

        record = self.repository.create(
            values={
                "uuid": edit_uuid,
                "prompt": submission.prompt,
                "original_key": original_key,
                "original_image_url": self.storage.url(original_key),
            },
            parent_edit_uuid=parent.uuid if parent else None,
            chain_position=submission.chain_position,
        )
        if parent is not None:
            self._forget_chains_through(parent.uuid)
        if self.queue is not None:
            self._dispatch(record)
        logger.info("edit %s: accepted (chain position %d)", edit_uuid, submission.chain_position)
        return record

    def _dispatch(self, record: EditRecord) -> None:
        assert self.queue is not None
        try:
            self.queue.dispatch(record.uuid)
        except Exception as exc:
            # Not left pending forever: the edit is failed and the client told to retry.
            logger.error("edit %s: could not be queued: %r", record.uuid, exc)
            self.change(
                record.uuid,
                status=EditStatus.FAILED,
                processing_stage="failed",
                error_stage="pending",
                error_message=QUEUE_DOWN_MESSAGE,
                finished_at=utcnow(),
            )
            metrics.edits_failed(1)
            raise ServiceUnavailable(QUEUE_DOWN_MESSAGE) from None

    def _usable_parent(self, parent_edit_id: str) -> EditRecord:
        parent_uuid = parse_edit_id(parent_edit_id, field="parent_edit_uuid")
        parent = self.repository.get(parent_uuid)
        if parent is None:
            raise NotFound(f"parent_edit_uuid: no edit {parent_uuid} exists")
        if parent.status != EditStatus.COMPLETED or parent.result_key is None:
            state = "failed" if parent.status == EditStatus.FAILED else "not finished yet"
            raise Conflict(
                f"parent_edit_uuid: edit {parent_uuid} is {state}; only a completed edit can be "
                "edited further"
            )
        return parent

    def _key(self, kind: str, edit_uuid: UUID, extension: str) -> str:
        prefix = self.settings.storage_path_prefix
        name = f"{kind}/{edit_uuid}.{extension}"
        return f"{prefix}/{name}" if prefix else name

    def result_key(self, edit_uuid: UUID, extension: str) -> str:
        return self._key("results", edit_uuid, extension)

    # Reading -----------------------------------------------------------------------------------

    def get(self, edit_uuid: UUID) -> EditRecord:
        record = self.repository.get(edit_uuid)
        if record is None:
            raise NotFound(f"no edit {edit_uuid} exists")
        return record

    def status(self, edit_id: str) -> dict[str, Any]:
        edit_uuid = parse_edit_id(edit_id)
        cached = _as_view(self.cache.get(self._status_key(edit_uuid)))
        if cached is not None:
            return cached
        return self._fill_status(self.get(edit_uuid))

    async def cached_status(self, edit_id: str) -> dict[str, Any] | None:
        """`status` if the cache holds it, else None (then call `status_after_miss` in a
        thread): for the event loop, without the database. A malformed id fails here."""
        return _as_view(await self.cache.aget(self._status_key(parse_edit_id(edit_id))))

    def status_after_miss(self, edit_id: str) -> dict[str, Any]:
        """`status` from the database, for a caller that has just missed the cache: asking it
        again would only double the wait while Redis is unreachable."""
        return self._fill_status(self.get(parse_edit_id(edit_id)))

    def view(self, record: EditRecord) -> dict[str, Any]:
        return EditStatusView.from_record(record, storage=self.storage).model_dump(mode="json")

    def change(self, edit_uuid: UUID, *, durable: bool = True, **values: Any) -> EditRecord | None:
        """Record a change to an edit and publish it. `durable=False` marks mere progress, which
        a database crash may lose (the edit is then resumed from its last durable state).

        The cached status is marked as changing before the write, so in the moment between the
        commit and the new cache entry a poll reads the database, never the state before the
        change.
        """
        self._mark_changing(edit_uuid)
        record = self.repository.update(edit_uuid, durable=durable, **values)
        if record is not None:
            self.publish(record)
        return record

    def start_attempt(self, edit_uuid: UUID) -> EditRecord | None:
        """Mark an unfinished edit as processing (one more attempt); None if it is finished."""
        self._mark_changing(edit_uuid)
        record = self.repository.start_attempt(edit_uuid)
        if record is not None:
            self.publish(record)
        return record

    def publish(self, record: EditRecord) -> dict[str, Any]:
        """Write the edit's current state through to the status cache, then tell its event
        streams (the same view, after the cache has it); call after every change."""
        view = self.view(record)
        self.cache.set(self._status_key(record.uuid), view, ttl_seconds=STATUS_TTL_SECONDS)
        if self.events is not None:
            try:
                self.events.publish(str(record.uuid), view)
            except Exception:  # streams also re-read at every heartbeat; never fail the edit
                logger.exception("edit %s: could not notify its event streams", record.uuid)
        return view

    def _mark_changing(self, edit_uuid: UUID) -> None:
        self.cache.set(self._status_key(edit_uuid), _CHANGING, ttl_seconds=CHANGING_SECONDS)

    def _fill_status(self, record: EditRecord) -> dict[str, Any]:
        # `add`, not `set`: a worker's newer state, written meanwhile, must win over this read.
        view = self.view(record)
        self.cache.add(self._status_key(record.uuid), view, ttl_seconds=STATUS_TTL_SECONDS)
        return view

    def chain(self, edit_id: str) -> dict[str, Any]:
        edit_uuid = parse_edit_id(edit_id)
        key = self._chain_key(edit_uuid)
        members = self.cache.get(key)
        views = (
            self._member_views([UUID(member) for member in members])
            if isinstance(members, list)
            else None
        )
        if views is None:
            records = self.repository.chain(edit_uuid)
            if not records:
                raise NotFound(f"no edit {edit_uuid} exists")
            if members is None:  # not while the chain is changing
                shape = [str(record.uuid) for record in records]
                self.cache.add(key, shape, ttl_seconds=CHAIN_TTL_SECONDS)
            views = [self._fill_status(record) for record in records]
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

    def _member_views(self, members: list[UUID]) -> list[dict[str, Any]] | None:
        """Each member's current status: from the status cache, the rest from the database."""
        keys = [self._status_key(member) for member in members]
        cached = [_as_view(value) for value in self.cache.get_many(keys)]
        missing = [member for member, view in zip(members, cached, strict=True) if view is None]
        loaded = {record.uuid: record for record in self.repository.get_many(missing)}
        if len(loaded) < len(missing):
            return None  # the cached shape names an edit the database lacks; read it afresh
        return [
            view if view is not None else self._fill_status(loaded[member])
            for member, view in zip(members, cached, strict=True)
        ]

    def _forget_chains_through(self, parent_uuid: UUID) -> None:
        """A new child changes the chain seen from its parent and from every ancestor."""
        for member in self.repository.lineage(parent_uuid):
            self.cache.set(self._chain_key(member), _CHANGING, ttl_seconds=CHANGING_SECONDS)

    # Recovery ----------------------------------------------------------------------------------

    def recover_unfinished(self) -> int:
        """Queue again every edit a previous run left pending or processing."""
        if self.queue is None:
            return 0
        unfinished = self.repository.list_unfinished()
        for edit_uuid in unfinished:
            self.queue.dispatch(edit_uuid)
        if unfinished:
            logger.info("re-queued %d unfinished edit(s) from a previous run", len(unfinished))
        return len(unfinished)

    def fail_stuck_edits(self) -> int:
        """No edit stays "processing" forever: fail those without progress past the deadline."""
        idle_since = utcnow() - timedelta(seconds=self.settings.stuck_edit_timeout_seconds)
        failed = self.repository.fail_stuck(idle_since=idle_since, message=STUCK_MESSAGE)
        for edit_uuid in failed:
            record = self.repository.get(edit_uuid)
            if record is not None:
                self.publish(record)
            logger.error("edit %s: no progress since %s; marked failed", edit_uuid, idle_since)
        metrics.edits_failed(len(failed))
        return len(failed)

    def _status_key(self, edit_uuid: UUID) -> str:
        return f"{self._prefix}status:{edit_uuid}"

    def _chain_key(self, edit_uuid: UUID) -> str:
        return f"{self._prefix}chain:{edit_uuid}"


def _as_view(cached: Any) -> dict[str, Any] | None:
    """A cached status view (a copy), or None for a miss or the changing marker."""
    return dict(cached) if isinstance(cached, dict) else None
