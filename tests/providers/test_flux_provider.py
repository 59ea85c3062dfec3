"""Edits made by the FLUX.1 Kontext client, through the whole API, against a fake BFL server
on loopback that speaks BFL's protocol. Each scenario is chosen by the API key the server uses."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from mizual.providers.editing import flux
from mizual.providers.editing.base import EditRequest, ProviderTask
from tests.fakes.bfl import create_app
from tests.fakes.runner import FakeServer
from tests.support import MizualServer, colourfulness, edit_and_wait, fetch_image, jpeg_bytes


@pytest.fixture
def bfl() -> Iterator[FakeServer]:
    """A fresh fake per test, so its per-key counters start at zero."""
    with FakeServer(create_app()).start() as server:
        yield server


def received(bfl: FakeServer, key: str) -> list[dict[str, Any]]:
    """What the fake was sent with this key (submits and polls)."""
    requests: list[dict[str, Any]] = httpx.get(f"{bfl.url}/_fake/requests").json()
    return [r for r in requests if r["headers"].get("x-key") == key]


def submits(bfl: FakeServer, key: str) -> list[dict[str, Any]]:
    return [r for r in received(bfl, key) if r["method"] == "POST"]


def flux_server(
    make_server: Callable[..., MizualServer], bfl: FakeServer, key: str, **env: str
) -> MizualServer:
    return make_server(
        {
            "BFL_API_KEY": key,
            "BFL_API_URL": bfl.url,
            "BFL_POLL_INTERVAL_SECONDS": "0.05",
            "ENABLE_PROMPT_ENHANCEMENT": "false",
            **env,
        }
    )


def test_flux_edit_completes_with_the_bfl_result(
    make_server: Callable[..., MizualServer], bfl: FakeServer
) -> None:
    server = flux_server(make_server, bfl, "key-success")
    original = jpeg_bytes(320, 240)
    with server.client() as client:
        assert client.get("/version").json()["edit_provider"] == "flux"  # chosen by the key
        status = edit_and_wait(client, "make it look like an old photograph", original)
        assert status["status"] == "completed", status
        _, result = fetch_image(client, status["edited_image_url"])
    assert colourfulness(result) < 1.0  # the fake's edit: black and white
    assert (result.width, result.height) == (320, 240)

    (submit,) = submits(bfl, "key-success")
    assert submit["path"] == "/v1/flux-kontext-pro"
    body = submit["json"]
    assert body["prompt"] == "make it look like an old photograph"
    assert base64.b64decode(body["input_image"]) == original  # the upload, byte for byte
    assert body["safety_tolerance"] == 2
    assert body["output_format"] == "jpeg"
    polls = [r for r in received(bfl, "key-success") if r["path"] == "/v1/get_result"]
    assert len(polls) >= 3  # Pending, Pending, Ready
    assert "key-success" not in server.log()  # the key is never logged


def test_model_and_safety_level_are_configurable(
    make_server: Callable[..., MizualServer], bfl: FakeServer
) -> None:
    server = flux_server(
        make_server, bfl, "key-max", BFL_MODEL="flux-kontext-max", SAFETY_LEVEL="0"
    )
    with server.client() as client:
        assert edit_and_wait(client, "brighten it", jpeg_bytes(64, 48))["status"] == "completed"
    (submit,) = submits(bfl, "key-max")
    assert submit["path"] == "/v1/flux-kontext-max"
    assert submit["json"]["safety_tolerance"] == 0


@pytest.mark.parametrize(
    ("key", "env", "submit_count"),
    [
        # 429 with Retry-After: tried again inside the client, and the edit completes.
        ("rate-limited-once", {}, 2),
        ("server-error-once", {}, 2),
        ("poll-rate-limited-once", {}, 1),
    ],
)
def test_passing_trouble_is_retried_inside_the_client(
    make_server: Callable[..., MizualServer],
    bfl: FakeServer,
    key: str,
    env: dict[str, str],
    submit_count: int,
) -> None:
    server = flux_server(make_server, bfl, key, **env)
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    assert len(submits(bfl, key)) == submit_count


@pytest.mark.parametrize(
    ("key", "env", "message"),
    [
        ("rate-limited-always", {"BFL_REQUEST_RETRIES": "1"}, flux.BUSY),
        ("no-credits", {}, flux.UNAVAILABLE),
        ("invalid-key", {}, flux.UNAVAILABLE),
        ("request-moderated", {}, flux.REQUEST_MODERATED),
        ("content-moderated", {}, flux.CONTENT_MODERATED),
        ("task-error", {}, flux.TASK_FAILED),
        ("task-lost", {}, flux.TASK_LOST),
        ("expired-result", {}, flux.RESULT_GONE),
        ("missing-result", {}, flux.RESULT_GONE),
        (
            "slow",
            {"BFL_TIMEOUT_SECONDS": "1.5"},
            "The editing service did not finish this edit within 2 seconds",
        ),
    ],
)
def test_each_failure_ends_the_edit_with_a_message_a_person_understands(
    make_server: Callable[..., MizualServer],
    bfl: FakeServer,
    key: str,
    env: dict[str, str],
    message: str,
) -> None:
    server = flux_server(make_server, bfl, key, **env)
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
    assert status["status"] == "failed", status
    assert status["is_error"] is True
    assert status["error_stage"] == "ai_processing"
    assert message in status["message"]
    assert status["edited_image_url"] is None
    if key == "no-credits":
        assert "out of credits" in server.log()  # loud for the operator
    if key == "rate-limited-always":
        # BFL_REQUEST_RETRIES=1 and no stage retry (AI_PROCESSING_RETRIES=0): two submissions.
        assert len(submits(bfl, key)) == 2


def test_stage_retries_are_configurable(
    make_server: Callable[..., MizualServer], bfl: FakeServer
) -> None:
    server = flux_server(
        make_server,
        bfl,
        "rate-limited-always",
        BFL_REQUEST_RETRIES="0",
        AI_PROCESSING_RETRIES="1",
    )
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
    assert status["status"] == "failed"
    # The stage ran twice (5 s apart), each time with one request.
    assert len(submits(bfl, "rate-limited-always")) == 2


class WorkerDied(Exception):
    """Raised where a worker would have died: right after the task was recorded."""


def flux_client(bfl: FakeServer, key: str) -> flux.FluxEditingProvider:
    return flux.FluxEditingProvider(
        flux.FluxConfig(api_key=key, api_url=bfl.url, poll_interval_seconds=0.02)
    )


def test_a_resumed_edit_follows_the_task_it_paid_for_instead_of_submitting_again(
    bfl: FakeServer,
) -> None:
    recorded: list[ProviderTask] = []

    def record_then_die(task: ProviderTask) -> None:
        recorded.append(task)
        raise WorkerDied

    provider = flux_client(bfl, "key-resume")
    request = EditRequest(
        image=jpeg_bytes(96, 64),
        prompt="make it black and white",
        enhanced_prompt=None,
        record_task=record_then_die,
    )
    try:
        with pytest.raises(WorkerDied):
            provider.edit(request)
        (task,) = recorded
        assert task["provider"] == "flux"
        assert task["url"].startswith(bfl.url)

        outcome = provider.edit(replace(request, task=task, record_task=recorded.append))
    finally:
        provider.close()
    assert len(submits(bfl, "key-resume")) == 1  # paid once
    assert outcome.notes["bfl_task_id"] == task["id"]
    assert (outcome.image.width, outcome.image.height) == (96, 64)
    assert colourfulness(outcome.image) < 1.0  # the fake's edit, from the first task
    assert len(recorded) == 1  # nothing new to record


def test_a_task_bfl_no_longer_knows_is_submitted_again_once(bfl: FakeServer) -> None:
    recorded: list[ProviderTask] = []
    forgotten = {
        "provider": "flux",
        "id": "0" * 32,
        "url": f"{bfl.url}/v1/get_result?id={'0' * 32}",
    }
    provider = flux_client(bfl, "key-forgotten")
    try:
        outcome = provider.edit(
            EditRequest(
                image=jpeg_bytes(64, 48),
                prompt="make it black and white",
                enhanced_prompt=None,
                task=forgotten,
                record_task=recorded.append,
            )
        )
    finally:
        provider.close()
    assert len(submits(bfl, "key-forgotten")) == 1
    assert [task["id"] for task in recorded] == [outcome.notes["bfl_task_id"]]
    assert recorded[0]["id"] != forgotten["id"]
