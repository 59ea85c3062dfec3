"""Builds the prompt enhancer that the settings ask for."""

from __future__ import annotations

from mizual.providers.prompting.base import PromptEnhancer, UnchangedPrompt
from mizual.providers.prompting.chat import ChatModel, GeminiChat, OpenAIChat
from mizual.providers.prompting.llm import LlmPromptEnhancer
from mizual.settings import LlmProvider, Settings


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The configured LLM client, or None when no key is configured."""
    key = settings.resolved_llm_api_key
    if key is None:
        return None
    if settings.llm_provider == LlmProvider.OPENAI:
        return OpenAIChat(
            api_url=settings.openai_api_url,
            api_key=key.get_secret_value(),
            model=settings.resolved_llm_model,
        )
    return GeminiChat(
        api_url=settings.gemini_api_url,
        api_key=key.get_secret_value(),
        model=settings.resolved_llm_model,
    )


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
