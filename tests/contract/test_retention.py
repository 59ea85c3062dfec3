"""The retention of images (IMAGE_RETENTION_HOURS), and deleting an edit in flight, through
real HTTP, on both stacks.

These need edits that stay processing for a while: stacks of this module's own edit with the
noop editor after NOOP_EDIT_DELAY_SECONDS, keep images for 1.8 s (IMAGE_RETENTION_HOURS
0.0005) and sweep every second. The default (keep for ever) is checked on an embedded server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FLUX_STACK_REDIS_DB
from tests.contract.conftest import STACK_ENV, Stack, stack_of_its_own
from tests.contract.test_delete import (
    assert_gone,
    assert_not_served,
    delete,
    object_exists,
    row_of,
)
from tests.support import MizualServer, jpeg_bytes, submit, wait_for

EDIT_SECONDS = 4.0
EXPIRING = {
    **STACK_ENV,
    "EDIT_PROVIDER": "noop",
    "NOOP_EDIT_DELAY_SECONDS": str(EDIT_SECONDS),
    "IMAGE_RETENTION_HOURS": "0.0005",  # 1.8 s
    "SWEEP_INTERVAL_SECONDS": "1",
}


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def expiring_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    # The Redis database of test_cancel's FLUX stack, which is stopped and emptied by now.
    with stack_of_its_own(
        request,
        tmp_path_factory.mktemp(f"retention-{request.param}"),
        env=EXPIRING,
        redis_db=FLUX_STACK_REDIS_DB,
    ) as stack:
        yield stack


@pytest.fixture
def slow_client(expiring_stack: Stack) -> Iterator[httpx.Client]:
    with expiring_stack.client() as http:
        yield http


def submitted(client: httpx.Client, prompt: str) -> dict[str, Any]:
    response = submit(client, prompt, jpeg_bytes(64, 48))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    client: httpx.Client, edit_id: str, status: str, *, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/edit/{edit_id}").raise_for_status().json()
        if view["status"] == status:
            return view
        assert time.monotonic() < deadline, f"edit {edit_id} never became {status}: {view}"
        time.sleep(0.1)


def test_a_finished_edit_expires_and_one_in_flight_is_left_until_it_has_finished(
    slow_client: httpx.Client, expiring_stack: Stack
) -> None:
    prompt = f"make it black and white {uuid.uuid4().hex[:8]}"
    body = submitted(slow_client, prompt)
    edit_id = body["edit_id"]
    processing = wait_for_status(slow_client, edit_id, "processing")
    # Older than the retention period, and sweeps have run: untouched while it is processing.
    time.sleep(2.5)
    view = slow_client.get(f"/edit/{edit_id}").json()
    assert view["status"] == "processing", view
    assert httpx.get(processing["original_image_url"], timeout=30).status_code == 200
    original_key = row_of(expiring_stack, edit_id)["original_key"]
    assert object_exists(expiring_stack, original_key)

    # Once it has finished, the next round removes its images.
    expired = wait_for_status(slow_client, edit_id, "expired", timeout=EDIT_SECONDS + 15)
    assert (expired["is_complete"], expired["is_error"]) == (True, False)
    assert expired["processing_stage"] == "expired"
    assert "removed 2 seconds after it was made" in expired["message"], expired
    assert expired["edited_image_url"] is None
    assert expired["original_image_url"] is None
    assert expired["result"] is None
    assert expired["prompt"] == prompt  # kept, with the timings
    assert expired["stage_timings_ms"], expired
    assert expired["finished_at"] is not None
    row = row_of(expiring_stack, edit_id)
    deadline = time.monotonic() + 10
    while row["images_removed_at"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        row = row_of(expiring_stack, edit_id)
    assert row["images_removed_at"] is not None
    for key in (row["original_key"], row["result_key"]):
        assert key is not None
        assert not object_exists(expiring_stack, key), key
    assert_not_served(processing["original_image_url"])
    # An expired edit is not continued; it may still be deleted.
    refused = submit(slow_client, "make it warmer", parent=edit_id)
    assert refused.status_code == 409, refused.text
    assert "expired" in refused.json()["detail"]
    assert delete(slow_client, edit_id, body["edit_token"]).status_code == 204
    assert_gone(slow_client, edit_id)


def test_deleting_a_processing_edit_cancels_it_and_leaves_no_result(
    slow_client: httpx.Client, expiring_stack: Stack
) -> None:
    body = submitted(slow_client, f"make it sepia {uuid.uuid4().hex[:8]}")
    edit_id = body["edit_id"]
    processing = wait_for_status(slow_client, edit_id, "processing")

    response = delete(slow_client, edit_id, body["edit_token"])
    assert response.status_code == 204, response.text
    assert_gone(slow_client, edit_id)
    assert_not_served(processing["original_image_url"])
    # Past the time the edit would have taken: it stopped, and stored no result.
    time.sleep(EDIT_SECONDS + 1)
    row = row_of(expiring_stack, edit_id)
    assert (row["status"], row["result_key"], row["prompt"]) == ("deleted", None, "")
    assert not object_exists(expiring_stack, row["original_key"])
    assert_no_result_stored(expiring_stack, edit_id)


def assert_no_result_stored(stack: Stack, edit_id: str) -> None:
    if stack.mode == "embedded":
        left = list((stack.api.data_dir / "images").rglob(f"{edit_id}*"))
        assert left == [], left
        return
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.env["S3_ENDPOINT_URL"],
        region_name=stack.env["S3_REGION_NAME"],
        aws_access_key_id=stack.env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["S3_SECRET_ACCESS_KEY"],
    )
    keys = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=stack.env["S3_BUCKET_NAME"]).get("Contents", [])
    ]
    assert [key for key in keys if edit_id in key] == []


def test_by_default_a_sweep_round_removes_nothing(tmp_path: Path) -> None:
    """IMAGE_RETENTION_HOURS unset (0, keep): rounds come and go, the images stay."""
    env = {**STACK_ENV, "SWEEP_INTERVAL_SECONDS": "0.5"}
    server = MizualServer(tmp_path, env).start()
    try:
        with server.client() as client:
            response = submit(client, "make it brighter", jpeg_bytes(64, 48))
            assert response.status_code == 200, response.text
            done = wait_for(client, response.json()["edit_id"])
            assert done["status"] == "completed"
            time.sleep(2.0)  # four sweep rounds
            after = client.get(f"/edit/{done['uuid']}").json()
            assert after["status"] == "completed"
            for url in (after["original_image_url"], after["edited_image_url"]):
                assert httpx.get(url, timeout=30).status_code == 200
    finally:
        server.stop()
