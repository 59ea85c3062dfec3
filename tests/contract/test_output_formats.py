"""The result formats through real HTTP (`output_format`, `output_quality`): each stored, served
with its type and described by the status view; transparency never lost; every format usable as
a child edit's input."""

from __future__ import annotations

from typing import Any

import httpx
import pyvips

from tests.support import (
    assert_error,
    colourfulness,
    data_url,
    encode,
    gradient_image,
    jpeg_bytes,
    wait_for,
)

MAGIC = {
    "jpeg": lambda data: data[:3] == b"\xff\xd8\xff",
    "png": lambda data: data[:8] == b"\x89PNG\r\n\x1a\n",
    "webp": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
    "avif": lambda data: data[4:12] == b"ftypavif",
}


def start(
    client: httpx.Client,
    image: bytes | None = None,
    *,
    prompt: str = "make it black and white",
    **fields: Any,
) -> str:
    body: dict[str, Any] = {"prompt": prompt, **fields}
    if image is not None:
        body["image"] = data_url(image, "image/png" if image[:4] == b"\x89PNG" else "image/jpeg")
    response = client.post("/edit-image/", json=body)
    assert response.status_code == 200, response.text
    edit_id: str = response.json()["edit_id"]
    return edit_id


def result_of(client: httpx.Client, edit_id: str) -> tuple[dict[str, Any], pyvips.Image]:
    """The completed edit's status and its result, checked against the status' `result`."""
    status = wait_for(client, edit_id)
    assert status["status"] == "completed", status
    info = status["result"]
    response = httpx.get(status["edited_image_url"], timeout=30)
    response.raise_for_status()
    data = response.content
    assert MAGIC[info["format"]](data), data[:16]
    assert response.headers["content-type"] == f"image/{info['format']}"
    assert len(data) == info["bytes"]
    image = pyvips.Image.new_from_buffer(data, "")
    assert (image.width, image.height) == (info["width"], info["height"])
    return status, image


def test_each_format_is_stored_served_described_and_edited_further(client: httpx.Client) -> None:
    original = jpeg_bytes(320, 240)
    asked = {"jpeg": {}, "png": {}, "webp": {"output_quality": 90}, "avif": {}}
    edits = {
        name: start(client, original, output_format=name, **extra) for name, extra in asked.items()
    }
    results = {name: result_of(client, edit_id) for name, edit_id in edits.items()}
    for name, (status, image) in results.items():
        assert status["result"]["format"] == name
        assert (image.width, image.height) == (320, 240)
        assert colourfulness(image) < 1.5, name
    extension = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "avif": ".avif"}
    for name, (status, _) in results.items():
        assert status["edited_image_url"].split("?")[0].endswith(extension[name])

    # A WebP and an AVIF result edited again (AVIF uploads are refused; an AVIF result is not).
    children = [
        start(client, prompt="rotate 90", parent_edit_uuid=edits[name], output_format="png")
        for name in ("webp", "avif")
    ]
    for child_id in children:
        status, image = result_of(client, child_id)
        assert status["result"]["format"] == "png"
        assert (image.width, image.height) == (240, 320)


def test_no_format_asked_is_a_progressive_jpeg_described_as_one(client: httpx.Client) -> None:
    status, image = result_of(client, start(client, jpeg_bytes(160, 120)))
    assert status["result"]["format"] == "jpeg"
    assert image.get("interlaced") == 1


def test_transparency_asked_for_as_jpeg_comes_back_as_png_with_it(client: httpx.Client) -> None:
    alpha = (pyvips.Image.xyz(120, 80)[0] >= 60).ifthenelse(255, 0).cast("uchar")
    original = encode(gradient_image(120, 80).bandjoin(alpha), ".png")
    status, image = result_of(client, start(client, original, output_format="jpeg"))
    assert status["result"] == {
        "format": "png",
        "width": 120,
        "height": 80,
        "bytes": status["result"]["bytes"],
    }
    assert image.hasalpha()
    assert image.extract_band(image.bands - 1).crop(0, 0, 60, 80).max() == 0
    assert image.extract_band(image.bands - 1).crop(60, 0, 60, 80).min() == 255


def test_unknown_format_and_quality_out_of_range_are_422(client: httpx.Client) -> None:
    image = data_url(jpeg_bytes(32, 24))
    gif = client.post(
        "/edit-image/", json={"prompt": "flip it", "image": image, "output_format": "gif"}
    )
    assert_error(gif, 422, "invalid_input", "output_format", "'jpeg', 'png', 'webp' or 'avif'")
    for quality in (0, 101):
        response = client.post(
            "/edit-image/",
            json={
                "prompt": "flip it",
                "image": image,
                "output_format": "webp",
                "output_quality": quality,
            },
        )
        assert_error(response, 422, "invalid_input", "output_quality")
