"""What every domain does to an id or a text it is given, before any rule looks at it."""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID

from mizual.errors import InvalidInput

_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Control characters, and the invisible ones used to disguise text (zero-width space, bidi marks,
# embeddings, overrides and isolates). ZWNJ and ZWJ (U+200C, U+200D) stay: Persian and Indic
# words and emoji sequences (👩‍🚀) need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069]")


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
