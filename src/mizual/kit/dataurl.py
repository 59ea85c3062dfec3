"""Decoding of images sent inline as `data:` URLs or bare base64."""

from __future__ import annotations

import base64
import binascii
import re

from mizual.errors import InvalidInput, PayloadTooLarge

_DATA_URL = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[\w.+-]+)*)"
    r"(?P<b64>;base64)?,",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(rb"\s+")


def decode_image_payload(payload: str, *, max_bytes: int) -> bytes:
    """Bytes of the image. The declared MIME type is ignored: the magic bytes decide."""
    text = payload.strip()
    if text[:5].lower() == "data:":
        match = _DATA_URL.match(text)
        if match is None:
            raise InvalidInput(
                "image: malformed data URL; expected 'data:image/jpeg;base64,<base64 data>'"
            )
        if not match.group("b64"):
            raise InvalidInput("image: the data URL must be base64-encoded (';base64,')")
        text = text[match.end() :]
    if not text:
        raise InvalidInput("image: the image data is empty")
    # Base64 grows data by 4/3; refuse what cannot fit before decoding anything.
    if len(text) > (max_bytes + 2) // 3 * 4 + 1024:
        raise _too_large(max_bytes)
    try:
        # Straight from the string: no ASCII copy of an upload that can be 30 MB of text.
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        data = _decode_wrapped(text)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise InvalidInput("image: the image data is empty")
    return data


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
