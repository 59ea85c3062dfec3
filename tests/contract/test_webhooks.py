"""Webhooks through real HTTP, on both stacks: signed deliveries to a receiver on loopback (an
HTTP server in this process, allowed by WEBHOOK_ALLOWED_HOSTS), retries, and the refusals of
addresses that are not public."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from mizual.edits.stages import PENDING_STAGE, PIPELINE
from tests.contract.conftest import WEBHOOK_SECRET
from tests.support import assert_error, data_url, free_port, jpeg_bytes, wait_for

# Generous for a loaded 2-core machine; every wait ends as soon as its condition holds.
DELIVERY_SECONDS = 20.0


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    at: float


@dataclass
class Receiver:
    """Answers each path with its scripted codes in turn (then 200), recording every request."""

    port: int
    scripts: dict[str, list[int]] = field(default_factory=dict)
    received: dict[str, list[Received]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _paths: Iterator[int] = field(default_factory=itertools.count)

    def url(self, *codes: int) -> str:
        path = f"/hook/{next(self._paths)}"
        with self.lock:
            self.scripts[path] = list(codes)
            self.received[path] = []
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], body: str) -> int:
        with self.lock:
            self.received.setdefault(path, []).append(Received(headers, body, time.monotonic()))
            script = self.scripts.get(path, [])
            return script.pop(0) if script else 200

    def requests(self, url: str) -> list[Received]:
        with self.lock:
            return list(self.received[urlsplit(url).path])

    def wait(self, url: str, until: Callable[[list[Received]], bool]) -> list[Received]:
        deadline = time.monotonic() + DELIVERY_SECONDS
        while not until(got := self.requests(url)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url}: got {len(got)} request(s): {got}")
            time.sleep(0.05)
        return got


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Receiver(port=server.server_address[1])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            code = state.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def submit_hooked(
    client: httpx.Client, url: str, events: list[str] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {
        "prompt": "make it brighter",
        "image": data_url(jpeg_bytes(64, 48)),
        "webhook_url": url,
    }
    if events is not None:
        body["webhook_events"] = events
    return client.post("/edit-image/", json=body)


def hooked_edit(client: httpx.Client, url: str, events: list[str] | None = None) -> str:
    response = submit_hooked(client, url, events)
    assert response.status_code == 200, response.text
    edit_id: str = response.json()["edit_id"]
    return edit_id


def verified(received: Received) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(WEBHOOK_SECRET).verify(received.body, received.headers)
    assert received.headers["content-type"] == "application/json"
    return payload


def summary_once(
    client: httpx.Client, edit_id: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The status view's `webhook` once it satisfies `until` (it is written after each attempt's
    answer, so a moment after the receiver saw the request)."""
    deadline = time.monotonic() + DELIVERY_SECONDS
    while True:
        summary: dict[str, Any] | None = client.get(f"/edit/{edit_id}").json()["webhook"]
        if summary is not None and until(summary):
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook summary of {edit_id}: {summary}")
        time.sleep(0.05)


def _without_signature(url: str | None) -> str | None:
    return url.split("?", 1)[0] if url else url


def test_the_completed_event_is_signed_and_is_the_status_view(
    client: httpx.Client, receiver: Receiver
) -> None:
    url = receiver.url()
    edit_id = hooked_edit(client, url)
    # Before delivery the summary is pending; the offline editor may already have finished
    # and delivered, so either state is right here.
    early = client.get(f"/edit/{edit_id}").json()["webhook"]
    assert early["state"] in ("pending", "delivered"), early
    if early["state"] == "pending":
        assert (early["delivered"], early["last_status_code"]) == (False, None)
    wait_for(client, edit_id)
    (received,) = receiver.wait(url, lambda got: len(got) == 1)
    payload = verified(received)
    assert payload.pop("event") == "completed"
    assert received.headers["webhook-id"]
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    summary = summary_once(client, edit_id, lambda s: s["delivered"])
    assert summary == {
        "delivered": True, "attempts": 1, "event": "completed", "last_status_code": 200,
        "state": "delivered",
    }  # fmt: skip
    final = client.get(f"/edit/{edit_id}").json()
    # What legitimately changed since the message was made: `webhook` (this very delivery's
    # summary, written after it) and `updated_at` (that write); on S3 the image URLs are
    # presigned afresh for each view, so only their signature query differs.
    for changing in ("webhook", "updated_at"):
        payload.pop(changing), final.pop(changing)
    for presigned in ("edited_image_url", "original_image_url"):
        assert _without_signature(payload.pop(presigned)) == _without_signature(
            final.pop(presigned)
        )
    assert payload == final
    assert final["status"] == "completed"
    time.sleep(1.5)  # a round or more later: nothing is sent twice
    assert len(receiver.requests(url)) == 1


def test_a_500_is_retried_with_the_same_message(client: httpx.Client, receiver: Receiver) -> None:
    url = receiver.url(500)
    edit_id = hooked_edit(client, url)
    first, second = receiver.wait(url, lambda got: len(got) >= 2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verified(first) == verified(second)
    assert 4.0 <= second.at - first.at <= 5.0 + DELIVERY_SECONDS / 2
    summary = summary_once(client, edit_id, lambda s: s["delivered"])
    assert (summary["attempts"], summary["last_status_code"]) == (2, 200)
    assert len(receiver.requests(url)) == 2


def test_a_400_is_not_retried(client: httpx.Client, receiver: Receiver) -> None:
    url = receiver.url(400)
    edit_id = hooked_edit(client, url)
    receiver.wait(url, lambda got: len(got) == 1)
    summary = summary_once(client, edit_id, lambda s: s["attempts"] == 1)
    assert summary == {
        "delivered": False, "attempts": 1, "event": "completed", "last_status_code": 400,
        "state": "failed",
    }  # fmt: skip
    time.sleep(6.5)  # past the first retry's 5 s
    assert len(receiver.requests(url)) == 1
    assert client.get(f"/edit/{edit_id}").json()["status"] == "completed"


def test_stage_events_arrive_in_order(client: httpx.Client, receiver: Receiver) -> None:
    url = receiver.url()
    edit_id = hooked_edit(client, url, ["stage", "completed"])
    got = receiver.wait(url, lambda got: any('"event":"completed"' in r.body for r in got))
    payloads = [verified(received) for received in got]
    events = [payload["event"] for payload in payloads]
    assert events[-1] == "completed"
    assert set(events[:-1]) == {"stage"}
    assert len(events) >= 2
    stages = [payload["processing_stage"] for payload in payloads[:-1]]
    # An attempt starts with the stage it resumes from ("pending" for a first attempt).
    known = [PENDING_STAGE, *PIPELINE]
    order = [known.index(stage) for stage in stages]
    assert order == sorted(set(order)), stages
    assert all(payload["status"] == "processing" for payload in payloads[:-1])
    assert len({received.headers["webhook-id"] for received in got}) == len(got)
    assert payloads[-1]["uuid"] == edit_id


@pytest.mark.parametrize(
    ("webhook_url", "reason"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[::1]:80/", "loopback"),
        ("http://localhost:{port}/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("ftp://example.com/hook", "scheme"),
        ("https://user:pw@example.com/hook", "credentials"),
    ],
)
def test_unsafe_destinations_are_refused(
    client: httpx.Client, receiver: Receiver, webhook_url: str, reason: str
) -> None:
    response = submit_hooked(client, webhook_url.format(port=receiver.port))
    assert_error(response, 422, "invalid_input", "webhook_url", reason)


def test_loopback_is_accepted_only_as_an_allowed_host(
    client: httpx.Client, receiver: Receiver
) -> None:
    # 127.0.0.1 is in the stacks' WEBHOOK_ALLOWED_HOSTS; the same address named otherwise
    # (localhost, ::ffff:127.0.0.1: see above) is refused.
    assert submit_hooked(client, receiver.url()).status_code == 200


def test_a_receiver_that_is_down_fails_no_edit(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    edit_id = hooked_edit(client, url)
    assert wait_for(client, edit_id)["status"] == "completed"
    summary = summary_once(client, edit_id, lambda s: s["attempts"] >= 1)
    assert summary["delivered"] is False
    assert summary["state"] == "pending"  # retried later, on the schedule
    assert summary["last_status_code"] is None
    assert client.get(f"/edit/{edit_id}").json()["status"] == "completed"


def test_events_need_a_webhook_url(client: httpx.Client) -> None:
    response = client.post(
        "/edit-image/",
        json={
            "prompt": "make it brighter",
            "image": data_url(jpeg_bytes(64, 48)),
            "webhook_events": ["completed"],
        },
    )
    assert_error(response, 422, "invalid_input", "webhook_events")
    assert json.loads(response.text)["detail"]
