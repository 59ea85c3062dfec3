"""Minimal clients for the two LLM APIs Mizual can use: Gemini generateContent and OpenAI chat
completions (or any server that speaks it). One short exchange per call, text in, text out."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

TEMPERATURE = 0.3
MAX_TOKENS = 150
# A structured answer (an edit plan) is longer than a sentence and should not vary.
JSON_MAX_TOKENS = 600
JSON_TEMPERATURE = 0.0
# What a provider's status or reason code looks like (see _code).
_CODE = re.compile(r"[A-Za-z][A-Za-z_]{0,59}")


class LlmError(Exception):
    """The LLM gave no usable answer; the message says why (never a key)."""


@dataclass(frozen=True)
class Answer:
    text: str
    complete: bool  # False when the model stopped early (token limit, safety)


class ChatModel(Protocol):
    name: str

    def ask(
        self, *, system: str, text: str, image_jpeg: bytes | None, timeout: float
    ) -> Answer: ...

    def ask_json(
        self, *, system: str, text: str, schema: dict[str, Any], timeout: float
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


class GeminiChat:
    name = "gemini"

    def __init__(self, *, api_url: str, api_key: str, model: str) -> None:
        self.model = model
        self.url = f"{api_url}/v1beta/models/{model}:generateContent"
        # The key travels in a header, never in the URL, so it cannot end up in a log line.
        self.http = httpx.Client(headers={"x-goog-api-key": api_key})

    def ask(self, *, system: str, text: str, image_jpeg: bytes | None, timeout: float) -> Answer:
        parts: list[dict[str, Any]] = [{"text": text}]
        if image_jpeg is not None:
            data = base64.b64encode(image_jpeg).decode()
            parts.append({"inline_data": {"mime_type": "image/jpeg", "data": data}})
        body = {
            "system_instruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": {"temperature": TEMPERATURE, "maxOutputTokens": MAX_TOKENS},
        }
        answer, finished = self._answer(body, timeout=timeout)
        return _usable(answer, finished=finished, complete="STOP")

    def ask_json(
        self, *, system: str, text: str, schema: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        body = {
            "system_instruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "temperature": JSON_TEMPERATURE,
                "maxOutputTokens": JSON_MAX_TOKENS,
                "responseMimeType": "application/json",
                "responseSchema": schema,
            },
        }
        answer, finished = self._answer(body, timeout=timeout)
        return _json_object(answer, finished=finished, complete="STOP")

    def _answer(self, body: dict[str, Any], *, timeout: float) -> tuple[str, str | None]:
        """The first candidate's text and its finish reason."""
        payload = _post(self.http, self.url, body, timeout=timeout, provider="gemini")
        if not payload.get("candidates"):
            reason = _code((payload.get("promptFeedback") or {}).get("blockReason")) or (
                "no candidates"
            )
            raise LlmError(f"gemini gave no answer ({reason})")
        candidate = payload["candidates"][0]
        answer = "".join(
            part.get("text", "") for part in (candidate.get("content") or {}).get("parts", [])
        )
        return answer, candidate.get("finishReason")

    def close(self) -> None:
        self.http.close()


class OpenAIChat:
    name = "openai"

    def __init__(self, *, api_url: str, api_key: str, model: str) -> None:
        self.model = model
        self.url = f"{api_url}/v1/chat/completions"
        self.http = httpx.Client(headers={"authorization": f"Bearer {api_key}"})

    def ask(self, *, system: str, text: str, image_jpeg: bytes | None, timeout: float) -> Answer:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if image_jpeg is not None:
            data = base64.b64encode(image_jpeg).decode()
            content.append(
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}}
            )
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": content},
            ],
            "temperature": TEMPERATURE,
            "max_tokens": MAX_TOKENS,
        }
        answer, finished = self._answer(body, timeout=timeout)
        return _usable(answer, finished=finished, complete="stop")

    def ask_json(
        self, *, system: str, text: str, schema: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": text},
            ],
            "temperature": JSON_TEMPERATURE,
            "max_tokens": JSON_MAX_TOKENS,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            },
        }
        answer, finished = self._answer(body, timeout=timeout)
        return _json_object(answer, finished=finished, complete="stop")

    def _answer(self, body: dict[str, Any], *, timeout: float) -> tuple[str, str | None]:
        """The first choice's content and its finish reason."""
        payload = _post(self.http, self.url, body, timeout=timeout, provider="openai")
        choices = payload.get("choices") or []
        if not choices:
            raise LlmError("openai gave no answer (no choices)")
        message = choices[0].get("message") or {}
        if message.get("refusal"):
            raise LlmError("openai refused to answer")
        return message.get("content") or "", choices[0].get("finish_reason")

    def close(self) -> None:
        self.http.close()


def _post(
    http: httpx.Client, url: str, body: dict[str, Any], *, timeout: float, provider: str
) -> dict[str, Any]:
    try:
        response = http.post(url, json=body, timeout=timeout)
    except httpx.TimeoutException:
        raise LlmError(f"{provider} did not answer within {timeout:.0f}s") from None
    except httpx.TransportError as exc:
        raise LlmError(f"{provider} is unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise LlmError(f"{provider} answered HTTP {response.status_code}{_error_text(response)}")
    try:
        payload = response.json()
    except ValueError:
        raise LlmError(f"{provider} answered something that is not JSON") from None
    if not isinstance(payload, dict):
        raise LlmError(f"{provider} answered an unexpected shape")
    return payload


def _error_text(response: httpx.Response) -> str:
    """The provider's own error status or message, short ("RESOURCE_EXHAUSTED")."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    label = _code(error.get("status")) or _code(error.get("code")) or _code(error.get("type"))
    return f" {label}" if label else ""


def _code(value: object) -> str | None:
    """A provider's status code word ("RESOURCE_EXHAUSTED", "invalid_api_key"), or None. Only
    such words are kept: anything else the provider says, which may quote back the key it was
    sent, never reaches a note shown to users."""
    if isinstance(value, str) and _CODE.fullmatch(value):
        return value
    return None


def _usable(answer: str, *, finished: object, complete: str) -> Answer:
    text = answer.strip().strip("\"'`").strip()
    if not text:
        raise LlmError("the answer was empty")
    return Answer(text=text, complete=finished in (None, complete))


def _json_object(answer: str, *, finished: object, complete: str) -> dict[str, Any]:
    if finished not in (None, complete):
        raise LlmError(f"the structured answer was cut off ({_code(finished) or 'no reason'})")
    text = answer.strip()
    if text.startswith("```"):  # some models fence JSON even when asked not to
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except ValueError:
        raise LlmError("the structured answer was not JSON") from None
    if not isinstance(value, dict):
        raise LlmError("the structured answer was not a JSON object")
    return value
