"""edits.polls, the lean path of GET /edit/{uuid}: what it answers is what the route answers (body,
headers, CORS), it counts each poll once, and it leaves to the route every case it cannot
answer from the cache."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mizual.app import MizualApp, create_app
from mizual.kit.db.migrate import migrate_database
from mizual.settings import load_settings
from tests.support import jpeg_bytes

ORIGIN = "https://mizual.ai"


@pytest.fixture
def app(tmp_path: Path) -> MizualApp:
    settings = load_settings(
        DATA_DIR=str(tmp_path / "data"),
        EDIT_PROVIDER="noop",
        RATE_LIMIT_STATUS_CHECKS_PER_MINUTE="6",
    )
    migrate_database(settings)
    made = create_app(settings)
    assert isinstance(made, MizualApp)
    return made


@pytest.fixture
def client(app: MizualApp) -> Iterator[TestClient]:
    with TestClient(app) as http:
        yield http


def completed_edit(client: TestClient, prompt: str) -> str:
    return completed(client, prompt)["edit_id"]


def completed(client: TestClient, prompt: str) -> dict[str, str]:
    """The submission's answer, once the edit has completed."""
    image = base64.b64encode(jpeg_bytes(64, 48)).decode()
    answer = client.post("/edit-image/", json={"prompt": prompt, "image": image})
    assert answer.status_code == 200, answer.text
    accepted: dict[str, str] = answer.json()
    edit_id = accepted["edit_id"]
    deadline = time.monotonic() + 30
    # Waited for on the database, so that the polls below are the only ones counted.
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    while runtime.edit_status.record(uuid.UUID(edit_id)).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return accepted


def by_route(app: MizualApp, client: TestClient, path: str, **options: Any) -> Any:
    lean, app.polls = app.polls, None
    try:
        return client.get(path, **options)
    finally:
        app.polls = lean


def test_a_lean_answer_is_the_routes_answer(app: MizualApp, client: TestClient) -> None:
    edit_id = completed_edit(client, "make it warmer, like a café in the evening")
    for headers in ({}, {"Origin": ORIGIN}, {"Origin": "https://elsewhere.example"}):
        lean = client.get(f"/edit/{edit_id}", headers=headers)
        route = by_route(app, client, f"/edit/{edit_id}", headers=headers)
        assert lean.status_code == route.status_code == 200
        assert lean.content == route.content  # byte for byte
        assert lean.json()["status"] == "completed"
        assert lean.json()["prompt"] == "make it warmer, like a café in the evening"
        assert lean.headers.multi_items() == route.headers.multi_items()
    assert (
        client.get(f"/edit/{edit_id}", headers={"Origin": ORIGIN}).headers[
            "access-control-allow-origin"
        ]
        == ORIGIN
    )


def test_the_lean_path_answers_a_cached_status_itself(app: MizualApp, client: TestClient) -> None:
    edit_id = completed_edit(client, "flip it")
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/edit/{edit_id}",
        "headers": [],
        "client": ("192.0.2.1", 5000),
    }
    assert app.polls is not None
    assert asyncio.run(app.polls.answered(scope, send)) is True
    assert sent[0]["status"] == 200
    assert b'"status":"completed"' in sent[1]["body"]
    # Not an edit id, another method, a longer path: the route's.
    for other in ({"path": "/edit/not-an-id"}, {"method": "POST"}, {"path": f"/edit/{edit_id}/"}):
        assert asyncio.run(app.polls.answered({**scope, **other}, send)) is False


def test_each_poll_is_counted_once_whichever_path_answers(
    app: MizualApp, client: TestClient
) -> None:
    edit_id = completed_edit(client, "flip it")
    unknown = str(uuid.uuid4())
    # Lean, route (a miss: unknown edit), lean, route forced, lean, route: six of six allowed.
    codes = [
        client.get(f"/edit/{edit_id}").status_code,
        client.get(f"/edit/{unknown}").status_code,
        client.get(f"/edit/{edit_id}").status_code,
        by_route(app, client, f"/edit/{edit_id}").status_code,
        client.get(f"/edit/{edit_id}").status_code,
        client.get(f"/edit/{unknown}").status_code,
    ]
    assert codes == [200, 404, 200, 200, 200, 404]
    refused = client.get(f"/edit/{edit_id}")
    assert refused.status_code == 429
    assert "at most 6 status checks a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert by_route(app, client, f"/edit/{edit_id}").status_code == 429


def test_a_deleted_edit_is_gone_on_either_path(app: MizualApp, client: TestClient) -> None:
    answer = completed(client, "flip it")
    edit_id = answer["edit_id"]
    assert client.get(f"/edit/{edit_id}").status_code == 200  # answered from the cache
    deleted = client.delete(
        f"/edit/{edit_id}", headers={"Authorization": f"Bearer {answer['edit_token']}"}
    )
    assert deleted.status_code == 204, deleted.text
    gone = client.get(f"/edit/{edit_id}")
    assert gone.status_code == 410
    assert "was deleted" in gone.json()["detail"]
