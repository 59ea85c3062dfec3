"""Where an edit's images live in storage: `[PREFIX/]originals|results/<uuid>.<ext>`."""

from __future__ import annotations

from typing import Literal
from uuid import UUID


def image_key(
    *, prefix: str, kind: Literal["originals", "results"], edit_uuid: UUID, extension: str
) -> str:
    name = f"{kind}/{edit_uuid}.{extension}"
    return f"{prefix}/{name}" if prefix else name
