"""Prompt enhancement through the whole API, against fake Gemini and OpenAI servers on loopback.
An enhanced prompt reaches the editing provider; any failure leaves the prompt as written and
never fails the edit."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import pyvips

from tests.fakes import bfl as fake_bfl
from tests.fakes import gemini as fake_gemini
from tests.fakes import openai as fake_openai
from tests.fakes.runner import FakeServer
from tests.support import MizualServer, edit_and_wait, jpeg_bytes

FINAL = "Turn the photo black and white; keep the composition and every object unchanged."
PROMPT = "make it black and white"


@pytest.fixture
def gemini() -> Iterator[FakeServer]:
    with FakeServer(fake_gemini.create_app()).start() as server:
        yield server


@pytest.fixture
def openai() -> Iterator[FakeServer]:
    with FakeServer(fake_openai.create_app()).start() as server:
        yield server


@pytest.fixture
def bfl() -> Iterator[FakeServer]:
    with FakeServer(fake_bfl.create_app()).start() as server:
        yield server


def requests_to(fake: FakeServer, path_part: str) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{fake.url}/_fake/requests").json()
    return [r for r in requests if path_part in r["path"]]


def script(fake: FakeServer, *answers: str) -> None:
    httpx.post(f"{fake.url}/_fake/answers", json={"answers": list(answers)}).raise_for_status()


def test_gemini_enhances_the_prompt_that_flux_receives(
    make_server: Callable[..., MizualServer], gemini: FakeServer, bfl: FakeServer
) -> None:
    script(gemini, "1. remove all colour", "1. remove the colour of the gradient", FINAL)
    server = make_server(
        {
            "GEMINI_API_KEY": "gemini-good-key",
            "GEMINI_API_URL": gemini.url,
            "BFL_API_KEY": "bfl-good-key",
            "BFL_API_URL": bfl.url,
            "BFL_POLL_INTERVAL_SECONDS": "0.05",
        }
    )
    with server.client() as client:
        assert client.get("/version").json()["prompt_enhancement"].startswith("gemini")
        status = edit_and_wait(client, PROMPT, jpeg_bytes(2000, 1500))
    assert status["status"] == "completed", status
    assert status["prompt"] == PROMPT
    assert status["enhanced_prompt"] == FINAL
    assert "enhanced by gemini" in status["prompt_note"]

    calls = requests_to(gemini, ":generateContent")
    assert len(calls) == 3  # plan, check against the image, write
    for call in calls:
        assert call["path"] == "/v1beta/models/gemini-1.5-flash:generateContent"
        assert call["headers"]["x-goog-api-key"] == "gemini-good-key"
        assert "key" not in call["query"]  # never in the URL, where logs would keep it
        config = call["json"]["generationConfig"]
        assert config == {"temperature": 0.3, "maxOutputTokens": 150}
    assert PROMPT in calls[0]["json"]["contents"][0]["parts"][0]["text"]
    images = [
        part["inline_data"]
        for call in calls
        for part in call["json"]["contents"][0]["parts"]
        if "inline_data" in part
    ]
    assert len(images) == 1  # only the check step looks at the photo
    assert images[0]["mime_type"] == "image/jpeg"
    preview = pyvips.Image.new_from_buffer(base64.b64decode(images[0]["data"]), "")
    assert (preview.width, preview.height) == (1024, 768)  # at most 1024 px, aspect kept
    (submit,) = [r for r in requests_to(bfl, "/v1/flux") if r["method"] == "POST"]
    assert submit["json"]["prompt"] == FINAL
    assert "gemini-good-key" not in server.log()


@pytest.mark.parametrize(
    ("key", "env", "reason"),
    [
        ("server-error", {}, "gemini answered HTTP 500 INTERNAL"),
        ("rate-limited", {}, "gemini answered HTTP 429 RESOURCE_EXHAUSTED"),
        ("invalid-key", {}, "gemini answered HTTP 400 INVALID_ARGUMENT"),
        ("blocked", {}, "gemini gave no answer (SAFETY)"),
        ("empty", {}, "the answer was empty"),
        ("max-tokens", {}, "the final instruction was cut off"),
        ("slow", {"LLM_TIMEOUT_SECONDS": "1"}, "gemini did not answer within 1s"),
    ],
)
def test_a_failing_llm_leaves_the_prompt_as_written(
    make_server: Callable[..., MizualServer],
    gemini: FakeServer,
    key: str,
    env: dict[str, str],
    reason: str,
) -> None:
    server = make_server({"LLM_API_KEY": key, "GEMINI_API_URL": gemini.url, **env})
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
    assert status["status"] == "completed", status  # the offline editor did the edit
    assert status["enhanced_prompt"] == PROMPT
    assert status["prompt_note"].startswith("prompt used as written: enhancement failed")
    assert reason in status["prompt_note"]


def test_openai_enhances_the_prompt(
    make_server: Callable[..., MizualServer], openai: FakeServer
) -> None:
    script(openai, "plan", "checked plan", FINAL)
    server = make_server(
        {
            "LLM_PROVIDER": "openai",
            "LLM_API_KEY": "sk-openai-good",
            "OPENAI_API_URL": openai.url,
            "LLM_MODEL": "gpt-4o-mini",
        }
    )
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(300, 200))
    assert status["status"] == "completed", status
    assert status["enhanced_prompt"] == FINAL
    assert "enhanced by openai (gpt-4o-mini)" in status["prompt_note"]
    calls = requests_to(openai, "/v1/chat/completions")
    # The offline editor then asks for a plan too (a structured answer); enhancement is three.
    calls = [call for call in calls if "response_format" not in call["json"]]
    assert len(calls) == 3
    for call in calls:
        assert call["headers"]["authorization"] == "Bearer sk-openai-good"
        assert call["json"]["temperature"] == 0.3
        assert call["json"]["max_tokens"] == 150
        assert call["json"]["model"] == "gpt-4o-mini"
    image_parts = [
        part
        for call in calls
        for message in call["json"]["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]
    assert len(image_parts) == 1
    assert image_parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("refusal", "openai refused to answer"),
        ("rate-limited", "openai answered HTTP 429 rate_limit_exceeded"),
        ("empty", "the answer was empty"),
    ],
)
def test_openai_failures_leave_the_prompt_as_written(
    make_server: Callable[..., MizualServer], openai: FakeServer, key: str, reason: str
) -> None:
    server = make_server(
        {"LLM_PROVIDER": "openai", "LLM_API_KEY": key, "OPENAI_API_URL": openai.url}
    )
    with server.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    assert status["enhanced_prompt"] == PROMPT
    assert reason in status["prompt_note"]


def test_enhancement_switched_off_or_without_a_key_says_so(
    make_server: Callable[..., MizualServer],
) -> None:
    off = make_server({"ENABLE_PROMPT_ENHANCEMENT": "false"})
    with off.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
        assert client.get("/version").json()["prompt_enhancement"] == "off"
    assert "switched off" in status["prompt_note"]
    keyless = make_server({})
    with keyless.client() as client:
        status = edit_and_wait(client, PROMPT, jpeg_bytes(64, 48))
    assert "no LLM key is configured" in status["prompt_note"]


def providers_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BFL_", "LLM_", "GEMINI_", "OPENAI_", "EDIT_PROVIDER"))
    }
    return subprocess.run(
        [sys.executable, "-m", "mizual", "providers", "check"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_providers_check_reports_each_provider(gemini: FakeServer, bfl: FakeServer) -> None:
    good = providers_check(
        {
            "BFL_API_KEY": "bfl-good-key",
            "BFL_API_URL": bfl.url,
            "GEMINI_API_KEY": "gemini-good-key",
            "GEMINI_API_URL": gemini.url,
        }
    )
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert lines[0].startswith("editing")
    assert "flux    ok" in lines[0]
    assert lines[1].startswith("prompting")
    assert "gemini  ok" in lines[1]

    bad = providers_check(
        {
            "BFL_API_KEY": "invalid-key",
            "BFL_API_URL": bfl.url,
            "GEMINI_API_KEY": "invalid-key",
            "GEMINI_API_URL": gemini.url,
        }
    )
    assert bad.returncode == 1
    assert "flux    FAILED" in bad.stdout
    assert "the API key was rejected (403)" in bad.stdout
    assert "gemini  FAILED" in bad.stdout
    assert "HTTP 400 INVALID_ARGUMENT" in bad.stdout

    offline = providers_check({"ENABLE_PROMPT_ENHANCEMENT": "false"})
    assert offline.returncode == 0
    assert "local   ok" in offline.stdout
    assert "prompting   off" in offline.stdout
