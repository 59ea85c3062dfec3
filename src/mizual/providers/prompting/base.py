"""Prompt enhancement: an optional LLM rewrite of the person's prompt before editing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class EnhancedPrompt:
    prompt: str
    note: str  # how the prompt was arrived at, stored on the edit for people debugging it


class PromptEnhancer(Protocol):
    def enhance(self, *, prompt: str, image: bytes) -> EnhancedPrompt:
        """Never raises: any failure falls back to the original prompt, with a note saying why."""
        ...

    def close(self) -> None: ...


class UnchangedPrompt:
    """Used when enhancement is switched off or no LLM is configured."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def enhance(self, *, prompt: str, image: bytes) -> EnhancedPrompt:  # noqa: ARG002
        return EnhancedPrompt(prompt=prompt, note=self.reason)

    def close(self) -> None:
        return None
