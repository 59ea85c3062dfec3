"""The seam between the pipeline and whatever performs an edit (offline editor, FLUX, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pyvips


class EditingError(Exception):
    """The provider could not make the edit. `user_message` is shown to the person."""

    def __init__(self, user_message: str, *, retryable: bool, detail: str | None = None) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.retryable = retryable


@dataclass(frozen=True)
class EditRequest:
    image: bytes
    prompt: str
    enhanced_prompt: str | None


@dataclass
class EditOutcome:
    image: pyvips.Image
    # The operations the prompt was read as, for editors that plan (the offline editor).
    plan: list[dict[str, Any]] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class EditingProvider(Protocol):
    name: str

    def edit(self, request: EditRequest) -> EditOutcome: ...

    def close(self) -> None: ...
