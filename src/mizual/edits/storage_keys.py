"""Where an edit's images live in storage: `[PREFIX/]originals|results/<uuid>.<ext>`."""

from __future__ import annotations

from typing import Literal
from uuid import UUID


def image_key(
    *,
    prefix: str,
    kind: Literal["originals", "results"],
    edit_uuid: UUID,
    extension: str,
    attempt: int = 1,
) -> str:
    """A result of a later attempt has a name of its own (`<uuid>-2.jpg`): an attempt that was
    taken over may still be uploading, and must not replace the object its successor recorded."""
    stem = str(edit_uuid) if attempt <= 1 else f"{edit_uuid}-{attempt}"
    name = f"{kind}/{stem}.{extension}"
    return f"{prefix}/{name}" if prefix else name
