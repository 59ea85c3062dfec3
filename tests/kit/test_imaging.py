"""Direct tests of image type detection, validation, loading and encoding, and of data URLs."""

from __future__ import annotations

import base64
import io
import struct
import tracemalloc
import zlib

import pytest
import pyvips
from PIL import Image as PILImage

from mizual.errors import InvalidImage, InvalidInput, PayloadTooLarge, UnsupportedImageType
from mizual.kit import imaging
from mizual.kit.dataurl import decode_image_payload, describe_bytes
from tests.support import encode, gradient_image, jpeg_bytes

DEFAULT_BLOCKED = ["heic", "avif", "gif"]
BIG_CAP = 100_000_000


def pil_bytes(mode: str, fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    colour = (200, 40, 90, 0)[: len(mode)] if mode != "L" else 128
    out = io.BytesIO()
    PILImage.new(mode, size, colour).save(out, fmt)
    return out.getvalue()


def bmp_with_alpha(width: int = 40, height: int = 30) -> bytes:
    """A 32-bit BMP with an alpha mask (V4 header): left half transparent. Pillow writes RGBA
    as plain 32-bit BMP, whose fourth byte readers ignore, so this one is built by hand."""
    pixels = b"".join(
        struct.pack("<BBBB", 30, 20, 200, 0 if x < width // 2 else 255)
        for _ in range(height)
        for x in range(width)
    )
    dib = struct.pack("<IiiHHIIiiII", 108, width, height, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    dib += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"sRGB" + bytes(48)
    offset = 14 + len(dib)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + dib + pixels


def bmp_header_only(width: int, height: int) -> bytes:
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 300, 0, 0, 54) + dib + b"\0" * 300


def inspect(data: bytes, *, unsupported: list[str] | None = None, max_pixels: int = BIG_CAP):
    return imaging.inspect(
        data,
        unsupported=DEFAULT_BLOCKED if unsupported is None else unsupported,
        max_pixels=max_pixels,
    )


# Detection --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg_bytes(16, 16), "jpeg"),
        (encode(gradient_image(16, 16), ".png"), "png"),
        (encode(gradient_image(16, 16), ".webp"), "webp"),
        (encode(gradient_image(16, 16), ".tiff"), "tiff"),
        (encode(gradient_image(16, 16), ".tiff", bigtiff=True), "tiff"),
        (b"MM\x00*" + bytes(60), "tiff"),
        (pil_bytes("RGB", "BMP"), "bmp"),
        (encode(gradient_image(16, 16), ".gif"), "gif"),
        (encode(gradient_image(16, 16), ".avif"), "avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(40), "heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafheix" + bytes(40), "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(40), "avif"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_detect_format_reads_magic_bytes(data: bytes, expected: str) -> None:
    assert imaging.detect_format(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",  # too short to be a JPEG
        b"hello world, just text",
        b"BMW builds cars; this text merely starts with the BMP magic",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"%PDF-1.4\n",
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(40),  # an MP4 video
        b"\x89PNG\r\n",  # a cut-off PNG signature
    ],
)
def test_detect_format_knows_what_is_not_an_image(data: bytes) -> None:
    assert imaging.detect_format(data) is None


def test_check_type_names_the_blocked_format_and_the_way_out() -> None:
    gif = encode(gradient_image(8, 8), ".gif")
    with pytest.raises(UnsupportedImageType, match=r"'gif'.*convert the image to PNG or JPEG"):
        imaging.check_type(gif, unsupported=DEFAULT_BLOCKED)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(40)
    with pytest.raises(UnsupportedImageType, match="Most Compatible"):
        imaging.check_type(heic, unsupported=DEFAULT_BLOCKED)
    # Formats outside the allowed set stay blocked even when the setting forgets them.
    with pytest.raises(UnsupportedImageType, match="GIF images are not supported"):
        imaging.check_type(gif, unsupported=[])


def test_check_type_obeys_the_unsupported_setting_for_allowed_formats() -> None:
    png = encode(gradient_image(8, 8), ".png")
    assert imaging.check_type(png, unsupported=DEFAULT_BLOCKED) == "png"
    with pytest.raises(UnsupportedImageType) as caught:
        imaging.check_type(png, unsupported=["png"])
    assert caught.value.status_code == 415
    assert "'png'" in caught.value.message
    assert "PNG images are not supported on this server" in caught.value.message


def test_unknown_bytes_are_415_listing_what_is_accepted() -> None:
    with pytest.raises(UnsupportedImageType, match="JPEG, PNG, WebP, BMP or TIFF"):
        imaging.check_type(b"plain text", unsupported=[])


# Inspection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt", "alpha", "content_type", "extension"),
    [
        (jpeg_bytes(40, 30), "jpeg", False, "image/jpeg", "jpg"),
        (encode(gradient_image(40, 30), ".png"), "png", False, "image/png", "png"),
        (encode(gradient_image(40, 30).bandjoin(255), ".png"), "png", True, "image/png", "png"),
        (encode(gradient_image(40, 30), ".webp"), "webp", False, "image/webp", "webp"),
        (encode(gradient_image(40, 30), ".tiff"), "tiff", False, "image/tiff", "tiff"),
        (pil_bytes("RGB", "BMP"), "bmp", False, "image/bmp", "bmp"),
        (bmp_with_alpha(), "bmp", True, "image/bmp", "bmp"),
    ],
)
def test_inspect_reports_format_size_and_alpha(
    data: bytes, fmt: str, alpha: bool, content_type: str, extension: str
) -> None:
    info = inspect(data)
    assert (info.format, info.width, info.height) == (fmt, 40, 30)
    assert bool(info.has_alpha) is alpha
    assert (info.content_type, info.extension) == (content_type, extension)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (jpeg_bytes()[:5000], "JPEG"),
        (encode(gradient_image(), ".png")[:-4000], "PNG"),
        (encode(gradient_image(), ".webp")[:200], "WEBP"),
        (encode(gradient_image(), ".tiff")[:20000], "TIFF"),
        (pil_bytes("RGB", "BMP", (200, 200))[:5000], "BMP"),
    ],
)
def test_inspect_refuses_truncated_images_as_invalid(data: bytes, name: str) -> None:
    with pytest.raises(InvalidImage) as caught:
        inspect(data)
    assert caught.value.status_code == 422
    assert caught.value.code == "invalid_image"
    assert f"the {name} image could not be decoded" in caught.value.message


def test_inspect_refuses_a_png_with_flipped_bytes() -> None:
    broken = bytearray(encode(gradient_image(), ".png"))
    middle = len(broken) // 2
    broken[middle : middle + 32] = bytes(b ^ 0xFF for b in broken[middle : middle + 32])
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        inspect(bytes(broken))


def test_pixel_cap_is_inclusive_and_names_both_counts() -> None:
    image = jpeg_bytes(100, 100)
    assert inspect(image, max_pixels=10_000).width == 100
    with pytest.raises(PayloadTooLarge) as caught:
        inspect(image, max_pixels=9_999)
    assert caught.value.status_code == 413
    assert "100x100 pixels (10,000 pixels)" in caught.value.message
    assert "at most 9,999 pixels" in caught.value.message


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_pixel_cap_is_checked_from_the_header_before_decoding() -> None:
    # A PNG that promises 20000x20000 pixels but holds one row: decoding would call it
    # truncated; "too large" shows the header decided first and nothing was decoded.
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    one_row = png_chunk(b"IDAT", zlib.compress(bytes(20001)))
    data = b"\x89PNG\r\n\x1a\n" + header + one_row + png_chunk(b"IEND", b"")
    with pytest.raises(PayloadTooLarge, match=r"20000x20000 pixels \(400\.0 MP\).*100\.0 MP"):
        inspect(data)


def test_huge_bmp_is_too_large_not_corrupt() -> None:
    # Pillow's own decompression-bomb guard must not turn this into "truncated or corrupt".
    with pytest.raises(PayloadTooLarge, match="20000x20000 pixels"):
        inspect(bmp_header_only(20000, 20000))
    with pytest.raises(PayloadTooLarge, match="12000x10000 pixels"):
        inspect(bmp_header_only(12000, 10000))


# Loading and encoding ---------------------------------------------------------------------------


def test_load_applies_exif_orientation() -> None:
    image = gradient_image(40, 20).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)  # "rotate 90 to display"
    loaded = imaging.load(image.write_to_buffer(".jpg"))
    assert (loaded.width, loaded.height) == (20, 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_load_in_strips_gives_the_pixels_of_a_whole_decode_in_every_orientation(
    orientation: int,
) -> None:
    """Turning a photo upright reads it out of order: beyond the strip decoder's small cache
    (1200x860 is), a flipped or turned photo is decoded whole instead of failing."""
    image = gradient_image(1200, 860).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    data = image.write_to_buffer(".jpg", Q=90)
    streamed = imaging.encode_result(imaging.load(data, sequential=True))
    whole = imaging.encode_result(imaging.load(data))
    assert streamed.data == whole.data
    assert (whole.width, whole.height) == ((860, 1200) if orientation >= 5 else (1200, 860))


def test_load_gives_8_bit_images_and_keeps_bmp_alpha() -> None:
    sixteen = encode(
        gradient_image(20, 10).cast("ushort").copy(interpretation="rgb16") * 256, ".png"
    )
    loaded = imaging.load(sixteen)
    assert loaded.format == "uchar"
    assert loaded.interpretation == "srgb"

    bmp = imaging.load(bmp_with_alpha(40, 30))
    assert (bmp.width, bmp.height, bmp.bands, bmp.format) == (40, 30, 4, "uchar")
    assert bmp.hasalpha()
    assert bmp.extract_band(3).crop(0, 0, 20, 30).max() == 0
    assert bmp.extract_band(3).crop(20, 0, 20, 30).min() == 255


def test_encode_result_is_a_progressive_jpeg_without_metadata() -> None:
    image = gradient_image(64, 48).copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "somebody")
    encoded = imaging.encode_result(image)
    assert (encoded.content_type, encoded.extension) == ("image/jpeg", "jpg")
    decoded = pyvips.Image.new_from_buffer(encoded.data, "")
    assert decoded.get("interlaced") == 1
    assert "exif-data" not in decoded.get_fields()


def test_encode_result_streams_a_huge_result_as_a_baseline_jpeg() -> None:
    image = gradient_image(64, 48)
    small_limit = 64 * 48 - 1  # stands for a 50 MP photo against the 16 MP default
    encoded = imaging.encode_result(image, progressive_max_pixels=small_limit)
    decoded = pyvips.Image.new_from_buffer(encoded.data, "")
    assert (encoded.content_type, decoded.width, decoded.height) == ("image/jpeg", 64, 48)
    assert decoded.get("jpeg-multiscan") == 0  # baseline: one scan
    at_the_limit = imaging.encode_result(image, progressive_max_pixels=64 * 48)
    assert pyvips.Image.new_from_buffer(at_the_limit.data, "").get("jpeg-multiscan") == 1


def test_encode_result_keeps_transparency_as_png() -> None:
    alpha = (pyvips.Image.xyz(32, 16)[0] >= 16).ifthenelse(255, 0).cast("uchar")
    encoded = imaging.encode_result(gradient_image(32, 16).bandjoin(alpha))
    assert (encoded.content_type, encoded.extension) == ("image/png", "png")
    decoded = pyvips.Image.new_from_buffer(encoded.data, "")
    assert decoded.hasalpha()
    assert decoded.extract_band(3).crop(0, 0, 16, 16).max() == 0


# Data URLs --------------------------------------------------------------------------------------

DATA = jpeg_bytes(16, 16)
B64 = base64.b64encode(DATA).decode()


@pytest.mark.parametrize(
    "payload",
    [
        f"data:image/jpeg;base64,{B64}",
        f"data:image/png;base64,{B64}",  # the declared type does not matter
        f"DATA:Image/JPEG;BASE64,{B64}",
        f"data:;base64,{B64}",
        f"data:image/jpeg;charset=utf-8;name=a.jpg;base64,{B64}",
        B64,
        base64.encodebytes(DATA).decode(),  # wrapped at 76 characters
        f"  \n{B64}\n  ",
    ],
)
def test_decode_accepts_data_urls_and_bare_base64(payload: str) -> None:
    assert decode_image_payload(payload, max_bytes=10**6) == DATA


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("data:image/jpeg;base64" + B64, "malformed data URL"),
        ("data:image/jpeg;base64;" + B64, "malformed data URL"),
        ("data:image;base64," + B64, "malformed data URL"),
        ("data:image/jpeg," + B64, "must be base64-encoded"),
        ("data:text/plain;charset=utf-8,hello", "must be base64-encoded"),
        ("data:image/jpeg;base64,abc$def", "not valid base64"),
        ("data:image/jpeg;base64,ÿØÿà", "not valid base64"),
        ("data:image/jpeg;base64,QUJ", "not valid base64"),  # bad padding
        ("", "the image data is empty"),
        (" \t\n", "the image data is empty"),
        ("data:image/jpeg;base64,", "the image data is empty"),
        ("data:image/jpeg;base64,  \n", "the image data is empty"),
    ],
)
def test_decode_refuses_bad_payloads_with_a_reason(payload: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_image_payload(payload, max_bytes=10**6)
    assert caught.value.status_code == 422
    assert caught.value.message.startswith("image: ")
    assert message in caught.value.message


def test_decode_size_cap_is_exact() -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    payload = base64.b64encode(data).decode()
    assert decode_image_payload(payload, max_bytes=len(data)) == data
    with pytest.raises(PayloadTooLarge, match=r"larger than 10\.0 KiB"):
        decode_image_payload(payload, max_bytes=len(data) - 1)


BIG = bytes(range(256)) * 16_000  # 4 MB: its base64 spans several of the decoder's slices


@pytest.mark.parametrize(
    ("payload", "data"),
    [
        ("data:image/jpeg;base64," + base64.b64encode(BIG).decode(), BIG),
        (base64.b64encode(BIG).decode(), BIG),
        ("data:;base64," + base64.encodebytes(BIG).decode(), BIG),  # wrapped at 76 characters
        (base64.b64encode(BIG[:-1]).decode(), BIG[:-1]),  # one padding character, not two
        (base64.b64encode(BIG[:-2]).decode(), BIG[:-2]),  # no padding
    ],
    ids=["data URL", "bare", "wrapped", "padded once", "unpadded"],
)
def test_big_payloads_decode_exactly(payload: str, data: bytes) -> None:
    assert decode_image_payload(payload, max_bytes=10**7) == data


def test_padding_before_the_end_is_refused_also_at_a_slice_boundary() -> None:
    whole = base64.b64encode(BIG).decode()
    for at in (4, 1 << 20, 3 << 20):  # inside the first slice, and where slices meet
        payload = "data:image/jpeg;base64," + whole[: at - 4] + "QQ==" + whole[at:]
        with pytest.raises(InvalidInput, match="not valid base64"):
            decode_image_payload(payload, max_bytes=10**7)


def test_decoding_holds_the_data_not_another_copy_of_the_text() -> None:
    """The text after a data URL's header was sliced out whole: 4/3 of the photo held beside
    the decoded bytes (20 MB more for a 15 MB photo)."""
    payload = "data:image/jpeg;base64," + base64.b64encode(BIG * 2).decode()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        data = decode_image_payload(payload, max_bytes=10**8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data) == 2 * len(BIG)
    # The data (with the growth of its buffer) and one slice of text; a copy of the text
    # beside the data would be 2.3 times the data.
    assert peak - before < 1.5 * len(data), f"{(peak - before) / len(data):.2f} times the data"


def test_decode_refuses_oversized_text_before_decoding_it() -> None:
    # Invalid characters would fail base64 decoding; the length check must come first.
    with pytest.raises(PayloadTooLarge, match=r"larger than 1\.0 MiB"):
        decode_image_payload("data:image/jpeg;base64," + "$" * 3_000_000, max_bytes=1024**2)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (20 * 1024**2, "20.0 MiB"),
        (5_000_000, "4.8 MiB"),
        (50_000, "48.8 KiB"),
        (1024, "1.0 KiB"),
        (500, "500 bytes"),
    ],
)
def test_sizes_read_well_even_when_small(size: int, text: str) -> None:
    assert describe_bytes(size) == text


def test_checking_and_editing_an_image_leaves_nothing_cached() -> None:
    """An API process checks every upload and a worker decodes and encodes every edit: libvips'
    operation cache kept each recent one with its input (+40 MB of RSS per 50 MP upload)."""
    upload = jpeg_bytes(320, 240)
    imaging.inspect(upload, unsupported=[], max_pixels=10_000_000)
    result = imaging.encode_result(imaging.load(upload).flip("horizontal"))
    assert result.data[:2] == b"\xff\xd8"
    assert pyvips.cache_get_size() == 0
