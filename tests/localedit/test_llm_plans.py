"""With an LLM configured, the offline editor asks it to read the prompt as a plan (structured
output in the catalogue's schema); anything wrong with its answer hands the prompt to the rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes import gemini as fake_gemini
from tests.fakes import openai as fake_openai
from tests.fakes.runner import FakeServer
from tests.support import MizualServer, colourfulness, edit_and_wait, fetch_image, jpeg_bytes


@pytest.fixture
def gemini() -> Iterator[FakeServer]:
    with FakeServer(fake_gemini.create_app()).start() as server:
        yield server


def answer_with(fake: FakeServer, answer: dict[str, Any]) -> None:
    httpx.post(f"{fake.url}/_fake/answers", json={"answers": [json.dumps(answer)]})


def local_server(make_server: Callable[..., MizualServer], **env: str) -> MizualServer:
    # Enhancement off: the only LLM call is the plan reading.
    return make_server({"EDIT_PROVIDER": "local", "ENABLE_PROMPT_ENHANCEMENT": "false", **env})


def test_gemini_reads_a_prompt_the_rules_do_not_know(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    prompt = "give it the washed-out look of a seventies polaroid"
    answer_with(gemini, {"steps": [{"operation": "grayscale", "params": {"amount": None}}]})
    server = local_server(make_server, LLM_API_KEY="good", GEMINI_API_URL=gemini.url)
    with server.client() as client:
        status = edit_and_wait(client, prompt, jpeg_bytes(120, 90))
        assert status["status"] == "completed", status
        _, result = fetch_image(client, status["edited_image_url"])
    assert colourfulness(result) < 1.0
    assert status["edit_plan"] == [
        {"operation": "grayscale", "params": {}, "from": prompt, "read_by": "gemini"}
    ]
    (call,) = httpx.get(f"{gemini.url}/_fake/requests").json()
    config = call["json"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    operations = config["responseSchema"]["properties"]["steps"]["items"]["properties"]
    assert "blur_background" in operations["operation"]["enum"]
    assert prompt in call["json"]["contents"][0]["parts"][0]["text"]


def test_an_llm_plan_can_apply_a_step_to_a_part_of_the_photo(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    prompt = "give the upper part a moody monochrome feel"
    step = {"operation": "grayscale", "params": {}, "region": "top half"}
    answer_with(gemini, {"steps": [step]})
    server = local_server(make_server, LLM_API_KEY="good", GEMINI_API_URL=gemini.url)
    with server.client() as client:
        status = edit_and_wait(client, prompt, jpeg_bytes(160, 120))
        assert status["status"] == "completed", status
        _, result = fetch_image(client, status["edited_image_url"])
    assert colourfulness(result.crop(0, 0, 160, 30)) < 2
    assert colourfulness(result.crop(0, 90, 160, 30)) > 10
    assert status["edit_plan"][0]["region"] == "top half"
    assert status["edit_plan"][0]["read_by"] == "gemini"
    (call,) = httpx.get(f"{gemini.url}/_fake/requests").json()
    schema = call["json"]["generationConfig"]["responseSchema"]
    regions = schema["properties"]["steps"]["items"]["properties"]["region"]["enum"]
    assert {"everything", "faces", "people", "background", "top half"} <= set(regions)


@pytest.mark.parametrize(
    "answer",
    [
        {"steps": [{"operation": "add_a_hat"}]},  # not in the catalogue
        {"steps": [{"operation": "rotate", "params": {"degrees": 90}, "region": "faces"}]},
        {"steps": [{"operation": "grayscale", "region": "the sky"}]},  # not a part it knows
        {"steps": [{"operation": "rotate", "params": {"degrees": "ninety"}}]},  # wrong type
        {"steps": [{"operation": "brightness", "params": {"amount": 40}}]},  # out of range
        {"plan": "grayscale"},  # not the schema
    ],
)
def test_an_invalid_llm_plan_falls_back_to_the_rules(
    make_server: Callable[..., MizualServer], gemini: FakeServer, answer: dict[str, Any]
) -> None:
    answer_with(gemini, answer)
    server = local_server(make_server, LLM_API_KEY="good", GEMINI_API_URL=gemini.url)
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    assert [step["operation"] for step in status["edit_plan"]] == ["grayscale"]
    assert status["edit_plan"][0]["read_by"] == "rules"


def test_a_failing_llm_falls_back_to_the_rules(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    server = local_server(make_server, LLM_API_KEY="server-error", GEMINI_API_URL=gemini.url)
    with server.client() as client:
        status = edit_and_wait(client, "rotate 90 degrees clockwise", jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    assert status["edit_plan"][0]["operation"] == "rotate"
    assert status["edit_plan"][0]["read_by"] == "rules"


def test_what_neither_can_do_is_refused_with_the_rules_message(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    answer_with(gemini, {"steps": [], "not_possible": "adding objects needs new content"})
    server = local_server(make_server, LLM_API_KEY="good", GEMINI_API_URL=gemini.url)
    with server.client() as client:
        status = edit_and_wait(client, "add a red hat to the cat", jpeg_bytes(64, 48))
    assert status["status"] == "failed"
    assert "did not understand" in status["message"]
    assert status["edit_plan"] is None


def test_openai_reads_plans_with_a_json_schema(
    make_server: Callable[..., MizualServer],
) -> None:
    with FakeServer(fake_openai.create_app()).start() as openai:
        answer_with(openai, {"steps": [{"operation": "flip", "params": {"direction": "vertical"}}]})
        server = local_server(
            make_server, LLM_PROVIDER="openai", LLM_API_KEY="sk-good", OPENAI_API_URL=openai.url
        )
        with server.client() as client:
            status = edit_and_wait(client, "stand it on its head, mirror-wise", jpeg_bytes(64, 48))
        (call,) = httpx.get(f"{openai.url}/_fake/requests").json()
    assert status["status"] == "completed", status
    assert status["edit_plan"][0]["params"] == {"direction": "vertical"}
    assert status["edit_plan"][0]["read_by"] == "openai"
    assert call["json"]["response_format"]["type"] == "json_schema"


def test_the_llm_reading_can_be_switched_off(
    make_server: Callable[..., MizualServer], gemini: FakeServer
) -> None:
    server = local_server(
        make_server,
        LLM_API_KEY="good",
        GEMINI_API_URL=gemini.url,
        LOCAL_EDITOR_LLM_PLANS="false",
    )
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
    assert status["edit_plan"][0]["read_by"] == "rules"
    assert httpx.get(f"{gemini.url}/_fake/requests").json() == []
