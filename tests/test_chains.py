"""Chains through real HTTP: a child edit continues from its parent's result.

`GET /chain/...` allows 10 look-ups a minute per client and server, so the tests here run on
a server of their own (`chain_server`) rather than the shared one, whose budget other files use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import (
    UNKNOWN_ID,
    MizualServer,
    assert_error,
    colourfulness,
    edit_and_wait,
    encode,
    fetch_image,
    gradient_image,
    jpeg_bytes,
    running_server,
    submit,
    wait_for,
)


@pytest.fixture(scope="module")
def chain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    with running_server(tmp_path_factory.mktemp("chain-server")) as instance:
        yield instance


@pytest.fixture
def chain_client(chain_server: MizualServer) -> Iterator[httpx.Client]:
    with chain_server.client() as http:
        yield http


def completed(client: httpx.Client, prompt: str, image: bytes | None = None, **kwargs: Any) -> dict:
    status = edit_and_wait(client, prompt, image, **kwargs)
    assert status["status"] == "completed", status
    return status


def test_child_without_image_edits_the_parents_result(chain_client: httpx.Client) -> None:
    parent = completed(chain_client, "make it black and white", jpeg_bytes(320, 240))
    assert parent["chain_position"] == 1
    assert parent["parent_edit_uuid"] is None

    child = completed(chain_client, "rotate 90 degrees clockwise", parent=parent["uuid"])
    assert child["chain_position"] == 2
    assert child["parent_edit_uuid"] == parent["uuid"]
    # The child's input is the parent's result, not a copy of the parent's original.
    assert child["original_image_url"] == parent["edited_image_url"]

    _, parent_result = fetch_image(chain_client, parent["edited_image_url"])
    _, child_result = fetch_image(chain_client, child["edited_image_url"])
    assert (parent_result.width, parent_result.height) == (320, 240)
    assert (child_result.width, child_result.height) == (240, 320)  # rotated
    assert colourfulness(child_result) < 1.0  # still black and white
    # Pixel for pixel, the child's result is the parent's result turned clockwise (up to JPEG
    # noise): the bright bottom of the grey gradient is now on the left.
    difference = (child_result[0] - parent_result[0].rot90()).abs().avg()
    assert difference < 3, difference
    left = child_result[0].crop(0, 0, 40, 320).avg()
    right = child_result[0].crop(200, 0, 40, 320).avg()
    assert left > right + 50, (left, right)


def test_child_may_bring_its_own_image(chain_client: httpx.Client) -> None:
    parent = completed(chain_client, "make it black and white", jpeg_bytes(320, 240))
    own = encode(gradient_image(200, 100), ".png")
    child = completed(chain_client, "flip horizontally", own, parent=parent["uuid"])
    assert child["chain_position"] == 2
    assert child["parent_edit_uuid"] == parent["uuid"]
    assert child["original_image_url"] != parent["edited_image_url"]

    _, result = fetch_image(chain_client, child["edited_image_url"])
    assert (result.width, result.height) == (200, 100)  # its own size, not the parent's
    assert colourfulness(result) > 20  # its own colours: the parent's grey was not used
    # Flipped: red, which rose left to right, now falls.
    assert result[0].crop(0, 0, 20, 100).avg() > result[0].crop(180, 0, 20, 100).avg() + 100


def test_chain_reads_the_same_whole_chain_from_any_edit(chain_client: httpx.Client) -> None:
    root = completed(chain_client, "make it black and white", jpeg_bytes(160, 120))
    middle = completed(chain_client, "rotate 90 degrees clockwise", parent=root["uuid"])
    last = completed(chain_client, "make it a bit brighter", parent=middle["uuid"])
    ids = [root["uuid"], middle["uuid"], last["uuid"]]

    for edit_id in ids:
        response = chain_client.get(f"/chain/{edit_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["edit_uuid"] == edit_id
        assert body["chain_length"] == 3
        history = body["chain_history"]
        assert [item["edit"]["uuid"] for item in history] == ids
        assert [item["chain_position"] for item in history] == [1, 2, 3]
        assert [item["parent_edit_uuid"] for item in history] == [None, *ids[:2]]
        assert [item["edit"]["prompt"] for item in history] == [
            "make it black and white",
            "rotate 90 degrees clockwise",
            "make it a bit brighter",
        ]
        assert all(item["edit"]["status"] == "completed" for item in history)
        assert [item["edit"]["chain_position"] for item in history] == [1, 2, 3]


def test_chain_follows_the_newest_child_where_it_branches(chain_client: httpx.Client) -> None:
    root = completed(chain_client, "make it black and white", jpeg_bytes(160, 120))
    older = completed(chain_client, "flip horizontally", parent=root["uuid"])
    newer = completed(chain_client, "turn it upside down", parent=root["uuid"])
    assert older["chain_position"] == newer["chain_position"] == 2

    from_root = chain_client.get(f"/chain/{root['uuid']}").json()
    assert [item["edit"]["uuid"] for item in from_root["chain_history"]] == [
        root["uuid"],
        newer["uuid"],
    ]
    # From the older branch, that branch is the chain.
    from_older = chain_client.get(f"/chain/{older['uuid']}").json()
    assert from_older["chain_length"] == 2
    assert [item["edit"]["uuid"] for item in from_older["chain_history"]] == [
        root["uuid"],
        older["uuid"],
    ]


def test_unknown_parent_is_404_and_malformed_parent_is_422(chain_client: httpx.Client) -> None:
    missing = submit(chain_client, "rotate 90 degrees clockwise", parent=UNKNOWN_ID)
    assert_error(missing, 404, "not_found", "parent_edit_uuid", f"no edit {UNKNOWN_ID} exists")
    # An image of its own does not make an unknown parent acceptable.
    with_image = submit(chain_client, "flip it", jpeg_bytes(64, 48), parent=UNKNOWN_ID)
    assert_error(with_image, 404, "not_found", UNKNOWN_ID)

    malformed = submit(chain_client, "rotate 90 degrees clockwise", parent="not-a-uuid")
    assert_error(
        malformed, 422, "invalid_input", "parent_edit_uuid", "'not-a-uuid' is not a valid edit id"
    )


def test_failed_parent_is_409(chain_client: httpx.Client) -> None:
    parent = edit_and_wait(chain_client, "add a hat", jpeg_bytes(160, 120))
    assert parent["status"] == "failed", parent
    response = submit(chain_client, "rotate 90 degrees clockwise", parent=parent["uuid"])
    assert_error(response, 409, "conflict", parent["uuid"], "is failed", "only a completed edit")


def test_chain_of_unknown_edit_is_404_and_malformed_id_is_422(
    chain_client: httpx.Client,
) -> None:
    missing = chain_client.get(f"/chain/{UNKNOWN_ID}")
    assert_error(missing, 404, "not_found", f"no edit {UNKNOWN_ID} exists")
    malformed = chain_client.get("/chain/not-a-uuid")
    assert_error(malformed, 422, "invalid_input", "not a valid edit id")


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
