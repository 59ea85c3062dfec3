"""Deleting an edit (`DELETE /edit/{uuid}`), through real HTTP, on both stacks: its images leave
the storage (local files, objects of the S3-API server), its prompt and feedback the database,
and it answers 410 from then on. Finished edits: the suite's stacks. Deleting an edit in flight,
and the retention of images: tests/contract/test_retention.py."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.contract.conftest import ADMIN_TOKEN, Stack
from tests.support import assert_error, jpeg_bytes, submit, wait_for


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def delete(
    client: httpx.Client, edit_id: str, token: str | None, *, cascade: bool = False
) -> httpx.Response:
    return client.delete(
        f"/edit/{edit_id}",
        headers=bearer(token) if token is not None else {},
        params={"cascade": "true"} if cascade else None,
    )


def completed(client: httpx.Client, prompt: str, *, parent: str | None = None) -> dict[str, Any]:
    """A completed edit's status view, with the `edit_token` its submission answered."""
    response = submit(client, prompt, None if parent else jpeg_bytes(64, 48), parent=parent)
    assert response.status_code == 200, response.text
    view = wait_for(client, response.json()["edit_id"])
    assert view["status"] == "completed", view
    return view | {"edit_token": response.json()["edit_token"]}


def db_uuid(stack: Stack, edit_id: str) -> str:
    # SQLite keeps a UUID as 32 hex digits, PostgreSQL as a uuid (compared as text).
    return uuid.UUID(edit_id).hex if stack.mode == "embedded" else edit_id


def row_of(stack: Stack, edit_id: str) -> dict[str, Any]:
    return stack.rows("SELECT * FROM edits WHERE uuid = ?", db_uuid(stack, edit_id))[0]


def object_exists(stack: Stack, key: str) -> bool:
    """The object under `key`, looked for where the stack keeps images (not over its URLs)."""
    if stack.mode == "embedded":
        return (stack.api.data_dir / "images" / key).exists()
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.env["S3_ENDPOINT_URL"],
        region_name=stack.env["S3_REGION_NAME"],
        aws_access_key_id=stack.env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["S3_SECRET_ACCESS_KEY"],
    )
    try:
        s3.head_object(Bucket=stack.env["S3_BUCKET_NAME"], Key=key)
    except ClientError:
        return False
    return True


def assert_not_served(url: str) -> None:
    """A local image: 404; an S3 object: its presigned URL answers NoSuchKey (404, or 403)."""
    response = httpx.get(url, timeout=30)
    assert response.status_code in (403, 404), (url, response.status_code)


def assert_gone(client: httpx.Client, edit_id: str) -> None:
    assert_error(client.get(f"/edit/{edit_id}"), 410, "gone", "deleted")
    assert_error(client.get(f"/edit/{edit_id}/events"), 410, "gone")
    assert_error(client.get(f"/chain/{edit_id}"), 410, "gone")


def test_a_deleted_edit_answers_410_and_its_images_prompt_and_feedback_are_gone(
    client: httpx.Client, stack: Stack
) -> None:
    view = completed(client, "make it black and white")
    edit_id = view["uuid"]
    rating = client.post(
        "/feedback/", json={"edit_uuid": edit_id, "rating": 0, "feedback_text": "too grey"}
    )
    assert rating.status_code == 200, rating.text
    assert client.get(f"/feedback/{edit_id}").status_code == 200  # now cached
    assert client.get(f"/chain/{edit_id}").status_code == 200
    before = row_of(stack, edit_id)
    for url in (view["original_image_url"], view["edited_image_url"]):
        assert httpx.get(url, timeout=30).status_code == 200

    response = delete(client, edit_id, view["edit_token"])
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_gone(client, edit_id)
    # Its feedback went with it, the cached copy too.
    assert_error(client.get(f"/feedback/{edit_id}"), 410, "gone")
    assert (
        stack.rows("SELECT * FROM edit_feedback WHERE edit_uuid = ?", db_uuid(stack, edit_id)) == []
    )
    for url in (view["original_image_url"], view["edited_image_url"]):
        assert_not_served(url)
    for key in (before["original_key"], before["result_key"]):
        assert not object_exists(stack, key), key
    row = row_of(stack, edit_id)
    assert row["status"] == "deleted"
    assert row["prompt"] == ""
    assert (row["enhanced_prompt"], row["prompt_note"], row["edit_plan"]) == (None, None, None)
    assert row["webhook_url"] is None
    assert row["images_removed_at"] is not None
    # Deleted once: a second deletion, a cancel and a new chain from it are refused.
    assert_error(delete(client, edit_id, view["edit_token"]), 410, "gone")
    assert_error(
        client.post(f"/edit/{edit_id}/cancel", headers=bearer(view["edit_token"])), 410, "gone"
    )
    assert_error(submit(client, "make it warmer", parent=edit_id), 409, "conflict", "deleted")


def test_deleting_needs_the_edits_own_token_or_the_admin_token(client: httpx.Client) -> None:
    mine, other = completed(client, "make it brighter"), completed(client, "make it warmer")
    edit_id = mine["uuid"]
    assert_error(delete(client, edit_id, None), 401, "unauthorized", "edit_token")
    assert_error(delete(client, edit_id, "not-the-token"), 403, "forbidden", "edit_token")
    assert_error(delete(client, edit_id, other["edit_token"]), 403, "forbidden")
    assert_error(delete(client, str(uuid.uuid4()), mine["edit_token"]), 404, "not_found")
    assert_error(delete(client, "not-an-id", mine["edit_token"]), 422, "invalid_input")
    # Refused requests removed nothing.
    assert httpx.get(mine["edited_image_url"], timeout=30).status_code == 200
    assert delete(client, edit_id, ADMIN_TOKEN).status_code == 204
    assert_gone(client, edit_id)
    assert delete(client, other["uuid"], other["edit_token"]).status_code == 204


def test_an_edit_with_children_is_kept_unless_the_deletion_cascades(
    client: httpx.Client, stack: Stack
) -> None:
    parent = completed(client, "make it black and white")
    child = completed(client, "make it brighter", parent=parent["uuid"])
    assert client.get(f"/chain/{parent['uuid']}").json()["chain_length"] == 2  # cached

    assert_error(
        delete(client, parent["uuid"], parent["edit_token"]), 409, "conflict", "1 later edit"
    )
    # The child alone: its original is its parent's result, which stays.
    assert delete(client, child["uuid"], child["edit_token"]).status_code == 204
    assert httpx.get(parent["edited_image_url"], timeout=30).status_code == 200
    assert_not_served(child["edited_image_url"])
    chain = client.get(f"/chain/{parent['uuid']}").json()
    assert [member["edit"]["uuid"] for member in chain["chain_history"]] == [parent["uuid"]]

    # Two generations below it: all three go, the deepest first, with ?cascade=true.
    second = completed(client, "make it warmer", parent=parent["uuid"])
    third = completed(client, "make it cooler", parent=second["uuid"])
    rows = [row_of(stack, edit["uuid"]) for edit in (parent, second, third)]
    keys = [key for row in rows for key in (row["original_key"], row["result_key"])]
    assert_error(
        delete(client, parent["uuid"], parent["edit_token"]), 409, "conflict", "2 later edit"
    )
    response = delete(client, parent["uuid"], parent["edit_token"], cascade=True)
    assert response.status_code == 204, response.text
    for edit in (parent, second, third):
        assert_gone(client, edit["uuid"])
        assert_not_served(edit["edited_image_url"])
        assert row_of(stack, edit["uuid"])["status"] == "deleted"
    for key in keys:
        assert not object_exists(stack, key), key


def test_two_deletions_at_once_delete_once(client: httpx.Client, stack: Stack) -> None:
    view = completed(client, "make it sepia")
    edit_id, token = view["uuid"], view["edit_token"]
    address = client.headers["X-Forwarded-For"]

    def delete_it(_n: int) -> httpx.Response:
        with stack.client(address) as http:
            return delete(http, edit_id, token)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(delete_it, range(4)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [204, 410, 410, 410], [answer.text for answer in answers]
    assert_gone(client, edit_id)
    assert row_of(stack, edit_id)["status"] == "deleted"
