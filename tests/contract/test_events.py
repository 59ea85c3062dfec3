"""The event stream agrees with polling, in both stacks (distributed: relayed through Redis from
the Celery worker that runs the edit)."""

from __future__ import annotations

import httpx

from mizual.edits.stages import PIPELINE
from tests.support import UNKNOWN_ID, assert_error, jpeg_bytes, read_events, submit

ORDER = {stage: n for n, stage in enumerate(["pending", *PIPELINE, "completed", "failed"])}


def test_stream_ends_with_done_and_agrees_with_polling(client: httpx.Client) -> None:
    edit_id = submit(client, "make it black and white", jpeg_bytes()).json()["edit_id"]
    events = read_events(client, edit_id, timeout=60)

    assert events[-1].kind == "done"
    assert all(event.kind == "status" for event in events[:-1]), events
    assert events[-1].data == client.get(f"/edit/{edit_id}").json()
    assert events[-1].data is not None
    assert events[-1].data["status"] == "completed"
    assert all(event.data["is_complete"] is False for event in events[:-1] if event.data)
    ids = [event.id or 0 for event in events]
    assert ids == sorted(set(ids))
    stages = [ORDER[str(event.stage)] for event in events]
    assert stages == sorted(stages)

    # A client that has the final state is told there is nothing more (and not to reconnect).
    again = client.get(f"/edit/{edit_id}/events", headers={"Last-Event-ID": str(ids[-1])})
    assert again.status_code == 204


def test_failed_edit_ends_its_stream_with_done_and_the_reason(client: httpx.Client) -> None:
    edit_id = submit(client, "add a hat", jpeg_bytes()).json()["edit_id"]
    events = read_events(client, edit_id, timeout=60)
    assert events[-1].kind == "done"
    final = events[-1].data
    assert final is not None
    assert final["status"] == "failed"
    assert (final["is_complete"], final["is_error"]) == (True, True)
    assert "did not understand 'add a hat'" in final["message"]
    assert final == client.get(f"/edit/{edit_id}").json()


def test_stream_of_an_unknown_edit_is_404(client: httpx.Client) -> None:
    assert_error(client.get(f"/edit/{UNKNOWN_ID}/events"), 404, "not_found")
