"""`POST /edit-image/` as multipart/form-data through real HTTP, on both stacks: the same answer
as JSON, the original stored byte for byte, the same limits, Idempotency-Key replays across
boundaries, and hostile forms refused with a clear 4xx."""

from __future__ import annotations

import socket
import uuid

import httpx

from tests.support import assert_error, encode, gradient_image, jpeg_bytes, wait_for

BOUNDARY = "mizual-test-boundary"


def form_body(parts: list[tuple[str, str | None, bytes]], *, boundary: str = BOUNDARY) -> bytes:
    """A form written by hand (name, filename or None, content), for forms no client sends."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def post_raw(client: httpx.Client, body: bytes, *, boundary: str = BOUNDARY) -> httpx.Response:
    return client.post(
        "/edit-image/",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def test_a_form_upload_completes_and_keeps_the_file_byte_for_byte(client: httpx.Client) -> None:
    original = encode(gradient_image(96, 64), ".png")
    response = client.post(
        "/edit-image/",
        data={"prompt": "make it black and white", "webhook_events": ""},
        files={"image": ("photo.png", original, "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"edit_id", "polling_url", "edit_token"}
    status = wait_for(client, body["edit_id"])
    assert status["status"] == "completed", status
    stored = httpx.get(status["original_image_url"], timeout=30)
    assert stored.content == original
    assert ".png" in status["original_image_url"]


def test_a_form_continues_a_chain_and_takes_its_options(client: httpx.Client) -> None:
    first = client.post(
        "/edit-image/",
        data={"prompt": "make it brighter", "output_format": "png"},
        files={"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
    )
    assert first.status_code == 200, first.text
    assert wait_for(client, first.json()["edit_id"])["status"] == "completed"
    parent = first.json()["edit_id"].encode()
    second = post_raw(
        client,
        form_body(
            [("prompt", None, b"make it black and white"), ("parent_edit_uuid", None, parent)]
        ),
    )
    assert second.status_code == 200, second.text
    status = wait_for(client, second.json()["edit_id"])
    assert (status["status"], status["chain_position"]) == ("completed", 2), status


def test_form_fields_are_validated_as_json_fields_are(client: httpx.Client) -> None:
    image = {"image": ("a.jpg", jpeg_bytes(32, 24), "image/jpeg")}
    response = client.post("/edit-image/", data={"prompt": " "}, files=image)
    assert_error(response, 422, "invalid_input", "prompt")
    response = client.post(
        "/edit-image/", data={"prompt": "brighter", "output_quality": "lots"}, files=image
    )
    assert response.status_code == 422, response.text
    assert "output_quality" in response.text
    response = client.post(
        "/edit-image/", data={"prompt": "brighter", "colour": "red"}, files=image
    )
    assert response.status_code == 422, response.text
    assert "colour" in response.text
    # Repeated or comma-separated: both are the list JSON takes; unknown events are named.
    response = client.post(
        "/edit-image/",
        data={"prompt": "brighter", "webhook_events": ["completed", "stage,sneezed"]},
        files=image,
    )
    assert response.status_code == 422, response.text
    assert "sneezed" in response.text


def test_a_form_file_that_is_not_an_image_is_refused_as_uploads_are(client: httpx.Client) -> None:
    response = client.post(
        "/edit-image/",
        data={"prompt": "brighter"},
        files={"image": ("notes.txt", b"hello, this is not an image", "text/plain")},
    )
    assert response.status_code == 415, response.text
    truncated = jpeg_bytes(320, 240)[:2000]
    response = client.post(
        "/edit-image/", data={"prompt": "brighter"}, files={"image": ("a.jpg", truncated)}
    )
    assert_error(response, 422, "invalid_image", "truncated")
    response = client.post(
        "/edit-image/", data={"prompt": "brighter"}, files={"image": ("a.jpg", b"")}
    )
    assert_error(response, 422, "invalid_input", "empty")


def test_hostile_forms_get_clear_refusals(client: httpx.Client) -> None:
    image = jpeg_bytes(32, 24)
    cases: list[tuple[bytes, int, str]] = [
        # thousands of parts
        (form_body([("prompt", None, b"x")] * 5000), 422, "parts"),
        # a header line of a megabyte
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"; x="'.encode()
            + b"a" * 1_000_000
            + b'"\r\n\r\nbrighter\r\n--'
            + BOUNDARY.encode()
            + b"--\r\n",
            422,
            "malformed",
        ),
        # the image as a text field, as an HTML form without enctype would send it
        (form_body([("prompt", None, b"brighter"), ("image", None, b"/9j/4AAQ")]), 422, "file"),
        # two images
        (
            form_body(
                [
                    ("prompt", None, b"brighter"),
                    ("image", "a.jpg", image),
                    ("image", "b.jpg", image),
                ]
            ),
            422,
            "2 files",
        ),
        # a file in another field
        (form_body([("prompt", "p.txt", b"brighter"), ("image", "a.jpg", image)]), 422, "prompt"),
        # a field given twice
        (form_body([("prompt", None, b"a"), ("prompt", None, b"b")]), 422, "twice"),
        # cut short: no closing boundary
        (form_body([("prompt", None, b"brighter"), ("image", "a.jpg", image)])[:-40], 422, "cut"),
        # a part with no name
        (
            f"--{BOUNDARY}\r\n\r\nbrighter\r\n--{BOUNDARY}--\r\n".encode(),
            422,
            "Content-Disposition",
        ),
        # nothing at all
        (b"", 422, "cut"),
    ]
    for body, status, word in cases:
        response = post_raw(client, body)
        assert response.status_code == status, (word, response.text)
        assert word in response.json()["detail"], (word, response.text)
    response = client.post(
        "/edit-image/", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert_error(response, 422, "invalid_input", "boundary")


def test_a_form_above_the_size_limit_is_413_before_it_is_read(client: httpx.Client) -> None:
    # MAX_UPLOAD_BYTES is 20 MiB on the stacks: a declared 30 MB body is refused unread (sent
    # by hand: an HTTP client will not declare more than it sends).
    url = httpx.URL(str(client.base_url))
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /edit-image/ HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
            + f"Content-Length: {30 * 1024 * 1024}\r\n\r\n--{BOUNDARY}\r\n".encode()
        )
        answer = b""
        while b"payload_too_large" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"payload_too_large" in answer

    # Chunked (no Content-Length): counted as it arrives, cut off at the limit.
    def chunks() -> object:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '.encode()
        yield b'filename="big.jpg"\r\n\r\n'
        for _ in range(24):
            yield b"\0" * (1024 * 1024)

    try:
        response = client.post(
            "/edit-image/",
            content=chunks(),  # type: ignore[arg-type]
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    except httpx.HTTPError:  # closed by the server after its answer, while still sending
        return
    assert_error(response, 413, "payload_too_large")


def test_a_retry_with_another_boundary_replays_the_first_answer(client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    prompt = f"make it brighter {uuid.uuid4().hex}".encode()
    image = jpeg_bytes(48, 32)
    answers = [
        client.post(
            "/edit-image/",
            content=form_body([("prompt", None, prompt), ("image", "a.jpg", image)], boundary=b),
            headers={
                "Content-Type": f"multipart/form-data; boundary={b}",
                "Idempotency-Key": key,
            },
        )
        for b in ("first-boundary", "second-boundary-xyz")
    ]
    assert [answer.status_code for answer in answers] == [200, 200], answers[1].text
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert answers[0].json() == answers[1].json()
    # Another file under the same key is another request: refused.
    other = client.post(
        "/edit-image/",
        content=form_body([("prompt", None, prompt), ("image", "a.jpg", jpeg_bytes(50, 32))]),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Idempotency-Key": key,
        },
    )
    assert other.status_code == 422, other.text
    wait_for(client, answers[0].json()["edit_id"])
