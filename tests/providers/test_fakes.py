"""The fake providers themselves: what benchmarks and later tests rely on beyond the provider
tests (standalone start, reset, the protocol details the clients do not exercise)."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes import bfl, gemini, openai
from tests.fakes.runner import FakeServer
from tests.support import free_port, jpeg_bytes


@pytest.fixture
def fake_bfl() -> Iterator[FakeServer]:
    with FakeServer(bfl.create_app()).start() as server:
        yield server


def test_a_fake_runs_on_its_own_for_benchmarks() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.bfl", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"fake BFL at http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/_fake/requests")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the fake did not start"
                time.sleep(0.1)
        assert response.json() == []
    finally:
        process.terminate()
        process.wait(10)


def test_bfl_task_goes_pending_to_ready_and_reset_forgets(fake_bfl: FakeServer) -> None:
    with httpx.Client(base_url=fake_bfl.url, headers={"x-key": "k"}) as http:
        image = base64.b64encode(jpeg_bytes(32, 24)).decode()
        task = http.post("/v1/flux-kontext-pro", json={"prompt": "p", "input_image": image}).json()
        statuses = [httpx.get(task["polling_url"], headers={"x-key": "k"}).json() for _ in range(3)]
        assert [s["status"] for s in statuses] == ["Pending", "Pending", "Ready"]
        sample = statuses[-1]["result"]["sample"]
        assert httpx.get(sample).headers["content-type"] == "image/jpeg"
        assert httpx.get(sample.split("?")[0]).status_code == 403  # unsigned: refused
        assert http.post("/v1/flux-kontext-pro", json={"prompt": "p"}).status_code == 422
        assert http.get("/v1/get_result", params={"id": "nope"}).json()["status"] == (
            "Task not found"
        )
        assert len(http.get("/_fake/requests").json()) == 8
        http.post("/_fake/reset")
        assert http.get("/_fake/requests").json() == []
        # The task is gone with the reset.
        assert httpx.get(task["polling_url"], headers={"x-key": "k"}).json()["status"] == (
            "Task not found"
        )


def test_gemini_takes_the_key_in_the_query_too_and_refuses_callers_without_one() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    with FakeServer(gemini.create_app()).start() as server:
        url = f"{server.url}/v1beta/models/gemini-1.5-flash:generateContent"
        answer = httpx.post(url, params={"key": "k"}, json=body).json()
        assert answer["candidates"][0]["content"]["parts"][0]["text"] == "Enhanced: hello"
        refused = httpx.post(url, json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["status"] == "PERMISSION_DENIED"


def test_openai_fake_answers_in_the_queued_order_and_checks_the_bearer_key() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    with FakeServer(openai.create_app()).start() as server:
        httpx.post(f"{server.url}/_fake/answers", json={"answers": ["one", "two"]})
        url = f"{server.url}/v1/chat/completions"
        auth = {"authorization": "Bearer sk-test"}
        texts = [
            httpx.post(url, json=body, headers=auth).json()["choices"][0]["message"]["content"]
            for _ in range(3)
        ]
        assert texts == ["one", "two", "Enhanced: hello"]
        assert httpx.post(url, json=body).status_code == 401
        assert httpx.get(f"{server.url}/v1/models", headers=auth).status_code == 200
