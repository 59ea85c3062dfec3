"""Builds the chat-model client that the settings ask for."""

from __future__ import annotations

from mizual.providers.llm.chat import ChatModel, GeminiChat, OpenAIChat
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
