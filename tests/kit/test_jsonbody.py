"""The strict JSON body parser: what it accepts as json.loads did, and what it holds at once."""

from __future__ import annotations

import base64
import json
import tracemalloc

import pytest

from mizual.errors import InvalidInput
from mizual.kit.jsonbody import parse_json_body

VALUE = {"prompt": "make it brighter", "image": "data:image/jpeg;base64,QUJD"}


@pytest.mark.parametrize(
    "encoded",
    [
        json.dumps(VALUE).encode(),
        b"\xef\xbb\xbf" + json.dumps(VALUE).encode(),  # a UTF-8 byte order mark
        json.dumps(VALUE).encode("utf-16-le"),
        json.dumps(VALUE).encode("utf-32-be"),
    ],
    ids=["utf-8", "utf-8 with a BOM", "utf-16-le", "utf-32-be"],
)
def test_bodies_decode_as_json_loads_decodes_bytes(encoded: bytes) -> None:
    assert parse_json_body(bytearray(encoded)) == VALUE


@pytest.mark.parametrize("body", [b"", b" \r\n\t "])
def test_an_empty_body_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="the request body is empty"):
        parse_json_body(bytearray(body))


def test_text_that_is_not_utf8_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8 text"):
        parse_json_body(bytearray(b'{"prompt": "\xc3\x28"}'))


def test_the_buffer_is_emptied_once_its_text_is_decoded() -> None:
    body = bytearray(json.dumps(VALUE).encode())
    assert parse_json_body(body) == VALUE
    assert body == b""


def test_a_big_inline_image_is_held_twice_at_most_not_three_times() -> None:
    """While the body is parsed, its bytes, its text and the parsed string were all alive: three
    copies of an inline image (20 MB each for a 15 MB photo). The bytes now go first."""
    image = "data:image/jpeg;base64," + base64.b64encode(bytes(range(256)) * 24_000).decode()
    tracemalloc.start()
    try:
        body = bytearray(json.dumps({"prompt": "x", "image": image}).encode())
        del image
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        value = parse_json_body(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = len(value["image"])
    assert size > 8_000_000
    # Two copies at a time (the bytes and the text, then the text and the value): one beyond
    # the bytes held before the call, where json.loads holds two.
    assert peak - before < 1.3 * size, f"{(peak - before) / size:.2f} times the image's text"
