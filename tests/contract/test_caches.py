"""What the caches may never do, in either mode: show an edit older than the database has it,
or a chain without its newest edit."""

from __future__ import annotations

import uuid

import httpx

from mizual.edits.stages import PROGRESS_PERCENT
from tests.contract.conftest import Stack
from tests.support import edit_and_wait, jpeg_bytes, submit, wait_for


def database_progress(stack: Stack, edit_id: str) -> int:
    key = uuid.UUID(edit_id).hex if stack.mode == "embedded" else edit_id
    (row,) = stack.rows("SELECT processing_stage FROM edits WHERE uuid = ?", key)
    stage = row["processing_stage"]
    return 100 if stage == "failed" else PROGRESS_PERCENT[stage]


def test_a_poll_never_shows_an_older_stage_than_the_database(
    stack: Stack, client: httpx.Client
) -> None:
    # Big enough that the edit spends a while in its stages while being polled.
    response = submit(
        client, "blur it a lot and then make it black and white", jpeg_bytes(3000, 2000)
    )
    assert response.status_code == 200, response.text
    edit_id = response.json()["edit_id"]
    seen: list[int] = []
    while True:
        before = database_progress(stack, edit_id)  # read first: the poll must be at least this
        status = client.get(f"/edit/{edit_id}").json()
        assert status["progress_percent"] >= before, (status, before)
        seen.append(status["progress_percent"])
        if status["is_complete"] or status["is_error"]:
            break
    assert status["status"] == "completed", status
    assert seen == sorted(seen)  # and it never goes backwards
    assert len(set(seen)) >= 2, seen  # the edit was watched in flight, not only at the end


def test_a_chain_read_before_it_grows_shows_the_new_edit_at_once(
    client: httpx.Client,
) -> None:
    root = edit_and_wait(client, "make it black and white", jpeg_bytes(160, 120))
    child = edit_and_wait(client, "flip horizontally", parent=root["uuid"])
    for edit_id in (root["uuid"], child["uuid"]):  # now cached, from both ends
        assert client.get(f"/chain/{edit_id}").json()["chain_length"] == 2

    grandchild = submit(client, "rotate 90 degrees clockwise", parent=child["uuid"]).json()
    for edit_id in (root["uuid"], child["uuid"]):
        chain = client.get(f"/chain/{edit_id}").json()
        assert [item["edit"]["uuid"] for item in chain["chain_history"]] == [
            root["uuid"],
            child["uuid"],
            grandchild["edit_id"],
        ]
    # The new edit's status in the chain follows it to completion, not a cached "pending".
    assert wait_for(client, grandchild["edit_id"])["status"] == "completed"
    chain = client.get(f"/chain/{root['uuid']}").json()
    assert chain["chain_history"][-1]["edit"]["status"] == "completed"
    assert chain["chain_history"][-1]["edit"]["progress_percent"] == 100
