"""Uploads through real HTTP: data URLs, formats, broken and hostile images, size caps, prompts,
and malformed bodies. Every refusal must be a 4xx JSON error whose `detail` a person can act on."""

from __future__ import annotations

import base64
import functools
import io
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import pyvips
from PIL import Image as PILImage

from tests.support import (
    MizualServer,
    data_url,
    encode,
    gradient_image,
    jpeg_bytes,
    submit,
    wait_for,
)

SMALL_JPEG = jpeg_bytes(64, 48)
BW = "make it black and white"


# Helpers --------------------------------------------------------------------------------------


def assert_refused(response: httpx.Response, status: int, code: str, *words: str) -> str:
    """The status, the error code, and every one of `words` (case-insensitive) in the detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    detail: str = body["detail"]
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    return detail


def post_image(client: httpx.Client, image: str, prompt: str = BW) -> httpx.Response:
    return client.post("/edit-image/", json={"prompt": prompt, "image": image})


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    return encode(gradient_image(width, height), ".png")


def rgba_png_bytes(width: int = 64, height: int = 48) -> bytes:
    """Left half fully transparent, right half opaque."""
    alpha = (pyvips.Image.xyz(width, height)[0] >= width // 2).ifthenelse(255, 0).cast("uchar")
    return encode(gradient_image(width, height).bandjoin(alpha), ".png")


def bmp_bytes(width: int = 64, height: int = 48) -> bytes:
    image = gradient_image(width, height)
    pil = PILImage.frombytes("RGB", (width, height), image.write_to_memory())
    out = io.BytesIO()
    pil.save(out, "BMP")
    return out.getvalue()


def isobmff(brand: bytes, compatible: bytes = b"mif1") -> bytes:
    """An ISO-BMFF `ftyp` box (as HEIC and AVIF files start) followed by junk."""
    ftyp = b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00" + compatible + brand
    return ftyp + bytes(range(256)) * 8


def bmp_header_only(width: int, height: int) -> bytes:
    """A BMP that claims width x height 24-bit pixels but carries almost none of them."""
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 300, 0, 0, 54) + dib + b"\0" * 300


@functools.cache
def png_bomb() -> bytes:
    """20000x20000 grey pixels (400 MP, 400 MB decoded) that compress to a few hundred KB."""
    return pyvips.Image.black(20000, 20000).write_to_buffer(".png", compression=9)


def is_grey(image: pyvips.Image) -> bool:
    colour = image.extract_band(0, n=image.bands - 1) if image.hasalpha() else image
    return colour.bands == 1 or float(colour.colourspace("lch")[1].avg()) < 1.0


def read_raw_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    """A server with tiny caps: 50,000-byte images and 10,000 pixels."""
    instance = MizualServer(
        tmp_path_factory.mktemp("small-limits"),
        env={"MAX_UPLOAD_BYTES": "50000", "MAX_IMAGE_PIXELS": "10000"},
    ).start()
    yield instance
    instance.stop()


# Data URL syntax ------------------------------------------------------------------------------


def test_data_url_upload_is_stored_byte_for_byte(client: httpx.Client) -> None:
    response = post_image(client, data_url(SMALL_JPEG, "image/jpeg"))
    assert response.status_code == 200, response.text
    status = client.get(response.json()["polling_url"]).json()
    original = httpx.get(status["original_image_url"], timeout=30)
    assert original.headers["content-type"] == "image/jpeg"
    assert original.content == SMALL_JPEG
    wait_for(client, response.json()["edit_id"])


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(base64.b64encode(SMALL_JPEG).decode(), id="bare-base64"),
        pytest.param(base64.encodebytes(SMALL_JPEG).decode(), id="line-wrapped-base64"),
        pytest.param("DATA:IMAGE/JPEG;BASE64," + base64.b64encode(SMALL_JPEG).decode(), id="caps"),
        pytest.param(
            "data:image/jpeg;name=photo.jpg;base64," + base64.b64encode(SMALL_JPEG).decode(),
            id="with-parameter",
        ),
    ],
)
def test_other_spellings_of_base64_are_accepted(client: httpx.Client, payload: str) -> None:
    response = post_image(client, payload)
    assert response.status_code == 200, response.text
    status = wait_for(client, response.json()["edit_id"])
    assert status["status"] == "completed", status
    assert httpx.get(status["original_image_url"], timeout=30).content == SMALL_JPEG


_B64 = base64.b64encode(SMALL_JPEG).decode()
_FORM = "data:image/jpeg;base64,"  # the message shows the expected form


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param("data:image/jpeg;base64" + _B64, ["malformed data URL", _FORM], id="no-comma"),
        pytest.param(
            "data:image jpeg;base64," + _B64, ["malformed data URL", _FORM], id="bad-mime"
        ),
        pytest.param("data:", ["malformed data URL", _FORM], id="prefix-only"),
        pytest.param("data:image/jpeg," + _B64, ["base64-encoded", ";base64,"], id="no-base64"),
        pytest.param("data:,hello", ["base64-encoded"], id="plain-text-data-url"),
        pytest.param(
            "data:image/jpeg;base64,@@not*base64!!", ["not valid base64", _FORM], id="bad-chars"
        ),
        pytest.param("this is not base64 at all!", ["not valid base64", _FORM], id="bare-garbage"),
        pytest.param(
            "data:image/jpeg;base64,/9j/4ÿØÿ", ["not valid base64", _FORM], id="non-ascii"
        ),
        pytest.param(_B64[:-3], ["not valid base64", _FORM], id="bad-padding"),
        pytest.param("", ["image data is empty"], id="empty"),
        pytest.param("   \n ", ["image data is empty"], id="whitespace"),
        pytest.param("data:image/png;base64,", ["image data is empty"], id="empty-data-url"),
    ],
)
def test_broken_image_payloads_are_422_with_a_reason(
    client: httpx.Client, payload: str, words: list[str]
) -> None:
    assert_refused(post_image(client, payload), 422, "invalid_input", "image:", *words)


# Formats ----------------------------------------------------------------------------------------


def test_magic_bytes_beat_the_declared_mime_type(client: httpx.Client) -> None:
    png = png_bytes()
    response = submit(client, BW, png, mime="image/jpeg")  # a lie: it is a PNG
    assert response.status_code == 200, response.text
    status = wait_for(client, response.json()["edit_id"])
    assert status["status"] == "completed", status
    assert status["original_image_url"].endswith(".png")
    original = httpx.get(status["original_image_url"], timeout=30)
    assert original.headers["content-type"] == "image/png"
    assert original.content == png


@pytest.mark.parametrize(
    ("make", "mime"),
    [
        pytest.param(lambda: jpeg_bytes(96, 64), "image/jpeg", id="jpeg"),
        pytest.param(lambda: png_bytes(96, 64), "image/png", id="png"),
        pytest.param(lambda: encode(gradient_image(96, 64), ".webp"), "image/webp", id="webp"),
        pytest.param(lambda: bmp_bytes(96, 64), "image/bmp", id="bmp"),
        pytest.param(lambda: encode(gradient_image(96, 64), ".tiff"), "image/tiff", id="tiff"),
    ],
)
def test_every_allowed_format_is_edited_to_black_and_white(
    client: httpx.Client, make: Any, mime: str
) -> None:
    data = make()
    status = wait_for(client, submit(client, BW, data, mime=mime).json()["edit_id"])
    assert status["status"] == "completed", status

    original = httpx.get(status["original_image_url"], timeout=30)
    assert original.headers["content-type"] == mime
    assert original.content == data
    assert not is_grey(gradient_image(96, 64))  # the input is colourful

    result = httpx.get(status["edited_image_url"], timeout=30)
    assert result.headers["content-type"] == "image/jpeg"
    image = pyvips.Image.new_from_buffer(result.content, "")
    assert (image.width, image.height) == (96, 64)
    assert is_grey(image)


def test_png_with_transparency_gives_a_png_that_keeps_it(client: httpx.Client) -> None:
    data = rgba_png_bytes(64, 48)
    status = wait_for(client, submit(client, BW, data, mime="image/png").json()["edit_id"])
    assert status["status"] == "completed", status

    result = httpx.get(status["edited_image_url"], timeout=30)
    assert result.headers["content-type"] == "image/png"
    assert status["edited_image_url"].endswith(".png")
    image = pyvips.Image.new_from_buffer(result.content, "")
    assert image.hasalpha()
    alpha = image.extract_band(image.bands - 1)
    assert alpha.crop(0, 0, 32, 48).max() == 0  # the transparent half stays transparent
    assert alpha.crop(32, 0, 32, 48).min() == 255  # and the opaque half opaque
    assert is_grey(image)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        pytest.param(
            lambda: encode(gradient_image(32, 32), ".gif"),
            ["'gif'", "GIF images are not supported", "convert the image to PNG or JPEG"],
            id="gif",
        ),
        pytest.param(
            lambda: isobmff(b"heic"),
            ["'heic'", "HEIC photos", "iPhone", "export the photo as JPEG"],
            id="heic",
        ),
        pytest.param(
            lambda: isobmff(b"mif1", compatible=b"heix"),
            ["'heic'", "HEIC photos"],
            id="heif-mif1",
        ),
        pytest.param(
            lambda: encode(gradient_image(32, 32), ".avif"),
            ["'avif'", "AVIF images are not supported", "convert the image to JPEG, PNG or WebP"],
            id="avif",
        ),
        pytest.param(
            lambda: isobmff(b"avif"),
            ["'avif'", "AVIF images are not supported"],
            id="avif-header",
        ),
    ],
)
def test_blocked_formats_are_415_naming_the_format_and_why(
    client: httpx.Client, make: Any, words: list[str]
) -> None:
    response = submit(client, BW, make(), mime="image/jpeg")
    assert_refused(response, 415, "unsupported_image_type", "unsupported image format", *words)


def test_unsupported_image_types_setting_blocks_png(make_server: Any) -> None:
    server = make_server({"UNSUPPORTED_IMAGE_TYPES": "png"})
    with server.client() as client:
        assert_refused(
            submit(client, BW, png_bytes(), mime="image/png"),
            415,
            "unsupported_image_type",
            "'png'",
            "not supported on this server",
        )
        # Only PNG is blocked: JPEG still works, and GIF is never allowed.
        assert submit(client, BW, SMALL_JPEG).status_code == 200
        assert submit(client, BW, encode(gradient_image(16, 16), ".gif")).status_code == 415


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"hello, this is a plain text file and not a picture\n", id="text"),
        pytest.param(b"BMW and Mercedes are German car makers, not bitmaps.\n", id="text-BM"),
        pytest.param(
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><rect width="10" height="10" fill="red"/></svg>',
            id="svg",
        ),
        pytest.param(
            b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", id="html"
        ),
        pytest.param(
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", id="pdf"
        ),
        pytest.param(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(500), id="mp4"),
        pytest.param(bytes(range(256)) * 8, id="binary-junk"),
    ],
)
def test_not_an_image_is_415(client: httpx.Client, data: bytes) -> None:
    assert_refused(
        submit(client, BW, data, mime="image/png"),
        415,
        "unsupported_image_type",
        "not a recognised image",
        "JPEG, PNG, WebP, BMP or TIFF",
    )


# Broken images ----------------------------------------------------------------------------------


def _flip_middle(data: bytes, count: int = 64) -> bytes:
    broken = bytearray(data)
    middle = len(broken) // 2
    for i in range(middle, middle + count):
        broken[i] ^= 0xFF
    return bytes(broken)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        pytest.param(lambda: jpeg_bytes()[:8000], "JPEG", id="truncated-jpeg"),
        pytest.param(lambda: _flip_middle(png_bytes(320, 240)), "PNG", id="corrupt-png"),
        pytest.param(lambda: png_bytes(320, 240)[:-5000], "PNG", id="truncated-png"),
        pytest.param(lambda: encode(gradient_image(), ".webp")[:300], "WEBP", id="truncated-webp"),
        pytest.param(lambda: bmp_bytes()[:3000], "BMP", id="truncated-bmp"),
    ],
)
def test_truncated_or_corrupt_images_are_422_invalid_image(
    client: httpx.Client, make: Any, name: str
) -> None:
    assert_refused(
        submit(client, BW, make()),
        422,
        "invalid_image",
        f"the {name} image could not be decoded",
        "truncated or corrupt",
    )


# Pixel and byte caps ----------------------------------------------------------------------------


def test_decompression_bomb_png_is_413_naming_pixels_and_limit(client: httpx.Client) -> None:
    bomb = png_bomb()
    assert len(bomb) < 500_000  # small on the wire, 400 MB once decoded
    detail = assert_refused(
        submit(client, BW, bomb, mime="image/png"),
        413,
        "payload_too_large",
        "20000x20000 pixels",
        "400.0 MP",
        "at most 100.0 MP",
        "Downscale",
    )
    assert "decoded" not in detail
    assert client.get("/health").status_code == 200


def test_bmp_claiming_400_megapixels_is_413_not_corrupt(client: httpx.Client) -> None:
    assert_refused(
        submit(client, BW, bmp_header_only(20000, 20000), mime="image/bmp"),
        413,
        "payload_too_large",
        "20000x20000 pixels",
        "at most 100.0 MP",
    )


def test_small_pixel_cap_refuses_200x200_and_accepts_100x100(small_server: MizualServer) -> None:
    with small_server.client() as client:
        detail = assert_refused(
            submit(client, BW, jpeg_bytes(200, 200)),
            413,
            "payload_too_large",
            "200x200 pixels",
            "40,000 pixels",
            "at most 10,000 pixels",
        )
        assert "0.0" not in detail
        exactly_at_cap = submit(client, BW, jpeg_bytes(100, 100))
        assert exactly_at_cap.status_code == 200, exactly_at_cap.text


def test_small_upload_cap_refuses_a_larger_image(small_server: MizualServer) -> None:
    # 100x100 (inside the pixel cap) 16-bit RGBA noise: ~80 KB, over the 50,000-byte cap but
    # small enough that its JSON body gets past the streaming limit to the image check.
    noise = pyvips.Image.new_from_memory(os.urandom(100 * 100 * 8), 100, 100, 4, "ushort")
    data = encode(noise.copy(interpretation="rgb16"), ".png")
    assert 50_000 < len(data) < 95_000
    with small_server.client() as client:
        detail = assert_refused(
            submit(client, BW, data, mime="image/png"),
            413,
            "payload_too_large",
            "larger than 48.8 KiB",
            "compress or downscale",
        )
        assert "0.0 MiB" not in detail


def test_request_body_far_above_the_cap_is_413(small_server: MizualServer) -> None:
    with small_server.client() as client:
        response = client.post("/edit-image/", json={"prompt": BW, "image": "A" * 2_000_000})
        detail = assert_refused(
            response, 413, "payload_too_large", "request body is larger than", "48.8 KiB"
        )
        assert "0.0 MiB" not in detail


def test_declared_500_mb_body_is_refused_before_it_is_sent(small_server: MizualServer) -> None:
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /edit-image/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n"
            b'{"prompt": "make it'
        )
        raw = read_raw_response(sock)  # the server answers and closes without the 500 MB
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), raw[:300]
    assert b'"payload_too_large"' in body
    assert b"request body is larger than" in body
    with small_server.client() as client:
        assert client.get("/health").status_code == 200


def test_streamed_body_of_megabytes_is_413_and_the_server_lives(
    small_server: MizualServer,
) -> None:
    def eight_megabytes() -> Iterator[bytes]:
        yield b'{"prompt": "make it black and white", "image": "'
        for _ in range(80):
            yield b"A" * 100_000
        yield b'"}'

    with small_server.client() as client:
        response = client.post(
            "/edit-image/",
            content=eight_megabytes(),  # chunked: no Content-Length to refuse up front
            headers={"content-type": "application/json"},
        )
        detail = assert_refused(
            response, 413, "payload_too_large", "request body is larger than", "48.8 KiB"
        )
        assert "parsing" not in detail
    with small_server.client() as client:
        assert client.get("/health").status_code == 200
        assert submit(client, BW, jpeg_bytes(40, 30)).status_code == 200


# Prompts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("", id="empty"),
        pytest.param("   \t\n  ", id="whitespace"),
        pytest.param("\x00\x07\u200b\u202e\x7f", id="control-only"),
    ],
)
def test_empty_prompt_is_422(client: httpx.Client, prompt: str) -> None:
    assert_refused(
        submit(client, prompt, SMALL_JPEG),
        422,
        "invalid_input",
        "prompt:",
        "the prompt is empty",
        "make it brighter",  # an example of what to write
    )


def test_prompt_over_1000_characters_is_422_naming_the_limit(client: httpx.Client) -> None:
    assert_refused(
        submit(client, "x" * 1001, SMALL_JPEG),
        422,
        "invalid_input",
        "prompt:",
        "1001 characters",
        "at most 1000",
    )
    assert submit(client, "  " + "x" * 1000 + "  ", SMALL_JPEG).status_code == 200
    # The limit counts the cleaned prompt: padding that cleaning removes does not count.
    assert submit(client, BW + " " * 3000, SMALL_JPEG).status_code == 200


def test_huge_prompt_is_422_not_500(client: httpx.Client) -> None:
    assert_refused(
        submit(client, "x" * 50_000, SMALL_JPEG), 422, "invalid_input", "prompt", "at most"
    )


def test_prompt_control_characters_are_stripped_and_unicode_kept(client: httpx.Client) -> None:
    prompt = (
        "make it\x00 black\x07and\twhite\u200b\u202e \u2014 "  # NUL, BEL, tab, ZWSP, RLO
        "cafe\u0301 \u2615 \u65e5\u672c\u8a9e\x7f\n"  # decomposed e-acute, emoji, CJK, DEL
    )
    response = submit(client, prompt, SMALL_JPEG)
    assert response.status_code == 200, response.text
    status = client.get(response.json()["polling_url"]).json()
    assert status["prompt"] == "make it black and white \u2014 caf\u00e9 \u2615 \u65e5\u672c\u8a9e"
    wait_for(client, response.json()["edit_id"])


# Body shape -------------------------------------------------------------------------------------


_IMAGE = data_url(SMALL_JPEG)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param({"image": _IMAGE}, ["prompt: Field required"], id="missing-prompt"),
        pytest.param({}, ["prompt: Field required"], id="empty-object"),
        pytest.param(
            {"prompt": 123, "image": _IMAGE}, ["prompt:", "valid string"], id="int-prompt"
        ),
        pytest.param({"prompt": None, "image": _IMAGE}, ["prompt:", "valid string"], id="null"),
        pytest.param({"prompt": ["a"], "image": _IMAGE}, ["prompt:", "valid string"], id="list"),
        pytest.param({"prompt": BW, "image": 42}, ["image:", "valid string"], id="int-image"),
        pytest.param(
            {"prompt": BW, "image": {"data": _IMAGE}}, ["image:", "valid string"], id="obj-image"
        ),
        pytest.param(
            {"prompt": BW, "image": _IMAGE, "parent_edit_uuid": 5},
            ["parent_edit_uuid:", "valid string"],
            id="int-parent",
        ),
        pytest.param({"prompt": BW}, ["image:", "an image is required"], id="no-image"),
        pytest.param([BW, _IMAGE], ["valid dictionary or object"], id="array"),
        pytest.param("make it black and white", ["valid dictionary or object"], id="string"),
    ],
)
def test_wrong_body_shapes_are_422_with_the_field_named(
    client: httpx.Client, body: Any, words: list[str]
) -> None:
    assert_refused(client.post("/edit-image/", json=body), 422, "invalid_input", *words)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"prompt": "make it black and white", ', id="cut-off"),
        pytest.param(b"{'prompt': 'single quotes'}", id="single-quotes"),
        pytest.param(b"prompt=make+it+black", id="form-encoded"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
    ],
)
def test_invalid_json_is_422_saying_so(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        "/edit-image/", content=content, headers={"content-type": "application/json"}
    )
    detail = assert_refused(response, 422, "invalid_input", "the request body is not valid JSON")
    assert not detail[0].isdigit()  # not "16: ...", as if a character offset were a field
