"""Decoding of images sent inline as `data:` URLs or bare base64."""

from __future__ import annotations

import base64
import binascii
import io
import re

from mizual.errors import InvalidInput, PayloadTooLarge

_DATA_URL = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[\w.+-]+)*)"
    r"(?P<b64>;base64)?,",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(rb"\s+")
_CHUNK_CHARS = 1 << 20  # a multiple of 4, so every slice but the last is whole base64 quanta


def decode_image_payload(payload: str, *, max_bytes: int) -> bytes:
    """Bytes of the image. The declared MIME type is ignored: the magic bytes decide."""
    text = payload.strip()
    start = 0
    if text[:5].lower() == "data:":
        match = _DATA_URL.match(text)
        if match is None:
            raise InvalidInput(
                "image: malformed data URL; expected 'data:image/jpeg;base64,<base64 data>'"
            )
        if not match.group("b64"):
            raise InvalidInput("image: the data URL must be base64-encoded (';base64,')")
        start = match.end()
    length = len(text) - start
    if not length:
        raise InvalidInput("image: the image data is empty")
    # Base64 grows data by 4/3; refuse what cannot fit before decoding anything.
    if length > (max_bytes + 2) // 3 * 4 + 1024:
        raise _too_large(max_bytes)
    try:
        data = _decode_in_chunks(text, start)
    except (binascii.Error, ValueError):
        data = _decode_wrapped(text[start:])
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise InvalidInput("image: the image data is empty")
    return data


def _decode_in_chunks(text: str, start: int) -> bytes:
    """Strict base64 from `text[start:]`, read a slice at a time: the data after a data URL's
    header is never copied whole (an upload can be 30 MB of text), and no ASCII copy is made."""
    decoded = io.BytesIO()  # grown in place; getvalue() hands over its buffer, no copy
    for offset in range(start, len(text), _CHUNK_CHARS):
        chunk = text[offset : offset + _CHUNK_CHARS]
        if chunk.endswith("=") and offset + _CHUNK_CHARS < len(text):
            # Padding is the end of base64; a slice may end with it only if the text does.
            raise binascii.Error("padding before the end of the data")
        decoded.write(binascii.a2b_base64(chunk, strict_mode=True))
    return decoded.getvalue()


def _decode_wrapped(text: str) -> bytes:
    """Base64 broken into lines (as MIME tools write it), or not base64 at all."""
    try:
        return base64.b64decode(_WHITESPACE.sub(b"", text.encode("ascii")), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise InvalidInput(
            "image: not valid base64; send the file's bytes base64-encoded, optionally as a "
            "data URL such as 'data:image/jpeg;base64,...'"
        ) from None


def describe_bytes(size: int) -> str:
    """A size for people: '20.0 MiB', '48.8 KiB' (a small cap must not read as '0.0 MiB')."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size:,} bytes"


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"image: the image is larger than {describe_bytes(max_bytes)}, the most this "
        "server accepts; compress or downscale it and try again"
    )
