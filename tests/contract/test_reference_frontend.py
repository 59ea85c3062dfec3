"""The reference's public web frontend keeps working: its requests, as it sends them, and its
reading of the answers (app/editor-client.tsx of mizual-frontend).

It posts `{prompt, image: <data URL>, parent_edit_uuid?}` to `/edit-image/` from its own origin,
polls `/edit/{id}` (every 2 s; faster here) showing `message` and `progress_percent`, takes the
result when `is_complete && !is_error && edited_image_url`, shows the failure when `is_error ||
status == "failed"`, and continues a chain by posting the result, fetched back as a data URL,
with `parent_edit_uuid`.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pyvips

from tests.support import colourfulness, gradient_image, jpeg_bytes

ORIGIN = "https://mizual.ai"  # the production frontend (any origin is allowed in preview)


def post_edit(client: httpx.Client, prompt: str, image: str, parent: str | None) -> str:
    body: dict[str, Any] = {"prompt": prompt, "image": image}
    if parent is not None:  # JSON.stringify drops a parent_edit_uuid that is undefined
        body["parent_edit_uuid"] = parent
    response = client.post(
        "/edit-image/", json=body, headers={"Origin": ORIGIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") in (ORIGIN, "*")
    return str(response.json()["edit_id"])


def poll_like_the_frontend(client: httpx.Client, edit_id: str) -> tuple[str, dict[str, Any]]:
    """("done", body) or ("failed", body), deciding as the frontend's poll loop decides."""
    deadline = time.monotonic() + 60
    shown: list[tuple[str, int]] = []
    while time.monotonic() < deadline:
        response = client.get(f"/edit/{edit_id}", headers={"Origin": ORIGIN})
        assert response.is_success, response.text  # a non-ok poll ends the frontend's loop
        data = response.json()
        shown.append((data["message"] or "Processing image...", data["progress_percent"] or 0))
        if data["is_complete"] and not data["is_error"] and data["edited_image_url"]:
            assert all(isinstance(percent, int) for _, percent in shown)
            return "done", data
        if data["is_error"] or data["status"] == "failed":
            return "failed", data
        time.sleep(0.1)
    raise AssertionError(f"the frontend would still be polling {edit_id}: {shown[-1]}")


def as_data_url(client: httpx.Client, url: str) -> str:
    """What the frontend's ensureDataUrl makes of a result URL: fetch, then FileReader."""
    response = client.get(url, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    mime = response.headers["content-type"].split(";")[0]
    return f"data:{mime};base64,{base64.b64encode(response.content).decode()}"


def test_an_edit_and_its_continuation_as_the_frontend_makes_them(client: httpx.Client) -> None:
    photo = f"data:image/jpeg;base64,{base64.b64encode(jpeg_bytes(320, 240)).decode()}"
    first = post_edit(client, "make it black and white", photo, parent=None)
    outcome, step1 = poll_like_the_frontend(client, first)
    assert outcome == "done", step1
    assert step1["message"] == "Your edited image is ready!"
    assert step1["progress_percent"] == 100

    result = as_data_url(client, step1["edited_image_url"])
    second = post_edit(client, "rotate 90 degrees clockwise", result, parent=first)
    outcome, step2 = poll_like_the_frontend(client, second)
    assert outcome == "done", step2

    image = pyvips.Image.new_from_buffer(client.get(step2["edited_image_url"]).content, "")
    assert (image.width, image.height) == (240, 320)  # rotated ...
    assert colourfulness(image) < 1.0  # ... from step 1's grey result
    chain = client.get(f"/chain/{second}").json()
    assert [entry["edit"]["uuid"] for entry in chain["chain_history"]] == [first, second]


def test_a_failed_edit_stops_the_frontend_with_its_message(client: httpx.Client) -> None:
    photo = gradient_image(64, 48).write_to_buffer(".png")
    image = f"data:image/png;base64,{base64.b64encode(photo).decode()}"
    outcome, body = poll_like_the_frontend(client, post_edit(client, "add a hat", image, None))
    assert outcome == "failed"
    assert body["is_complete"] is True  # processing has finished: the loop stops either way
    assert "did not understand 'add a hat'" in body["message"]


def test_an_upload_the_frontend_cannot_send_shows_the_detail(client: httpx.Client) -> None:
    # The frontend shows `detail` of a refused upload as the error message.
    response = client.post(
        "/edit-image/",
        json={"prompt": "make it brighter", "image": "data:image/gif;base64,R0lGODlhAQABAAAAACw="},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 415
    assert "GIF" in response.json()["detail"]
    assert response.headers.get("access-control-allow-origin") in (ORIGIN, "*")
