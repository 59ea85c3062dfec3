"""`mizual providers check`: is each configured AI service reachable, and does it take the key?"""

from __future__ import annotations

from mizual.providers.editing.factory import flux_config
from mizual.providers.editing.flux import FluxEditingProvider
from mizual.providers.llm.chat import LlmError
from mizual.providers.llm.factory import build_chat_model
from mizual.settings import EditProvider, Settings

CHECK_TIMEOUT_SECONDS = 15.0


def check_providers(settings: Settings) -> tuple[list[str], bool]:
    """One line per provider, and whether every configured one works."""
    lines: list[str] = []
    healthy = True

    provider = settings.resolved_edit_provider
    if provider == EditProvider.FLUX:
        flux = FluxEditingProvider(flux_config(settings))
        try:
            lines.append(f"editing     flux    ok: {flux.check()}")
        except Exception as exc:
            healthy = False
            lines.append(f"editing     flux    FAILED: {settings.bfl_api_url}: {_reason(exc)}")
        finally:
            flux.close()
    elif provider == EditProvider.LOCAL:
        lines.append("editing     local   ok: the offline editor needs no key or network")
    else:
        lines.append(f"editing     {provider.value}    ok: for benchmarks and tests only")

    if not settings.enable_prompt_enhancement:
        lines.append("prompting   off     ENABLE_PROMPT_ENHANCEMENT is false")
        return lines, healthy
    chat = build_chat_model(settings)
    name = settings.llm_provider.value
    if chat is None:
        lines.append(
            f"prompting   {name:<7} not configured: set LLM_API_KEY (or GEMINI_API_KEY); "
            "prompts are used as written"
        )
        return lines, healthy
    try:
        chat.ask(
            system="Reply with the single word OK.",
            text="OK?",
            image_jpeg=None,
            timeout=CHECK_TIMEOUT_SECONDS,
        )
        lines.append(f"prompting   {name:<7} ok: {settings.resolved_llm_model} answers")
    except Exception as exc:
        healthy = False
        lines.append(f"prompting   {name:<7} FAILED: {settings.resolved_llm_model}: {_reason(exc)}")
    finally:
        chat.close()
    return lines, healthy


def _reason(exc: Exception) -> str:
    if isinstance(exc, LlmError | RuntimeError):
        return str(exc)
    return type(exc).__name__
