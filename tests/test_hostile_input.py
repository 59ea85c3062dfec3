"""The hostile-input corpus: one list of requests a careless or malicious client might send, each
with the status it must get and words its error `detail` must contain, sent over real HTTP to a
real `mizual serve` process. Every refusal is a 4xx JSON `{"error", "detail"}` that arrives
quickly; afterwards the server is healthy and still edits.

Decisions the corpus pins down:

- Edit ids are parsed strictly: only the canonical 36-character 8-4-4-4-12 hyphenated form is an
  id; braces, `urn:uuid:`, missing hyphens and anything else are 422, and the detail shows the
  value (repr, at most 60 characters) and an example. Hex digits are case-insensitive (upper
  case names the same edit; the id is reported in lower case). The nil UUID is well-formed and
  is simply no edit: 404.
- Image data is a data URL or bare base64 in the standard alphabet, correctly padded (the
  URL-safe alphabet is refused like any other); the declared MIME type is ignored, the magic
  bytes decide.
- An image that is also a page, a script or an archive (a polyglot) is 415, whatever its format.
- Request bodies are JSON with `Content-Type: application/json` (else 415), at most 32 levels
  deep and 1000 values, without duplicate names, NaN or Infinity, and with no unknown fields.
- Prompts keep their Unicode (scripts, RTL text, emoji, the joiners ZWJ and ZWNJ) and lose
  control characters and invisible disguises (NUL, zero-width space, bidi overrides).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import (
    MizualServer,
    data_url,
    encode,
    gradient_image,
    jpeg_bytes,
    wait_for,
)

ADMIN_TOKEN = "hostile-corpus-admin-token"
BW = "make it black and white"
KNOWN_ID = "00000000-0000-4000-8000-000000000000"  # well-formed, never an edit
NO_BODY: Any = object()
# Every refusal must arrive within this many seconds (a 10,000-deep body included).
QUICK_SECONDS = 3.0


# Images -----------------------------------------------------------------------------------------

JPEG = jpeg_bytes(64, 48)
PNG = encode(gradient_image(64, 48), ".png")
WEBP = encode(gradient_image(64, 48), ".webp", keep="none")
JPEG_B64 = base64.b64encode(JPEG).decode()
# Not a multiple of 3 bytes, so its base64 ends in padding.
JPEG_ODD = JPEG if len(JPEG) % 3 else JPEG + b"\0"
ODD_B64 = base64.b64encode(JPEG_ODD).decode()
assert ODD_B64.endswith("=")
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b"<script>alert(document.domain)</script></svg>"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("Evil.class", b"\xca\xfe\xba\xbe" + bytes(64))
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A real 16x16 PNG whose header (CRC fixed) claims width x height: a few hundred bytes
    that a decoder would expand to width x height x 3 bytes."""
    png = encode(gradient_image(16, 16), ".png")
    ihdr = struct.pack(">II", width, height) + png[24:29]
    return png[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16x16 JPEG whose frame header claims width x height."""
    data = bytearray(jpeg_bytes(16, 16))
    offset = 2
    while data[offset + 1] not in (0xC0, 0xC1, 0xC2):
        offset += 2 + struct.unpack(">H", data[offset + 2 : offset + 4])[0]
    data[offset + 5 : offset + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A real lossy WebP whose VP8 frame claims width x height (14 bits each at most)."""
    data = bytearray(WEBP)
    assert data[12:16] == b"VP8 "
    data[26:30] = struct.pack("<HH", width, height)
    return bytes(data)


def flip_middle(data: bytes, count: int = 48) -> bytes:
    broken = bytearray(data)
    for i in range(len(broken) // 2, len(broken) // 2 + count):
        broken[i] ^= 0xFF
    return bytes(broken)


def jpeg_with_comment(text: bytes) -> bytes:
    """A valid JPEG carrying `text` in a COM segment right after its start marker."""
    return JPEG[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + JPEG[2:]


# The corpus -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    detail: str = ""  # words the error detail must contain (case-insensitive)
    json: Any = NO_BODY
    content: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    error: str | None = None  # the error code, when it matters
    stored_prompt: str | None = None  # accepted edits: the prompt as stored


def upload(name: str, image: str, status: int, detail: str = "", **kw: Any) -> Case:
    return Case(
        name, "POST", "/edit-image/", status, detail, json={"prompt": BW, "image": image}, **kw
    )


def prompt(name: str, text: str, status: int, detail: str = "", **kw: Any) -> Case:
    body = {"prompt": text, "image": data_url(JPEG)}
    return Case(name, "POST", "/edit-image/", status, detail, json=body, **kw)


def raw(
    name: str,
    content: bytes,
    content_type: str | None,
    status: int,
    detail: str,
    *,
    path: str = "/edit-image/",
    **kw: Any,
) -> Case:
    """A body sent as these exact bytes, with this content type (or none)."""
    headers: dict[str, str | bytes] = {} if content_type is None else {"content-type": content_type}
    return Case(name, "POST", path, status, detail, content=content, headers=headers, **kw)


def feedback(name: str, body: Any, status: int, detail: str = "", **kw: Any) -> Case:
    return Case(name, "POST", "/feedback/", status, detail, json=body, **kw)


NOT_AN_ID = "is not a valid edit id"
BAD_IDS = {
    "word": "not-a-uuid",
    "braces": "{" + KNOWN_ID + "}",
    "urn": "urn:uuid:" + KNOWN_ID,
    "no-hyphens": KNOWN_ID.replace("-", ""),
    "bad-hex-digit": KNOWN_ID[:-1] + "g",
    "1000-chars": "a" * 1000,
}
WELL_FORMED_UNKNOWN = {
    "upper-case": KNOWN_ID.upper(),
    "nil": "00000000-0000-0000-0000-000000000000",
}


def id_cases() -> list[Case]:
    """Every place an edit id is taken: three paths and two body fields."""
    cases = []
    for label, value in BAD_IDS.items():
        shown = repr(value[:60])
        cases += [
            Case(f"status-id-{label}", "GET", f"/edit/{value}", 422, f"edit id: {shown}"),
            Case(f"events-id-{label}", "GET", f"/edit/{value}/events", 422, NOT_AN_ID),
            Case(f"chain-id-{label}", "GET", f"/chain/{value}", 422, f"{shown} {NOT_AN_ID}"),
            Case(
                f"parent-id-{label}",
                "POST",
                "/edit-image/",
                422,
                f"parent_edit_uuid: {shown} {NOT_AN_ID}",
                json={"prompt": BW, "parent_edit_uuid": value},
            ),
            feedback(
                f"feedback-id-{label}",
                {"edit_uuid": value, "rating": 1},
                422,
                f"edit_uuid: {shown} {NOT_AN_ID}",
            ),
        ]
    for label, value in WELL_FORMED_UNKNOWN.items():
        canonical = value.lower()
        cases += [
            Case(f"status-id-{label}", "GET", f"/edit/{value}", 404, f"no edit {canonical}"),
            Case(f"events-id-{label}", "GET", f"/edit/{value}/events", 404, "no edit"),
            Case(f"chain-id-{label}", "GET", f"/chain/{value}", 404, f"no edit {canonical}"),
            Case(
                f"parent-id-{label}",
                "POST",
                "/edit-image/",
                404,
                f"parent_edit_uuid: no edit {canonical} exists",
                json={"prompt": BW, "parent_edit_uuid": value},
            ),
            feedback(f"feedback-id-{label}", {"edit_uuid": value, "rating": 1}, 404, "no edit"),
        ]
    return cases


NOT_BASE64 = "not valid base64"
NOT_AN_IMAGE = "not a recognised image"
UNDECODABLE = "could not be decoded"
POLYGLOT = "HTML, SVG or script code"
TOO_MANY_PIXELS = "this server accepts at most 100.0 MP"
DEEP = "more than 32 levels deep"

CORPUS: list[Case] = [
    # Base64 and data URL syntax
    upload("base64-bad-padding-inside", JPEG_B64[:40] + "=" + JPEG_B64[41:], 422, NOT_BASE64),
    upload("base64-too-much-padding", ODD_B64 + "==", 422, NOT_BASE64),
    upload("base64-one-char-too-many", JPEG_B64 + "A", 422, NOT_BASE64),
    upload("base64-wrong-alphabet", JPEG_B64[:30] + "*!" + JPEG_B64[32:], 422, NOT_BASE64),
    # A JPEG's base64 starts "/9j/": with one "-" it mixes the standard and URL-safe alphabets.
    upload("base64-two-alphabets", JPEG_B64[:10] + "-" + JPEG_B64[11:], 422, NOT_BASE64),
    upload("base64-non-ascii-digit", JPEG_B64[:30] + "\u0663" + JPEG_B64[31:], 422, NOT_BASE64),
    upload(
        "base64-url-safe-alphabet", base64.urlsafe_b64encode(JPEG_ODD).decode(), 422, NOT_BASE64
    ),
    upload("base64-missing-padding", ODD_B64.rstrip("="), 422, NOT_BASE64),
    upload("data-url-without-base64", "data:image/jpeg," + JPEG_B64, 422, "must be base64-encoded"),
    upload(
        "data-url-without-comma", "data:image/jpeg;base64" + JPEG_B64, 422, "malformed data URL"
    ),
    upload("data-url-empty", "data:image/png;base64,", 422, "the image data is empty"),
    upload("image-empty-string", "", 422, "the image data is empty"),
    upload("data-url-script-as-text", "data:text/html,<script>alert(1)</script>", 422, "base64"),
    upload(
        "data-url-script-base64",
        "data:text/html;base64," + base64.b64encode(b"<script>alert(1)</script>").decode(),
        415,
        NOT_AN_IMAGE,
    ),
    upload("image-is-a-web-address", "https://example.com/cat.jpg", 422, NOT_BASE64),
    upload("image-is-a-file-url", "file:///etc/passwd", 422, NOT_BASE64),
    # Magic bytes, not the declared type
    upload("png-declared-as-jpeg", data_url(PNG, "image/jpeg"), 200),
    upload(
        "text-declared-as-jpeg", data_url(b"just some words\n", "image/jpeg"), 415, NOT_AN_IMAGE
    ),
    # Truncated and corrupt images
    upload("jpeg-truncated", data_url(JPEG[: len(JPEG) // 2]), 422, f"JPEG image {UNDECODABLE}"),
    upload("jpeg-start-marker-only", data_url(b"\xff\xd8\xff"), 422, UNDECODABLE),
    upload("png-corrupt", data_url(flip_middle(PNG), "image/png"), 422, f"PNG image {UNDECODABLE}"),
    upload("png-signature-only", data_url(b"\x89PNG\r\n\x1a\n"), 422, UNDECODABLE),
    upload("webp-truncated", data_url(WEBP[:40], "image/webp"), 422, f"WEBP image {UNDECODABLE}"),
    upload("webp-riff-header-only", data_url(b"RIFF\0\0\0\0WEBP"), 422, UNDECODABLE),
    # Decompression bombs: huge dimensions in a tiny header, refused before any decoding
    upload(
        "png-header-claims-100000x100000",
        data_url(png_claiming(100_000, 100_000), "image/png"),
        413,
        f"100000x100000 pixels (10000.0 MP); {TOO_MANY_PIXELS}",
    ),
    upload("png-header-claims-2^31-wide", data_url(png_claiming(2**31 - 1, 1)), 422, UNDECODABLE),
    upload(
        "jpeg-header-claims-65000x65000",
        data_url(jpeg_claiming(65_000, 65_000)),
        413,
        f"65000x65000 pixels (4225.0 MP); {TOO_MANY_PIXELS}",
    ),
    upload(
        "webp-header-claims-16383x16383",
        data_url(webp_claiming(16383, 16383), "image/webp"),
        413,
        f"16383x16383 pixels (268.4 MP); {TOO_MANY_PIXELS}",
    ),
    # SVG, HTML and polyglots
    upload("svg-declared-as-png", data_url(SVG, "image/png"), 415, NOT_AN_IMAGE),
    upload("svg-declared-as-svg", data_url(SVG, "image/svg+xml"), 415, NOT_AN_IMAGE),
    upload("html-declared-as-jpeg", data_url(HTML), 415, NOT_AN_IMAGE),
    upload(
        "png-with-html-appended",
        data_url(PNG + HTML, "image/png"),
        415,
        f"PNG file also carries {POLYGLOT}",
    ),
    upload(
        "jpeg-with-svg-in-a-comment",
        data_url(jpeg_with_comment(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">')),
        415,
        f"JPEG file also carries {POLYGLOT}",
    ),
    upload("jpeg-with-jar-appended", data_url(JPEG + zip_archive()), 415, "a ZIP archive"),
    upload(
        "gifar",
        data_url(encode(gradient_image(8, 8), ".gif") + zip_archive(), "image/gif"),
        415,
        "GIF images are not supported",
    ),
    # Text, PDF and ZIP, as images and as request bodies
    upload("pdf-as-image", data_url(PDF, "application/pdf"), 415, NOT_AN_IMAGE),
    upload("zip-as-image", data_url(zip_archive(), "application/zip"), 415, NOT_AN_IMAGE),
    raw(
        "text-body",
        b"make it black and white",
        "text/plain",
        415,
        "must be JSON",
        error="unsupported_media_type",
    ),
    raw("pdf-body", PDF, "application/pdf", 415, "Content-Type: application/json"),
    raw("zip-body", zip_archive(), "application/zip", 415, "must be JSON"),
    raw(
        "form-body",
        b"prompt=make+it+black",
        "application/x-www-form-urlencoded",
        415,
        "must be JSON",
    ),
    raw(
        "json-without-content-type", json.dumps({"prompt": BW}).encode(), None, 415, "must be JSON"
    ),
    raw(
        "json-as-text-plain", json.dumps({"prompt": BW}).encode(), "text/plain", 415, "must be JSON"
    ),
    # Prompts
    prompt("prompt-1001-characters", "x" * 1001, 422, "prompt: the prompt is 1001 characters long"),
    prompt("prompt-50000-characters", "x" * 50_000, 422, "50000 characters long; at most 1000"),
    prompt(
        "prompt-control-characters-only",
        "\x00\x01\x07\x1b\x7f\u200b\u202e",
        422,
        "the prompt is empty",
    ),
    prompt("prompt-with-nul-bytes", "make\x00 it black\x00 and white", 200, stored_prompt=BW),
    prompt(
        "prompt-hebrew-kept", "תהפוך את זה לשחור לבן", 200, stored_prompt="תהפוך את זה לשחור לבן"
    ),
    prompt("prompt-persian-zwnj-kept", "روشن\u200cتر کن", 200, stored_prompt="روشن\u200cتر کن"),
    prompt(
        "prompt-emoji-zwj-kept",
        "make it 👩\u200d🚀 style 🎨",
        200,
        stored_prompt="make it 👩\u200d🚀 style 🎨",
    ),
    prompt(
        "prompt-bidi-override-dropped",
        "make it \u202eetihw dna kcalb\u202c",
        200,
        stored_prompt="make it etihw dna kcalb",
    ),
    # JSON shape and size
    raw("json-10000-deep-array", b"[" * 10_000 + b"]" * 10_000, "application/json", 422, DEEP),
    raw(
        "json-10000-deep-object",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "application/json",
        422,
        DEEP,
    ),
    raw("json-10000-deep-never-closed", b"[" * 10_000, "application/json", 422, DEEP),
    raw(
        "json-33-deep", b'{"prompt":' + b"[" * 32 + b"]" * 32 + b"}", "application/json", 422, DEEP
    ),
    raw(
        "json-32-deep-reaches-validation",
        b'{"prompt":' + b"[" * 31 + b"]" * 31 + b"}",
        "application/json",
        422,
        "prompt: Input should be a valid string",
    ),
    raw(
        "json-2000-values",
        b'{"prompt": [' + b"1," * 2000 + b"1]}",
        "application/json",
        422,
        "more than 1000 values",
    ),
    raw(
        "json-duplicate-keys",
        b'{"prompt": "make it brighter", "prompt": "make it black and white", "image": "x"}',
        "application/json",
        422,
        "names 'prompt' twice",
    ),
    raw(
        "json-5000-digit-number",
        b'{"prompt": ' + b"9" * 5000 + b"}",
        "application/json",
        422,
        "too many digits",
    ),
    raw("json-nan", b'{"prompt": NaN}', "application/json", 422, "NaN is not a JSON value"),
    raw(
        "json-infinity",
        b'{"prompt": -Infinity}',
        "application/json",
        422,
        "-Infinity is not a JSON value",
    ),
    raw("json-empty-body", b"", "application/json", 422, "the request body is empty"),
    raw("json-cut-off", b'{"prompt": "make it', "application/json", 422, "not valid JSON"),
    raw("json-not-utf8", b'{"prompt": "\xc3\x28"}', "application/json", 422, "not UTF-8"),
    raw("json-null", b"null", "application/json", 422, "valid dictionary"),
    Case(
        "unknown-field",
        "POST",
        "/edit-image/",
        422,
        "parent_edit_id: not a field of this request",
        json={"prompt": BW, "image": data_url(JPEG), "parent_edit_id": KNOWN_ID},
    ),
    # Feedback
    feedback(
        "feedback-rating-huge",
        {"edit_uuid": KNOWN_ID, "rating": 10**400},
        422,
        "rating:",
    ),
    raw(
        "feedback-rating-1e999",
        b'{"edit_uuid": "%s", "rating": 1e999}' % KNOWN_ID.encode(),
        "application/json",
        422,
        "rating: Input should be 0 or 1",
        path="/feedback/",
    ),
    feedback(
        "feedback-rating-true",
        {"edit_uuid": KNOWN_ID, "rating": True},
        422,
        "rating: Input should be 0 or 1",
    ),
    feedback(
        "feedback-text-2001",
        {"edit_uuid": KNOWN_ID, "rating": 0, "feedback_text": "x" * 2001},
        422,
        "feedback_text: 2001 characters is too long; at most 2000",
    ),
    feedback(
        "feedback-text-30000",
        {"edit_uuid": KNOWN_ID, "rating": 0, "feedback_text": "x" * 30_000},
        422,
        "feedback_text: 30000 characters is too long; at most 2000",
    ),
    feedback(
        "feedback-text-control-only",
        {"edit_uuid": KNOWN_ID, "rating": 0, "feedback_text": "\x00\x00\u202e\u200b"},
        422,
        "text is required with a thumbs down",
    ),
    feedback(
        "feedback-unknown-field",
        {"edit_uuid": KNOWN_ID, "rating": 1, "comment": "nice"},
        422,
        "comment: not a field of this request",
    ),
    # Methods
    Case(
        "get-edit-image",
        "GET",
        "/edit-image/",
        405,
        "GET is not allowed here; this endpoint answers POST",
    ),
    Case("put-edit", "PUT", f"/edit/{KNOWN_ID}", 405, "answers", error="method_not_allowed"),
    Case("put-feedback", "PUT", "/feedback/", 405, "answers POST"),
    Case("post-health", "POST", "/health", 405, "answers GET"),
    # Path traversal on /images/ (percent-encoded, so no client normalises it away)
    Case("images-dot-dot", "GET", "/images/%2e%2e/mizual.db", 404, "no such image"),
    Case(
        "images-encoded-slash", "GET", "/images/preview/..%2f..%2fmizual.db", 404, "no such image"
    ),
    Case(
        "images-backslashes", "GET", "/images/preview%5c..%5c..%5cmizual.db", 404, "no such image"
    ),
    Case("images-absolute", "GET", "/images/%2fetc%2fpasswd", 404, "no such image"),
    Case("images-nul", "GET", "/images/preview/originals/x.jpg%00.png", 404, "no such image"),
    Case(
        "images-name-too-long",
        "GET",
        "/images/preview/originals/" + "a" * 300 + ".jpg",
        404,
        "no such image",
    ),
    Case("images-too-deep", "GET", "/images/" + "a/" * 600 + "x.jpg", 404, "no such image"),
    # Admin routes with hostile credentials
    Case("debug-no-token", "GET", "/debug/cache-stats", 401, "Authorization: Bearer"),
    Case(
        "debug-token-prefix",
        "GET",
        "/debug/cache-stats",
        401,
        "Authorization: Bearer",
        headers={"authorization": "Bearer " + ADMIN_TOKEN[:-1]},
    ),
    Case(
        "debug-token-non-ascii",
        "GET",
        "/debug/cache-stats",
        401,
        "Authorization: Bearer",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}\xe9".encode("latin-1")},
    ),
]
CORPUS += id_cases()


def test_corpus_is_large_and_names_are_unique() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names))
    assert len(CORPUS) >= 50


# Running it -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    """Trusts 127.0.0.1 as a proxy, so that each case is a client of its own (X-Forwarded-For)
    and no case meets another's rate limit."""
    instance = MizualServer(
        tmp_path_factory.mktemp("hostile"),
        env={"TRUSTED_PROXIES": "127.0.0.1", "ADMIN_TOKEN": ADMIN_TOKEN},
    ).start()
    yield instance
    instance.stop()


def _address(index: int) -> str:
    return f"10.66.{index // 250}.{index % 250 + 1}"


def send(client: httpx.Client, case: Case, address: str) -> httpx.Response:
    headers: dict[str, str | bytes] = {"x-forwarded-for": address}
    content = case.content
    if case.json is not NO_BODY:
        content = json.dumps(case.json).encode()
        headers["content-type"] = "application/json"
    headers.update(case.headers)
    return client.request(case.method, case.path, content=content, headers=headers)


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_hostile_input(hostile_server: MizualServer, case: Case) -> None:
    with hostile_server.client() as client:
        started = time.monotonic()
        response = send(client, case, _address(CORPUS.index(case)))
        elapsed = time.monotonic() - started
        assert response.status_code == case.status, response.text[:500]
        if case.status >= 400:
            assert elapsed < QUICK_SECONDS, f"refused after {elapsed:.1f}s"
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert set(body) == {"error", "detail"}, body
            if case.error is not None:
                assert body["error"] == case.error, body
            detail: str = body["detail"]
            assert case.detail.lower() in detail.lower(), f"{case.detail!r} not in {detail!r}"
            assert len(detail) <= 400, detail  # a sentence, never the input echoed back whole
        elif case.stored_prompt is not None:
            status = client.get(
                response.json()["polling_url"], headers={"x-forwarded-for": _address(0)}
            ).json()
            assert status["prompt"] == case.stored_prompt


def test_the_server_is_healthy_after_the_corpus(hostile_server: MizualServer) -> None:
    with hostile_server.client() as client:
        assert client.get("/health").status_code == 200
        response = client.post(
            "/edit-image/",
            json={"prompt": BW, "image": data_url(jpeg_bytes(96, 64))},
            headers={"x-forwarded-for": "10.67.0.1"},
        )
        assert response.status_code == 200, response.text
        status = wait_for(client, response.json()["edit_id"])
        assert status["status"] == "completed", status
        # Every URL the API handed out serves an image, and the original is the upload.
        assert httpx.get(status["edited_image_url"], timeout=30).status_code == 200
    log = hostile_server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "Exception in ASGI application" not in log
