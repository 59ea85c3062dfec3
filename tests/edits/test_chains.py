"""Chain rules that need a server configured for them (one worker, a short chain limit)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import (
    assert_error,
    edit_and_wait,
    fetch_image,
    jpeg_bytes,
    submit,
    wait_for,
)


def completed(client: httpx.Client, prompt: str, image: bytes | None = None, **kwargs: Any) -> dict:
    status = edit_and_wait(client, prompt, image, **kwargs)
    assert status["status"] == "completed", status
    return status


def test_parent_still_pending_or_processing_is_409(make_server) -> None:  # type: ignore[no-untyped-def]
    # One worker and a queue of big edits: the last one waits its turn for a while.
    server = make_server({"MAX_WORKERS": "1"})
    big = jpeg_bytes(4000, 3000)
    with server.client() as client:
        queued = []
        for _ in range(4):
            response = submit(client, "blur it a lot", big)
            assert response.status_code == 200, response.text
            queued.append(response.json()["edit_id"])
        parent_id = queued[-1]

        refused = submit(client, "rotate 90 degrees clockwise", parent=parent_id)
        # Checked after the refusal: an edit never goes back from completed, so the parent
        # was not completed when the child was submitted either.
        parent_then = client.get(f"/edit/{parent_id}").json()
        assert parent_then["status"] in {"pending", "processing"}, parent_then
        assert parent_then["is_complete"] is False
        assert_error(refused, 409, "conflict", parent_id, "not finished yet")

        # Once the parent completes, the same child is accepted.
        assert wait_for(client, parent_id, timeout=60)["status"] == "completed"
        accepted = submit(client, "rotate 90 degrees clockwise", parent=parent_id)
        assert accepted.status_code == 200, accepted.text
        child = wait_for(client, accepted.json()["edit_id"], timeout=60)
        assert child["status"] == "completed", child
        assert child["chain_position"] == 2
        _, result = fetch_image(client, child["edited_image_url"])
        assert (result.width, result.height) == (3000, 4000)


def test_max_chain_length_refuses_the_next_edit(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"MAX_CHAIN_LENGTH": "3"})
    with server.client() as client:
        first = completed(client, "make it black and white", jpeg_bytes(160, 120))
        second = completed(client, "flip horizontally", parent=first["uuid"])
        third = completed(client, "make it a bit brighter", parent=second["uuid"])
        assert third["chain_position"] == 3

        fourth = submit(client, "rotate 90 degrees clockwise", parent=third["uuid"])
        detail = assert_error(fourth, 422, "chain_too_long", "parent_edit_uuid")
        assert "already has 3 edits" in detail
        assert "the most allowed is 3" in detail
        # Bringing an image does not get round the limit either.
        with_image = submit(client, "flip it", jpeg_bytes(64, 48), parent=third["uuid"])
        assert_error(with_image, 422, "chain_too_long", "the most allowed is 3")

        # The refused edits were not added to the chain.
        chain = client.get(f"/chain/{first['uuid']}").json()
        assert chain["chain_length"] == 3
        assert [item["edit"]["uuid"] for item in chain["chain_history"]] == [
            first["uuid"],
            second["uuid"],
            third["uuid"],
        ]
        # A branch that stays within the limit is still accepted, and so is a new chain.
        branch = completed(client, "turn it upside down", parent=second["uuid"])
        assert branch["chain_position"] == 3
        fresh = completed(client, "rotate 90 degrees clockwise", jpeg_bytes(64, 48))
        assert fresh["chain_position"] == 1
