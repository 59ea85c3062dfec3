"""Chains through real HTTP: a child edit continues from its parent's result."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support import (
    UNKNOWN_ID,
    assert_error,
    colourfulness,
    edit_and_wait,
    encode,
    fetch_image,
    gradient_image,
    jpeg_bytes,
    submit,
)


def completed(client: httpx.Client, prompt: str, image: bytes | None = None, **kwargs: Any) -> dict:
    status = edit_and_wait(client, prompt, image, **kwargs)
    assert status["status"] == "completed", status
    return status


def test_child_without_image_edits_the_parents_result(client: httpx.Client) -> None:
    parent = completed(client, "make it black and white", jpeg_bytes(320, 240))
    assert parent["chain_position"] == 1
    assert parent["parent_edit_uuid"] is None

    child = completed(client, "rotate 90 degrees clockwise", parent=parent["uuid"])
    assert child["chain_position"] == 2
    assert child["parent_edit_uuid"] == parent["uuid"]
    # The child's input is the parent's result, not a copy of the parent's original.
    # (Compared without the query: presigned URLs are signed afresh on every read.)
    assert urlsplit(child["original_image_url"]).path == urlsplit(parent["edited_image_url"]).path

    _, parent_result = fetch_image(client, parent["edited_image_url"])
    _, child_result = fetch_image(client, child["edited_image_url"])
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


def test_child_may_bring_its_own_image(client: httpx.Client) -> None:
    parent = completed(client, "make it black and white", jpeg_bytes(320, 240))
    own = encode(gradient_image(200, 100), ".png")
    child = completed(client, "flip horizontally", own, parent=parent["uuid"])
    assert child["chain_position"] == 2
    assert child["parent_edit_uuid"] == parent["uuid"]
    assert urlsplit(child["original_image_url"]).path != urlsplit(parent["edited_image_url"]).path

    _, result = fetch_image(client, child["edited_image_url"])
    assert (result.width, result.height) == (200, 100)  # its own size, not the parent's
    assert colourfulness(result) > 20  # its own colours: the parent's grey was not used
    # Flipped: red, which rose left to right, now falls.
    assert result[0].crop(0, 0, 20, 100).avg() > result[0].crop(180, 0, 20, 100).avg() + 100


def test_chain_reads_the_same_whole_chain_from_any_edit(client: httpx.Client) -> None:
    root = completed(client, "make it black and white", jpeg_bytes(160, 120))
    middle = completed(client, "rotate 90 degrees clockwise", parent=root["uuid"])
    last = completed(client, "make it a bit brighter", parent=middle["uuid"])
    ids = [root["uuid"], middle["uuid"], last["uuid"]]

    for edit_id in ids:
        response = client.get(f"/chain/{edit_id}")
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


def test_chain_follows_the_newest_child_where_it_branches(client: httpx.Client) -> None:
    root = completed(client, "make it black and white", jpeg_bytes(160, 120))
    older = completed(client, "flip horizontally", parent=root["uuid"])
    newer = completed(client, "turn it upside down", parent=root["uuid"])
    assert older["chain_position"] == newer["chain_position"] == 2

    from_root = client.get(f"/chain/{root['uuid']}").json()
    assert [item["edit"]["uuid"] for item in from_root["chain_history"]] == [
        root["uuid"],
        newer["uuid"],
    ]
    # From the older branch, that branch is the chain.
    from_older = client.get(f"/chain/{older['uuid']}").json()
    assert from_older["chain_length"] == 2
    assert [item["edit"]["uuid"] for item in from_older["chain_history"]] == [
        root["uuid"],
        older["uuid"],
    ]


def test_unknown_parent_is_404_and_malformed_parent_is_422(client: httpx.Client) -> None:
    missing = submit(client, "rotate 90 degrees clockwise", parent=UNKNOWN_ID)
    assert_error(missing, 404, "not_found", "parent_edit_uuid", f"no edit {UNKNOWN_ID} exists")
    # An image of its own does not make an unknown parent acceptable.
    with_image = submit(client, "flip it", jpeg_bytes(64, 48), parent=UNKNOWN_ID)
    assert_error(with_image, 404, "not_found", UNKNOWN_ID)

    malformed = submit(client, "rotate 90 degrees clockwise", parent="not-a-uuid")
    assert_error(
        malformed, 422, "invalid_input", "parent_edit_uuid", "'not-a-uuid' is not a valid edit id"
    )


def test_failed_parent_is_409(client: httpx.Client) -> None:
    parent = edit_and_wait(client, "add a hat", jpeg_bytes(160, 120))
    assert parent["status"] == "failed", parent
    response = submit(client, "rotate 90 degrees clockwise", parent=parent["uuid"])
    assert_error(response, 409, "conflict", parent["uuid"], "is failed", "only a completed edit")


def test_chain_of_unknown_edit_is_404_and_malformed_id_is_422(
    client: httpx.Client,
) -> None:
    missing = client.get(f"/chain/{UNKNOWN_ID}")
    assert_error(missing, 404, "not_found", f"no edit {UNKNOWN_ID} exists")
    malformed = client.get("/chain/not-a-uuid")
    assert_error(malformed, 422, "invalid_input", "not a valid edit id")
