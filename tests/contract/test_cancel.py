"""Cancelling an edit, through real HTTP, on both stacks.

Finished edits and the token rules use the suite's stacks. Cancelling a pending or a processing
edit needs edits that stay unfinished: those run on stacks of this module's own, which edit
with FLUX through the fake BFL server, whose tasks stay Pending until cancelled (key `slow`),
polled at the default interval (BFL_POLL_INTERVAL_SECONDS), with one edit at a time (one worker
thread, or one Celery worker of concurrency 1) so that a second edit waits, pending.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FLUX_STACK_REDIS_DB
from tests.contract.conftest import ADMIN_TOKEN, STACK_ENV, Stack, stack_of_its_own
from tests.fakes.bfl import create_app as create_fake_bfl
from tests.fakes.runner import FakeServer
from tests.observability.test_metrics import Scrape
from tests.support import (
    MizualServer,
    assert_error,
    jpeg_bytes,
    read_events,
    submit,
    wait_for,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cancel(client: httpx.Client, edit_id: str, token: str | None) -> httpx.Response:
    return client.post(
        f"/edit/{edit_id}/cancel", headers=bearer(token) if token is not None else {}
    )


def submitted(client: httpx.Client, prompt: str) -> dict[str, Any]:
    response = submit(client, prompt, jpeg_bytes(64, 48))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_cancelled(view: dict[str, Any]) -> None:
    assert view["status"] == "cancelled", view
    assert view["processing_stage"] == "cancelled"
    assert (view["is_complete"], view["is_error"]) == (True, False)
    assert "cancelled" in view["message"]
    assert view["edited_image_url"] is None
    assert view["finished_at"] is not None


# Finished edits and who may cancel: the suite's stacks --------------------------------------


def test_the_submission_answers_an_edit_token(client: httpx.Client, stack: Stack) -> None:
    first, second = submitted(client, "make it brighter"), submitted(client, "make it darker")
    assert len(first["edit_token"]) >= 43
    assert first["edit_token"] != second["edit_token"]
    # Kept hashed: the token itself is nowhere in the row.
    row = stack.rows("SELECT * FROM edits WHERE uuid = ?", _db_uuid(stack, first["edit_id"]))[0]
    assert first["edit_token"] not in {str(value) for value in row.values()}
    for body in (first, second):
        wait_for(client, body["edit_id"])


def test_cancelling_a_finished_edit_is_a_409_and_keeps_its_result(client: httpx.Client) -> None:
    body = submitted(client, "make it black and white")
    done = wait_for(client, body["edit_id"])
    assert done["status"] == "completed"

    response = cancel(client, body["edit_id"], body["edit_token"])
    assert_error(response, 409, "conflict", "already completed")
    after = client.get(f"/edit/{body['edit_id']}").json()
    assert after["status"] == "completed"
    assert httpx.get(after["edited_image_url"]).status_code == 200


def test_cancel_needs_the_edits_own_token_or_the_admin_token(client: httpx.Client) -> None:
    mine, other = submitted(client, "make it brighter"), submitted(client, "make it warmer")
    edit_id = mine["edit_id"]
    assert_error(cancel(client, edit_id, None), 401, "unauthorized", "edit_token")
    assert_error(cancel(client, edit_id, "not-the-token"), 403, "forbidden", "edit_token")
    assert_error(cancel(client, edit_id, other["edit_token"]), 403, "forbidden")
    # An unknown edit is a 404 whatever the token; a malformed id a 422.
    assert_error(cancel(client, str(uuid.uuid4()), mine["edit_token"]), 404, "not_found")
    assert_error(cancel(client, "not-an-id", mine["edit_token"]), 422, "invalid_input")
    for body in (mine, other):
        wait_for(client, body["edit_id"])
    # The admin token may cancel any edit (here: too late, so a 409, past the token check).
    assert_error(cancel(client, edit_id, ADMIN_TOKEN), 409, "conflict")


def _db_uuid(stack: Stack, edit_id: str) -> str:
    # SQLite keeps a UUID as 32 hex digits, PostgreSQL as a uuid (compared as text).
    return uuid.UUID(edit_id).hex if stack.mode == "embedded" else edit_id


# Pending and processing edits: stacks editing with the slow fake FLUX -----------------------

ONE_AT_A_TIME = {
    **STACK_ENV,
    "EDIT_PROVIDER": "flux",
    "BFL_API_KEY": "slow",  # the fake's tasks stay Pending until the edit is cancelled
    "MAX_WORKERS": "1",
    "CELERY_CONCURRENCY": "1",
}


@pytest.fixture(scope="module")
def fake_bfl() -> Iterator[FakeServer]:
    with FakeServer(create_fake_bfl()).start() as server:
        yield server


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def flux_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_bfl: FakeServer,
) -> Iterator[Stack]:
    with stack_of_its_own(
        request,
        tmp_path_factory.mktemp(f"cancel-{request.param}"),
        env={**ONE_AT_A_TIME, "BFL_API_URL": fake_bfl.url},
        redis_db=FLUX_STACK_REDIS_DB,
    ) as stack:
        yield stack


@pytest.fixture
def flux_client(flux_stack: Stack) -> Iterator[httpx.Client]:
    with flux_stack.client() as http:
        yield http
        # The slow fake never finishes a task: whatever a test (a failing one, say) left
        # unfinished would hold the stack's one worker for the next test.
        for row in flux_stack.rows(
            "SELECT uuid FROM edits WHERE status IN ('pending', 'processing')"
        ):
            cancel(http, str(uuid.UUID(str(row["uuid"]))), ADMIN_TOKEN)


def bfl_requests(fake: FakeServer) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{fake.url}/_fake/requests").json()
    return requests


def submissions_of(fake: FakeServer, prompt: str) -> int:
    return sum(
        1
        for entry in bfl_requests(fake)
        if entry["method"] == "POST" and (entry["json"] or {}).get("prompt") == prompt
    )


def polls_of(fake: FakeServer, task_id: str) -> int:
    return sum(
        1
        for entry in bfl_requests(fake)
        if entry["path"] == "/v1/get_result" and entry["query"].get("id") == task_id
    )


def wait_until_polled(
    client: httpx.Client, stack: Stack, fake: FakeServer, edit_id: str, *, polls: int = 2
) -> str:
    """The edit's BFL task id (as the edit recorded it), once the fake has been polled for it
    `polls` times."""
    deadline = time.monotonic() + 60
    while True:
        view = client.get(f"/edit/{edit_id}").json()
        assert view["status"] in ("pending", "processing"), view
        task_id = _task_of(stack, edit_id)
        if task_id is not None and polls_of(fake, task_id) >= polls:
            # Read again: the view above may be older than the polls just counted.
            view = client.get(f"/edit/{edit_id}").json()
            assert view["processing_stage"] == "ai_processing", view
            return task_id
        assert time.monotonic() < deadline, f"edit {edit_id} was never polled: {view}"
        time.sleep(0.1)


def _task_of(stack: Stack, edit_id: str) -> str | None:
    rows = stack.rows("SELECT provider_task FROM edits WHERE uuid = ?", _db_uuid(stack, edit_id))
    task = rows[0]["provider_task"] if rows else None
    if isinstance(task, str):  # SQLite hands JSON back as text
        task = json.loads(task)
    return str(task["id"]) if isinstance(task, dict) else None


def test_cancelling_a_processing_flux_edit_stops_its_polls_and_frees_the_worker(
    flux_client: httpx.Client, flux_stack: Stack, fake_bfl: FakeServer
) -> None:
    prompt = f"make it black and white {uuid.uuid4().hex[:8]}"
    body = submitted(flux_client, prompt)
    task_id = wait_until_polled(flux_client, flux_stack, fake_bfl, body["edit_id"])

    response = cancel(flux_client, body["edit_id"], body["edit_token"])
    assert response.status_code == 200, response.text
    polls_at_cancel = polls_of(fake_bfl, task_id)
    assert_cancelled(response.json())
    assert response.json() == flux_client.get(f"/edit/{body['edit_id']}").json() | {
        "updated_at": response.json()["updated_at"]
    }

    # Four poll intervals (BFL_POLL_INTERVAL_SECONDS is 0.5 s): BFL hears no more of it.
    time.sleep(2.0)
    assert polls_of(fake_bfl, task_id) == polls_at_cancel
    final = flux_client.get(f"/edit/{body['edit_id']}").json()
    assert_cancelled(final)
    assert submissions_of(fake_bfl, prompt) == 1
    # The stream of a cancelled edit is one final `done` event.
    events = read_events(flux_client, body["edit_id"], timeout=10)
    assert [event.kind for event in events] == ["done"]
    assert events[0].data is not None
    assert events[0].data["status"] == "cancelled"

    # Counted as a finished edit of its own kind.
    metrics = Scrape(
        flux_client.get("/metrics", headers=bearer(ADMIN_TOKEN)).raise_for_status().text
    )
    assert (metrics.value("mizual_edits_finished_total", status="cancelled") or 0) >= 1

    # The only worker is free again: the next edit is submitted to BFL and polled.
    following = submitted(flux_client, f"make it warmer {uuid.uuid4().hex[:8]}")
    wait_until_polled(flux_client, flux_stack, fake_bfl, following["edit_id"], polls=1)
    assert cancel(flux_client, following["edit_id"], following["edit_token"]).status_code == 200


def test_a_cancelled_pending_edit_never_starts(
    flux_client: httpx.Client, flux_stack: Stack, fake_bfl: FakeServer
) -> None:
    running = submitted(flux_client, f"make it brighter {uuid.uuid4().hex[:8]}")
    wait_until_polled(flux_client, flux_stack, fake_bfl, running["edit_id"], polls=1)
    waiting_prompt = f"make it darker {uuid.uuid4().hex[:8]}"
    waiting = submitted(flux_client, waiting_prompt)
    assert flux_client.get(f"/edit/{waiting['edit_id']}").json()["status"] == "pending"

    response = cancel(flux_client, waiting["edit_id"], waiting["edit_token"])
    assert response.status_code == 200, response.text
    assert_cancelled(response.json())
    assert response.json()["progress_percent"] == 100
    # Cancelling twice: the second is refused, saying it is cancelled already.
    assert_error(
        cancel(flux_client, waiting["edit_id"], waiting["edit_token"]),
        409,
        "conflict",
        "already been cancelled",
    )

    # Once the worker is free, the cancelled edit's job reaches it, and it does nothing.
    assert cancel(flux_client, running["edit_id"], ADMIN_TOKEN).status_code == 200
    probe = submitted(flux_client, f"make it cooler {uuid.uuid4().hex[:8]}")
    wait_until_polled(flux_client, flux_stack, fake_bfl, probe["edit_id"], polls=1)
    assert submissions_of(fake_bfl, waiting_prompt) == 0
    row = flux_stack.rows(
        "SELECT status, attempts, result_key FROM edits WHERE uuid = ?",
        _db_uuid(flux_stack, waiting["edit_id"]),
    )[0]
    assert (row["status"], row["attempts"], row["result_key"]) == ("cancelled", 0, None)
    # A cancelled edit is not continued nor rated.
    assert_error(
        submit(flux_client, "make it brighter", parent=waiting["edit_id"]),
        409,
        "conflict",
        "cancelled",
    )
    rating = flux_client.post("/feedback/", json={"edit_uuid": waiting["edit_id"], "rating": 1})
    assert_error(rating, 400, "not_ready", "it was cancelled")
    assert cancel(flux_client, probe["edit_id"], probe["edit_token"]).status_code == 200


def test_parallel_cancels_across_api_processes_cancel_once(
    flux_client: httpx.Client,
    flux_stack: Stack,
    fake_bfl: FakeServer,
    tmp_path: Path,
) -> None:
    """Eight cancels of one processing edit at once, through two API processes where the stack
    has several (distributed): one 200, seven 409, and the edit cancelled once."""
    body = submitted(flux_client, f"make it sepia {uuid.uuid4().hex[:8]}")
    wait_until_polled(flux_client, flux_stack, fake_bfl, body["edit_id"], polls=1)
    urls = [flux_stack.api.url]
    second: MizualServer | None = None
    if flux_stack.mode == "distributed":
        second = MizualServer(tmp_path / "api2", flux_stack.env, command="api").start()
        urls.append(second.url)
    try:
        address = flux_client.headers["X-Forwarded-For"]

        def cancel_through(url: str) -> httpx.Response:
            with httpx.Client(
                base_url=url, timeout=30, headers={"X-Forwarded-For": address}
            ) as http:
                return cancel(http, body["edit_id"], body["edit_token"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(cancel_through, [urls[n % len(urls)] for n in range(8)]))
    finally:
        if second is not None:
            second.stop()
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] + [409] * 7, [answer.text for answer in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert "already been cancelled" in answer.json()["detail"]
    row = flux_stack.rows(
        "SELECT status FROM edits WHERE uuid = ?", _db_uuid(flux_stack, body["edit_id"])
    )[0]
    assert row["status"] == "cancelled"
    assert_cancelled(flux_client.get(f"/edit/{body['edit_id']}").json())
