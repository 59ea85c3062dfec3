"""Image type detection, validation and encoding (pyvips; Pillow only for BMP, which libvips lacks).

Every function here is blocking CPU work: call it from a worker thread, never inside `async def`.
"""

from __future__ import annotations

import io
import mimetypes
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyvips

from mizual.errors import InvalidImage, PayloadTooLarge, UnsupportedImageType

if TYPE_CHECKING:
    from PIL.BmpImagePlugin import BmpImageFile

ALLOWED_TYPES = ("jpeg", "png", "webp", "bmp", "tiff")
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "avif": "image/avif",  # a result format only: AVIF uploads are refused (_WHY_BLOCKED)
}
EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "bmp": "bmp",
    "tiff": "tiff",
    "avif": "avif",
}
# The local storage's files are served with the type Python's `mimetypes` guesses from the name,
# and Python 3.11 knows neither .webp nor .avif by itself (only from /etc/mime.types, which a slim
# container lacks): without this, a WebP or AVIF result would be served as
# application/octet-stream, which a browser, with nosniff, refuses to show.
for _format, _extension in EXTENSIONS.items():
    mimetypes.add_type(CONTENT_TYPES[_format], f".{_extension}")
_WHY_BLOCKED = {
    "heic": "HEIC photos (the iPhone default) are not supported; export the photo as JPEG "
    "(on iPhone: Settings > Camera > Formats > Most Compatible) and try again",
    "avif": "AVIF images are not supported; convert the image to JPEG, PNG or WebP and try again",
    "gif": "GIF images are not supported (animated and palette images edit poorly); "
    "convert the image to PNG or JPEG and try again",
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# The DIB header's size, right after "BM" and the file header: a text that starts "BM" is no BMP.
_BMP_HEADER_SIZES = {size.to_bytes(4, "little") for size in (12, 16, 40, 52, 56, 64, 108, 124)}
# libvips keeps its last 100 operations, inputs included, to answer a repeat at once. Mizual
# never repeats one (every upload and every edit is a new buffer), so the cache only held on to
# memory: an API process kept each recent upload (+40 MB of RSS per 50 MP JPEG, up to 100 of
# them), since the cache's own limit does not count the buffers it references.
pyvips.cache_set_max(0)

RESULT_FORMATS = ("jpeg", "png", "webp", "avif")
RESULT_JPEG_QUALITY = 85
# Each lossy format's default quality (PNG is lossless). On the 12 MP bench photo WebP 80 and
# AVIF 60 give files of 0.55x and 0.4x the size of JPEG 85's.
DEFAULT_QUALITY = {"jpeg": RESULT_JPEG_QUALITY, "webp": 80, "avif": 60}
# Encoder effort, measured on a 12 MP photo on 2 cores (bench/RESULTS.md, 2026-12-03): libvips'
# default AVIF effort (4) took 16 s, effort 1 takes 0.7 s for a file within 3% of the size; WebP
# effort 2 takes half the time of the default (4) for a file 2% larger.
WEBP_EFFORT = 2
AVIF_EFFORT = 1
# The AV1 encoder holds about 25 bytes per pixel whatever the effort (0.3 GB at 12 MP, 0.9 GB at
# 50 MP): one AVIF encode at a time per process, so that several editing threads finishing
# together cannot multiply that.
_AVIF_ENCODES = threading.Lock()
# The WebP format stores each side in 14 bits: a larger result is written as if JPEG was asked
# (PNG with transparency) rather than failing an edit that has already been paid for.
WEBP_MAX_SIDE = 16383
# Above this size a JPEG result is written baseline, without optimised Huffman tables: both of
# those make libjpeg hold every DCT coefficient of the image until the end (a 50 MP result
# peaked at 258 MB, against 76 MB baseline), where a baseline encode streams. A typical 12 MP
# phone photo stays progressive; a 50 MP result is then 17-18% larger (8.8 against 7.5 MB for
# the bench photo).
PROGRESSIVE_MAX_PIXELS = 16_000_000
# Markup a browser would run if the file were ever taken for a page or an SVG: a polyglot. Each
# signature is long enough (7+ bytes, or 6 with a fixed end) that compressed pixel data matches
# it by chance in about one upload of 20 MB in 10^5, or far fewer; a short one such as "<svg"
# would match about one 20 MB photo in 30.
_MARKUP = (  # searched in the lower-cased file; three literal-led patterns scan fastest
    re.compile(rb"<(?:script|iframe|!doctype\s+html|html[\s>])"),
    re.compile(rb"www\.w3\.org/2000/svg"),
    re.compile(rb"on(?:load|error)\s*="),
)
_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    has_alpha: bool

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    format: str  # one of RESULT_FORMATS: what was written, which may differ from what was asked
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def info(self) -> dict[str, Any]:
        """What the status view tells of the result (its `result` field)."""
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


def detect_format(data: bytes) -> str | None:
    """The image format named by the file's magic bytes, or None when it is no known image."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26 and head[14:18] in _BMP_HEADER_SIZES:
        return "bmp"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 32), 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heic"
    return None


def check_type(data: bytes, *, unsupported: list[str]) -> str:
    image_format = detect_format(data)
    if image_format is None:
        raise UnsupportedImageType(
            "the file is not a recognised image; send a JPEG, PNG, WebP, BMP or TIFF image"
        )
    if image_format in unsupported or image_format not in ALLOWED_TYPES:
        reason = _WHY_BLOCKED.get(
            image_format, f"{image_format.upper()} images are not supported on this server"
        )
        raise UnsupportedImageType(f"unsupported image format '{image_format}': {reason}")
    hidden = _hidden_content(data)
    if hidden:
        raise UnsupportedImageType(
            f"the {image_format.upper()} file also carries {hidden}, which an image does not "
            "need and this server does not accept; save the picture again as a new "
            f"{image_format.upper()} (most editors strip such content) and try again"
        )
    return image_format


def _hidden_content(data: bytes) -> str | None:
    """What makes an image a polyglot (an image that is also a page, a script or an archive,
    such as a PNG with HTML appended or a GIFAR), or None. Trailing data alone is allowed:
    phones append video (motion photos) and vendor records after a JPEG's end."""
    lowered = data.lower()
    if any(pattern.search(lowered) for pattern in _MARKUP):
        return "HTML, SVG or script code"
    if _ends_with_zip(data):
        return "a ZIP archive (a JAR, for instance)"
    return None


def _ends_with_zip(data: bytes) -> bool:
    """A ZIP archive's end record, with its comment, ends the file exactly."""
    tail = data[-(_ZIP_END_SIZE + 0xFFFF) :]
    position = tail.rfind(_ZIP_END)
    while position >= 0:
        end = tail[position + 20 : position + 22]
        if len(end) == 2 and position + _ZIP_END_SIZE + int.from_bytes(end, "little") == len(tail):
            return True
        position = tail.rfind(_ZIP_END, 0, position)
    return False


def inspect(data: bytes, *, unsupported: list[str], max_pixels: int) -> ImageInfo:
    """Validate an upload: type by magic bytes, size from the header, then a full decode."""
    image_format = check_type(data, unsupported=unsupported)
    if image_format == "bmp":
        return _inspect_bmp(data, max_pixels=max_pixels)
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="truncated")
        _check_pixels(header.width, header.height, max_pixels=max_pixels)
        header.avg()  # decodes every pixel, streaming; fails on truncated or corrupt data
    except pyvips.Error as exc:
        raise InvalidImage(
            f"the {image_format.upper()} image could not be decoded; it may be truncated or "
            "corrupt. Re-export it and try again"
        ) from exc
    return ImageInfo(image_format, header.width, header.height, header.hasalpha())


def _inspect_bmp(data: bytes, *, max_pixels: int) -> ImageInfo:
    from PIL import Image as PILImage

    try:
        with _open_bmp(data) as pil:
            _check_pixels(pil.width, pil.height, max_pixels=max_pixels)
            pil.load()
            return ImageInfo("bmp", pil.width, pil.height, pil.mode in {"RGBA", "LA", "PA"})
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as exc:
        raise InvalidImage(
            "the BMP image could not be decoded; it may be truncated or corrupt"
        ) from exc


def _check_pixels(width: int, height: int, *, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"the image is {width}x{height} pixels ({_describe_pixels(width * height)}); this "
            f"server accepts at most {_describe_pixels(max_pixels)}. Downscale it and try again"
        )


def _describe_pixels(pixels: int) -> str:
    """'400.0 MP', or the exact count below 0.1 MP (a small cap must not read as '0.0 MP')."""
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} pixels"


def load(data: bytes, *, sequential: bool = False) -> pyvips.Image:
    """Decode for editing: upright (EXIF orientation applied), 8-bit sRGB or grey, alpha kept.

    `sequential`: decoded in strips as the pixels are used, never whole in memory (a third less
    memory on a 50 MP JPEG), for a pipeline that reads the image once, top to bottom.
    """
    if detect_format(data) == "bmp":
        image = _load_bmp(data)
    else:
        access = "sequential" if sequential else "random"
        image = pyvips.Image.new_from_buffer(data, "", access=access)
        if sequential and _orientation(image) > 1:
            # Turning it upright reads the rows out of order, which a strip decoder cannot do
            # beyond its small cache ("out of order read"): such a photo is decoded whole.
            image = pyvips.Image.new_from_buffer(data, "")
        image = image.autorot()
    return to_display_space(image)


def _orientation(image: pyvips.Image) -> int:
    """The EXIF orientation (1: upright as stored; 2-8 a flip or turn to display it)."""
    if image.get_typeof("orientation") == 0:
        return 1
    return int(image.get("orientation"))


def _open_bmp(data: bytes) -> BmpImageFile:
    """Opened directly, not by `PILImage.open`, whose decompression-bomb guard would refuse a
    huge BMP as corrupt before `_check_pixels` could refuse it as too large (413). Pillow is
    imported on the first BMP: 2 MB that a process seeing none never spends."""
    from PIL.BmpImagePlugin import BmpImageFile

    return BmpImageFile(io.BytesIO(data))


def _load_bmp(data: bytes) -> pyvips.Image:
    with _open_bmp(data) as pil:
        transparent = pil.mode in {"RGBA", "LA", "PA"} or "transparency" in pil.info
        mode = "RGBA" if transparent else "RGB"
        converted = pil.convert(mode)
        bands = len(mode)
        return pyvips.Image.new_from_memory(
            converted.tobytes(), converted.width, converted.height, bands, "uchar"
        ).copy(interpretation="srgb")


def to_display_space(image: pyvips.Image) -> pyvips.Image:
    if image.interpretation == "grey16":
        image = image.colourspace("b-w")
    elif image.interpretation not in ("srgb", "b-w"):
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def encode_result(
    image: pyvips.Image,
    *,
    format: str = "jpeg",
    quality: int | None = None,
    progressive_max_pixels: int = PROGRESSIVE_MAX_PIXELS,
) -> EncodedImage:
    """The result in `format` (one of RESULT_FORMATS) without metadata, at `quality` (1-100;
    None: the format's DEFAULT_QUALITY; PNG ignores it).

    JPEG is progressive up to `progressive_max_pixels`. An image with transparency asked for
    as JPEG is written as PNG, never flattened onto black; PNG, WebP and AVIF keep it.
    """
    if format not in RESULT_FORMATS:
        raise ValueError(f"unknown result format {format!r}; expected one of {RESULT_FORMATS}")
    image = to_display_space(image)
    written = format
    if written == "webp" and max(image.width, image.height) > WEBP_MAX_SIDE:
        written = "jpeg"
    if written == "jpeg" and image.hasalpha():
        written = "png"
    if written == "png":
        data = image.write_to_buffer(".png", keep="none", compression=6)
    else:
        # The quality asked for was meant for the format asked for: a fallback uses its own.
        chosen = quality if quality is not None and written == format else None
        data = _write_lossy(
            image,
            format=written,
            quality=DEFAULT_QUALITY[written] if chosen is None else chosen,
            progressive_max_pixels=progressive_max_pixels,
        )
    return EncodedImage(data=data, format=written, width=image.width, height=image.height)


def _write_lossy(
    image: pyvips.Image, *, format: str, quality: int, progressive_max_pixels: int
) -> bytes:
    data: bytes
    if format == "webp":
        data = image.write_to_buffer(".webp", Q=quality, effort=WEBP_EFFORT, keep="none")
    elif format == "avif":
        # AV1, not libheif's HEVC (which browsers cannot show); 8 bits, as the image is.
        with _AVIF_ENCODES:
            data = image.write_to_buffer(
                ".avif", Q=quality, compression="av1", effort=AVIF_EFFORT, bitdepth=8, keep="none"
            )
    else:
        progressive = image.width * image.height <= progressive_max_pixels
        data = image.write_to_buffer(
            ".jpg",
            Q=quality,
            interlace=progressive,
            optimize_coding=progressive,
            keep="none",
        )
    return data


def jpeg_preview(data: bytes, *, max_side: int, quality: int = 85) -> bytes:
    """A JPEG at most `max_side` pixels on its long edge, upright, without metadata or alpha:
    what AI services are sent (shrink-on-load keeps a 50 MP photo cheap to preview)."""
    if detect_format(data) == "bmp":
        image = load(data)
        scale = max_side / max(image.width, image.height)
        if scale < 1:
            image = image.resize(scale)
    else:
        # From a source, not a buffer: libvips then streams a PNG or TIFF through the shrink
        # instead of decoding it whole first (a 50 MP PNG peaks at 154 MB instead of 227 MB).
        source = pyvips.Source.new_from_memory(data)
        image = pyvips.Image.thumbnail_source(source, max_side, height=max_side, size="down")
        image = to_display_space(image)
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    encoded: bytes = image.write_to_buffer(".jpg", Q=quality, strip=True)
    return encoded
