"""The main path through real HTTP: submit, poll, fetch the result."""

from __future__ import annotations

import httpx
import pyvips

from tests.support import (
    colourfulness,
    edit_and_wait,
    encode,
    fetch_image,
    gradient_image,
    jpeg_bytes,
    submit,
    wait_for,
)


def test_black_and_white_edit_completes_with_a_grayscale_progressive_jpeg(
    client: httpx.Client,
) -> None:
    original = jpeg_bytes()
    response = submit(client, "make it black and white", original)
    assert response.status_code == 200
    body = response.json()
    assert body["polling_url"] == f"/edit/{body['edit_id']}"

    status = wait_for(client, body["edit_id"])
    assert status["status"] == "completed", status
    assert status["processing_stage"] == "completed"
    assert status["progress_percent"] == 100
    assert (status["is_complete"], status["is_error"]) == (True, False)
    assert set(status["stage_timings_ms"]) >= {
        "initialization",
        "enhancing_prompt",
        "fetching_image",
        "ai_processing",
        "uploading_result",
    }

    http_response, result = fetch_image(client, status["edited_image_url"])
    assert http_response.headers["content-type"] == "image/jpeg"
    assert "max-age=31536000" in http_response.headers["cache-control"]
    assert http_response.content[:3] == b"\xff\xd8\xff"
    assert result.get("interlaced") == 1
    assert colourfulness(result) < 1.0
    _, source = fetch_image(client, status["original_image_url"])
    assert colourfulness(source) > 20


def test_status_fields_follow_the_reference(client: httpx.Client) -> None:
    response = submit(client, "make it brighter", jpeg_bytes())
    status = client.get(response.json()["polling_url"]).json()
    for field in (
        "uuid",
        "status",
        "processing_stage",
        "message",
        "progress_percent",
        "is_complete",
        "is_error",
        "edited_image_url",
        "created_at",
    ):
        assert field in status
    wait_for(client, response.json()["edit_id"])


def test_prompt_the_editor_cannot_do_fails_with_examples(client: httpx.Client) -> None:
    status = edit_and_wait(client, "add a pirate hat to the cat", jpeg_bytes())
    assert status["status"] == "failed"
    # Complete as the reference means it, "processing finished": a client polling until
    # is_complete stops on a failure too, and reads is_error to tell which.
    assert (status["is_complete"], status["is_error"]) == (True, True)
    assert status["edited_image_url"] is None
    assert "add a pirate hat" in status["message"]
    assert "black and white" in status["message"]  # an example of what works
    assert status["error_stage"] == "ai_processing"


def test_brighter_edit_raises_luminance(client: httpx.Client) -> None:
    original = jpeg_bytes()
    status = edit_and_wait(client, "please make it a lot brighter", original)
    assert status["status"] == "completed", status
    _, result = fetch_image(client, status["edited_image_url"])
    _, source = fetch_image(client, status["original_image_url"])
    assert result.avg() > source.avg() * 1.2


def test_rotate_90_swaps_dimensions(client: httpx.Client) -> None:
    status = edit_and_wait(client, "rotate 90 degrees clockwise", jpeg_bytes(320, 200))
    _, result = fetch_image(client, status["edited_image_url"])
    assert (result.width, result.height) == (200, 320)


def test_unknown_edit_is_404_and_malformed_id_is_422(client: httpx.Client) -> None:
    missing = client.get("/edit/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    malformed = client.get("/edit/not-a-uuid")
    assert malformed.status_code == 422
    assert "not a valid edit id" in malformed.json()["detail"]


def test_openapi_documentation_is_served(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/edit-image/", "/edit/{edit_uuid}", "/chain/{edit_uuid}", "/feedback/"} <= set(paths)


def test_a_phone_photo_held_upright_is_edited_and_returned_upright(client: httpx.Client) -> None:
    """Phones store a portrait photo as a landscape one with EXIF orientation 6 ("turn 90° to
    display"). Large enough that the strip decoder of a streamed plan could not turn it."""
    stored = gradient_image(1600, 1200).copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", 6)
    for prompt in ("make it black and white", "make it brighter"):
        status = edit_and_wait(client, prompt, encode(stored, ".jpg", Q=90))
        assert status["status"] == "completed", status
        _, result = fetch_image(client, status["edited_image_url"])
        assert (result.width, result.height) == (1200, 1600)
        assert result.get_typeof("orientation") == 0  # upright pixels, no EXIF left to obey
        # Turned clockwise: the stored top row (green 0) is now the right-hand column.
        assert result.crop(1150, 0, 50, 1600).avg() < result.crop(0, 0, 50, 1600).avg()


def test_blur_the_faces_returns_the_faces_blurred_and_a_faceless_photo_fails_by_name(
    client: httpx.Client,
) -> None:
    import numpy as np
    from skimage import data as samples

    astronaut = pyvips.Image.new_from_array(samples.astronaut()).copy(interpretation="srgb")
    sent = encode(astronaut, ".jpg", Q=95)
    status = edit_and_wait(client, "blur the faces", sent)
    assert status["status"] == "completed", status
    assert [step["found"] for step in status["edit_plan"]] == ["1 face found"]
    _, result = fetch_image(client, status["edited_image_url"])
    before = np.asarray(pyvips.Image.new_from_buffer(sent, "").numpy(), dtype=np.float64)
    after = np.asarray(result.numpy(), dtype=np.float64)
    change = np.abs(after - before).mean(axis=2)
    face = change[80:150, 190:260]  # the astronaut's face, labelled by hand
    far = np.concatenate([change[:, :60].ravel(), change[300:, 380:].ravel()])
    # Re-encoding alone (JPEG q85) moves the flag's and the suit's pixels by about 2.
    assert face.mean() > 15
    assert face.mean() > 5 * far.mean()

    rocket = pyvips.Image.new_from_array(samples.rocket()).copy(interpretation="srgb")
    status = edit_and_wait(client, "blur the faces", encode(rocket, ".jpg", Q=90))
    assert status["status"] == "failed"
    assert (status["is_complete"], status["is_error"]) == (True, True)
    assert status["message"] == "No faces were found in this photo, so nothing was blurred."
    assert status["edited_image_url"] is None
    assert status["error_stage"] == "ai_processing"


def test_a_step_on_the_left_half_changes_only_that_half_of_the_result(
    client: httpx.Client,
) -> None:
    photo = gradient_image(640, 480)
    status = edit_and_wait(client, "make the left half black and white", encode(photo, ".png"))
    assert status["status"] == "completed", status
    (step,) = status["edit_plan"]
    assert (step["operation"], step["region"]) == ("grayscale", "left half")
    _, result = fetch_image(client, status["edited_image_url"])
    assert (result.width, result.height) == (640, 480)
    assert colourfulness(result.crop(0, 0, 160, 480)) < 2
    assert colourfulness(result.crop(480, 0, 160, 480)) > 20
    assert (
        abs(
            colourfulness(result.crop(480, 0, 160, 480))
            - colourfulness(photo.crop(480, 0, 160, 480))
        )
        < 2
    )


def test_face_edits_submitted_at_once_all_get_the_faces_of_their_own_photo(
    client: httpx.Client,
) -> None:
    """The workers' threads share one face model: each edit must see its own photo's faces."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from skimage import data as samples

    astronaut = encode(pyvips.Image.new_from_array(samples.astronaut()), ".jpg", Q=95)
    rocket = encode(pyvips.Image.new_from_array(samples.rocket()), ".jpg", Q=95)
    photos = [astronaut, rocket] * 4

    def blur(photo: bytes) -> dict[str, object]:
        return edit_and_wait(client, "blur the faces", photo)

    with ThreadPoolExecutor(max_workers=len(photos)) as pool:
        statuses = list(pool.map(blur, photos))
    results = []
    for photo, status in zip(photos, statuses, strict=True):
        if photo is rocket:
            assert status["status"] == "failed", status
            assert status["message"] == "No faces were found in this photo, so nothing was blurred."
            continue
        assert status["status"] == "completed", status
        assert [step["found"] for step in status["edit_plan"]] == ["1 face found"]
        _, result = fetch_image(client, str(status["edited_image_url"]))
        results.append(np.asarray(result.numpy()))
    assert all(np.array_equal(result, results[0]) for result in results)
