"""The streaming form parser's bounds, chunk by chunk (the HTTP side: tests/contract/
test_multipart.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from mizual.errors import InvalidInput, MizualError, PayloadTooLarge
from mizual.kit.multipartbody import SPOOL_BYTES, FormLimits, ParsedForm, parse_form

BOUNDARY = "b0undary"
LIMITS = FormLimits(
    max_body_bytes=4 * 1024 * 1024, max_file_bytes=3 * 1024 * 1024, describe_file_limit="3.0 MiB"
)


def part(name: str, content: bytes, *, filename: str | None = None, headers: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{headers}\r\n".encode()
        + content
        + b"\r\n"
    )


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def parse(body: bytes, *, chunk: int = 7, limits: FormLimits = LIMITS) -> ParsedForm:
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    return asyncio.run(
        parse_form(f"multipart/form-data; boundary={BOUNDARY}", None, stream(), limits=limits)
    )


def refused(body: bytes, **options: object) -> MizualError:
    with pytest.raises(MizualError) as caught:
        parse(body, **options)  # type: ignore[arg-type]
    return caught.value


def test_fields_and_a_file_arrive_whole_whatever_the_chunks() -> None:
    photo = bytes(range(256)) * 8000  # 2 MB: spooled past memory to disk
    body = part("prompt", "é brighter".encode()) + part("image", photo, filename="p.jpg") + end()
    for chunk in (1000, 65536, len(body)):
        form = parse(body, chunk=chunk)
        try:
            assert form.fields == {"prompt": ["é brighter"]}
            (upload,) = form.files["image"]
            assert (upload.filename, upload.size) == ("p.jpg", len(photo))
            assert upload.sha256 == hashlib.sha256(photo).hexdigest()
            assert upload.read() == photo
            assert len(photo) > SPOOL_BYTES
        finally:
            form.close()


@pytest.mark.parametrize(
    ("body", "kind", "word"),
    [
        (part("a", b"x") * 40 + end(), InvalidInput, "parts"),
        (part("i", b"x", filename="f") * 5 + end(), InvalidInput, "files"),
        (part("prompt", b"x" * 70_000) + end(), InvalidInput, "longer than"),
        (
            part("image", b"\0" * (3 * 1024 * 1024 + 1), filename="f") + end(),
            PayloadTooLarge,
            "3.0 MiB",
        ),
        (part("p", b"x", headers="X-A: 1\r\n" * 9) + end(), InvalidInput, "malformed"),
        (part("p", b"x", headers="X-A: " + "a" * 9000 + "\r\n") + end(), InvalidInput, "malformed"),
        (part("p", b"\xff\xfe"), InvalidInput, "cut short"),
        (part("p", b"\xff\xfe") + end(), InvalidInput, "UTF-8"),
        (
            f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n".encode() + end(),
            InvalidInput,
            "Content-Disposition",
        ),
    ],
)
def test_bounds_are_refused_while_the_body_arrives(
    body: bytes, kind: type[MizualError], word: str
) -> None:
    error = refused(body, chunk=65536)
    assert isinstance(error, kind), error.message
    assert word in error.message


def test_a_body_above_the_limit_is_refused_before_it_is_read() -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("read")
        yield b""

    with pytest.raises(PayloadTooLarge):
        asyncio.run(
            parse_form(
                f"multipart/form-data; boundary={BOUNDARY}",
                str(5 * 1024 * 1024),
                never(),
                limits=LIMITS,
            )
        )
    small = FormLimits(max_body_bytes=100, max_file_bytes=100, describe_file_limit="100 bytes")
    error = refused(part("p", b"x" * 200) + end(), limits=small)  # counted, not declared
    assert isinstance(error, PayloadTooLarge)
