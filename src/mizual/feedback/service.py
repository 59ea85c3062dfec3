"""The rules of feedback: one rating per edit, text with every thumbs down, IPs anonymised."""

from __future__ import annotations

import ipaddress
from uuid import UUID

from mizual.edits.service import EditService, clean_text, parse_edit_id
from mizual.errors import Conflict, InvalidInput
from mizual.feedback.repository import DuplicateFeedback, FeedbackRecord, FeedbackRepository
from mizual.feedback.schemas import MAX_FEEDBACK_CHARS
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


FEEDBACK_TTL_SECONDS = 300


class FeedbackService:
    def __init__(self, *, repository: FeedbackRepository, edits: EditService, cache: Cache) -> None:
        self.repository = repository
        self.edits = edits
        self.cache = cache
        self._prefix = f"{edits.settings.environment}:feedback:"

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
        key = f"{self._prefix}{edit_uuid}"
        # Feedback never changes once given, so a cached rating answers a repeat at once.
        if self.cache.get(key) is not None:
            raise _already_given(edit_uuid)
        self.edits.status(str(edit_uuid))  # 404 for an unknown edit (usually from the cache)
        try:
            record = self.repository.create(
                edit_uuid=edit_uuid,
                rating=rating,
                feedback_text=text,
                user_ip=anonymize_ip(client_ip),
            )
        except DuplicateFeedback:
            raise _already_given(edit_uuid) from None
        self.cache.set(
            key, {"id": record.id, "rating": record.rating}, ttl_seconds=FEEDBACK_TTL_SECONDS
        )
        return record


def _already_given(edit_uuid: UUID) -> Conflict:
    return Conflict(
        f"edit_uuid: feedback for edit {edit_uuid} was already given; only one is kept per edit"
    )
