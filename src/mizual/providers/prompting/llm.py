"""Prompt enhancement with an LLM, in the reference's three steps: plan the edit from the words,
check the plan against the photo, write the final instruction for the editing model.

Enhancement only ever helps: any failure, timeout, refusal or empty answer falls back to the
person's own prompt, and the note stored with the edit says why.
"""

from __future__ import annotations

import logging
import time

from mizual.kit import imaging
from mizual.providers.llm.chat import Answer, ChatModel, LlmError
from mizual.providers.prompting.base import EnhancedPrompt

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 1000

PLAN_SYSTEM = (
    "You plan photo edits. From the user's request, list the concrete visual changes to make, "
    "as at most five short lines. Add nothing the user did not ask for."
)
CHECK_SYSTEM = (
    "You check a photo-edit plan against the photo. Drop steps that cannot apply to this "
    "photo, and make each remaining step specific to what is in it (which object, where). "
    "Answer with the corrected plan only."
)
WRITE_SYSTEM = (
    "You write one instruction for an image-editing model (FLUX.1 Kontext). Say what to change "
    "and what must stay as it is, in at most 60 words. Answer with the instruction only."
)


class LlmPromptEnhancer:
    def __init__(
        self, chat: ChatModel, *, timeout_seconds: float, image_max_side: int = 1024
    ) -> None:
        self.chat = chat
        self.timeout_seconds = timeout_seconds
        self.image_max_side = image_max_side

    def enhance(self, *, prompt: str, image: bytes) -> EnhancedPrompt:
        started = time.monotonic()
        try:
            final = self._three_steps(prompt, image, deadline=started + self.timeout_seconds)
        except LlmError as exc:
            return self._fallback(prompt, str(exc))
        except Exception as exc:  # an image it cannot preview, a bug: still never fail the edit
            logger.exception("prompt enhancement failed unexpectedly")
            return self._fallback(prompt, f"unexpected {type(exc).__name__}")
        seconds = time.monotonic() - started
        return EnhancedPrompt(
            prompt=final,
            note=f"enhanced by {self.chat.name} ({getattr(self.chat, 'model', '?')}) "
            f"in 3 steps, {seconds:.1f}s",
        )

    def _three_steps(self, prompt: str, image: bytes, *, deadline: float) -> str:
        plan = self._ask(PLAN_SYSTEM, f"Request: {prompt}", None, deadline).text
        preview = imaging.jpeg_preview(image, max_side=self.image_max_side)
        checked = self._ask(
            CHECK_SYSTEM, f"Request: {prompt}\nPlan:\n{plan}", preview, deadline
        ).text
        final = self._ask(WRITE_SYSTEM, f"Request: {prompt}\nPlan:\n{checked}", None, deadline)
        if not final.complete:
            raise LlmError("the final instruction was cut off")
        text = " ".join(final.text.split())
        if len(text) > MAX_PROMPT_CHARS:
            raise LlmError(f"the final instruction was {len(text)} characters long")
        return text

    def _ask(self, system: str, text: str, image: bytes | None, deadline: float) -> Answer:
        remaining = deadline - time.monotonic()
        if remaining <= 0.5:
            raise LlmError(f"no answer within LLM_TIMEOUT_SECONDS ({self.timeout_seconds:.0f}s)")
        return self.chat.ask(system=system, text=text, image_jpeg=image, timeout=remaining)

    def _fallback(self, prompt: str, reason: str) -> EnhancedPrompt:
        logger.warning("prompt enhancement fell back to the prompt as written: %s", reason)
        return EnhancedPrompt(
            prompt=prompt, note=f"prompt used as written: enhancement failed ({reason})"
        )

    def close(self) -> None:
        self.chat.close()
