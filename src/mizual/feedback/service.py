"""The rules of feedback: only for a completed edit, one rating per edit, text with every thumbs
down, IPs anonymised (and never shown)."""

from __future__ import annotations

import ipaddress
from typing import Any
from uuid import UUID

from mizual.cleaning import clean_text, parse_edit_id
from mizual.edits.stages import EditStatus
from mizual.edits.status import EditStatusStore
from mizual.errors import Conflict, InvalidInput, NotFound, NotReady
from mizual.feedback.repository import DuplicateFeedback, FeedbackRecord, FeedbackRepository
from mizual.feedback.schemas import MAX_FEEDBACK_CHARS, FeedbackView
from mizual.kit.cache import Cache


def anonymize_ip(address: str | None) -> str | None:
    """Keep the network, drop the host: IPv4 to its /24, IPv6 to its /48."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


FEEDBACK_TTL_SECONDS = 300  # as the reference caches it
_NOT_RATEABLE = {
    EditStatus.PENDING.value: "it has not started yet",
    EditStatus.PROCESSING.value: "it is still being made",
    EditStatus.FAILED.value: "it failed",
    EditStatus.CANCELLED.value: "it was cancelled",
}


class FeedbackService:
    def __init__(
        self,
        *,
        repository: FeedbackRepository,
        edit_status: EditStatusStore,
        cache: Cache,
        key_prefix: str,
    ) -> None:
        self.repository = repository
        self.edit_status = edit_status
        self.cache = cache
        self._prefix = f"{key_prefix}feedback:"

    def submit(
        self, *, edit_id: str, rating: int, feedback_text: str | None, client_ip: str | None
    ) -> FeedbackRecord:
        edit_uuid = parse_edit_id(edit_id, field="edit_uuid")
        # As prompts: no NUL (which PostgreSQL text refuses), no bidi overrides in a stored text.
        text = clean_text(feedback_text or "") or None
        if rating == 0 and text is None:
            raise InvalidInput(
                "feedback_text: tell us what went wrong; text is required with a thumbs down"
            )
        if text is not None and len(text) > MAX_FEEDBACK_CHARS:
            raise InvalidInput(
                f"feedback_text: {len(text)} characters is too long; at most "
                f"{MAX_FEEDBACK_CHARS} are accepted"
            )
        key = self._key(edit_uuid)
        # Feedback never changes once given, so a cached rating answers a repeat at once.
        if self.cache.get(key) is not None:
            raise _already_given(edit_uuid)
        # 404 for an unknown edit; the state usually comes from the status cache.
        state = self.edit_status.read(edit_uuid)["status"]
        if state != EditStatus.COMPLETED:
            reason = _NOT_RATEABLE.get(state, f"it is {state}")
            raise NotReady(
                "You can rate an edit once it has finished successfully; "
                f"edit {edit_uuid} cannot be rated because {reason}."
            )
        try:
            record = self.repository.create(
                edit_uuid=edit_uuid,
                rating=rating,
                feedback_text=text,
                user_ip=anonymize_ip(client_ip),
            )
        except DuplicateFeedback:
            raise _already_given(edit_uuid) from None
        self.cache.set(key, _view(record), ttl_seconds=FEEDBACK_TTL_SECONDS)
        return record

    def feedback_for(self, edit_id: str) -> dict[str, Any]:
        """The edit's feedback (cached for FEEDBACK_TTL_SECONDS); NotFound for an unknown edit
        or one nobody has rated."""
        edit_uuid = parse_edit_id(edit_id, field="edit_uuid")
        key = self._key(edit_uuid)
        cached = self.cache.get(key)
        if isinstance(cached, dict) and "created_at" in cached:
            return cached
        record = self.repository.get_for_edit(edit_uuid)
        if record is None:
            self.edit_status.read(edit_uuid)  # "no edit ... exists" for an unknown edit
            raise NotFound(f"edit {edit_uuid} has no feedback yet")
        view = _view(record)
        self.cache.set(key, view, ttl_seconds=FEEDBACK_TTL_SECONDS)
        return view

    def _key(self, edit_uuid: UUID) -> str:
        return f"{self._prefix}{edit_uuid}"


def _view(record: FeedbackRecord) -> dict[str, Any]:
    return FeedbackView(
        id=record.id,
        edit_uuid=str(record.edit_uuid),
        rating=record.rating,
        feedback_text=record.feedback_text,
        created_at=record.created_at,
    ).model_dump(mode="json")


def _already_given(edit_uuid: UUID) -> Conflict:
    return Conflict(
        f"edit_uuid: feedback for edit {edit_uuid} was already given; only one is kept per edit"
    )
