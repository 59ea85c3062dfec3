"""Builds the prompt enhancer that the settings ask for."""

from __future__ import annotations

from mizual.providers.llm.factory import build_chat_model
from mizual.providers.prompting.base import PromptEnhancer, UnchangedPrompt
from mizual.providers.prompting.llm import LlmPromptEnhancer
from mizual.settings import Settings


def build_prompt_enhancer(settings: Settings) -> PromptEnhancer:
    if not settings.enable_prompt_enhancement:
        return UnchangedPrompt("prompt enhancement is switched off (ENABLE_PROMPT_ENHANCEMENT)")
    chat = build_chat_model(settings)
    if chat is None:
        return UnchangedPrompt(
            "prompt enhancement is on but no LLM key is configured (LLM_API_KEY or GEMINI_API_KEY)"
        )
    return LlmPromptEnhancer(
        chat,
        timeout_seconds=settings.llm_timeout_seconds,
        image_max_side=settings.llm_max_image_dimension,
    )
