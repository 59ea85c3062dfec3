"""Builds the editing provider that the settings name."""

from __future__ import annotations

from mizual.localedit.llm_reader import LlmPlanReader
from mizual.providers.editing.base import EditingProvider
from mizual.providers.editing.flux import FluxConfig, FluxEditingProvider
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.editing.noop import NoopEditingProvider
from mizual.providers.llm.factory import build_chat_model
from mizual.settings import EditProvider, Settings


def build_editing_provider(settings: Settings) -> EditingProvider:
    match settings.resolved_edit_provider:
        case EditProvider.LOCAL:
            return LocalEditingProvider(reader=_plan_reader(settings))
        case EditProvider.NOOP:
            return NoopEditingProvider(delay_seconds=settings.noop_edit_delay_seconds)
        case EditProvider.FLUX:
            return FluxEditingProvider(flux_config(settings))
    raise ValueError(f"unknown EDIT_PROVIDER {settings.edit_provider!r}")


def flux_config(settings: Settings) -> FluxConfig:
    assert settings.bfl_api_key is not None  # the settings refuse flux without a key
    return FluxConfig(
        api_key=settings.bfl_api_key.get_secret_value(),
        api_url=settings.bfl_api_url,
        model=settings.bfl_model.value,
        safety_tolerance=settings.safety_level,
        poll_interval_seconds=settings.bfl_poll_interval_seconds,
        poll_fastest_seconds=settings.bfl_poll_min_interval_seconds,
        timeout_seconds=settings.bfl_timeout_seconds,
        request_retries=settings.bfl_request_retries,
        max_concurrent_tasks=settings.bfl_max_concurrent_tasks,
    )


def _plan_reader(settings: Settings) -> LlmPlanReader | None:
    if not settings.local_editor_llm_plans:
        return None
    chat = build_chat_model(settings)
    if chat is None:
        return None
    return LlmPlanReader(chat, timeout_seconds=settings.llm_timeout_seconds)
