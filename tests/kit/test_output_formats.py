"""The result formats (`output_format`): each one decoded back, transparency kept or not lost,
and every result usable as the input of a child edit."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pyvips

from mizual.kit import imaging
from tests.support import gradient_image

MAGIC = {
    "jpeg": lambda data: data[:3] == b"\xff\xd8\xff",
    "png": lambda data: data[:8] == b"\x89PNG\r\n\x1a\n",
    "webp": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
    "avif": lambda data: data[4:12] == b"ftypavif",
}
LOADERS = {
    "jpeg": "jpegload_buffer",
    "png": "pngload_buffer",
    "webp": "webpload_buffer",
    "avif": "heifload_buffer",
}


def with_alpha(width: int = 64, height: int = 48) -> pyvips.Image:
    """The gradient, its left half fully transparent."""
    alpha = (pyvips.Image.xyz(width, height)[0] >= width // 2).ifthenelse(255, 0).cast("uchar")
    return gradient_image(width, height).bandjoin(alpha)


def decoded(encoded: imaging.EncodedImage) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(encoded.data, "")


@pytest.mark.parametrize("output_format", imaging.RESULT_FORMATS)
def test_each_format_decodes_back_as_itself_and_describes_itself(output_format: str) -> None:
    image = gradient_image(64, 48).copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "somebody")
    encoded = imaging.encode_result(image, format=output_format)
    assert MAGIC[output_format](encoded.data)
    assert imaging.detect_format(encoded.data) == output_format
    assert encoded.content_type == f"image/{output_format}"
    assert encoded.extension == ("jpg" if output_format == "jpeg" else output_format)
    assert encoded.info == {
        "format": output_format,
        "width": 64,
        "height": 48,
        "bytes": len(encoded.data),
    }
    result = decoded(encoded)
    assert result.get("vips-loader") == LOADERS[output_format]
    assert (result.width, result.height, result.bands) == (64, 48, 3)
    assert not result.hasalpha()
    assert "exif-data" not in result.get_fields()
    # Lossy, but the picture: each channel within a few levels of the gradient on average.
    assert (result - gradient_image(64, 48)).abs().avg() < 4


@pytest.mark.parametrize("output_format", ["png", "webp", "avif"])
def test_transparency_is_kept_by_the_formats_that_have_it(output_format: str) -> None:
    encoded = imaging.encode_result(with_alpha(), format=output_format)
    assert encoded.format == output_format
    result = decoded(encoded)
    assert result.hasalpha()
    assert result.extract_band(3).crop(0, 0, 32, 48).max() <= 2
    assert result.extract_band(3).crop(32, 0, 32, 48).min() >= 253


def test_transparency_asked_for_as_jpeg_is_written_as_png_never_on_black() -> None:
    encoded = imaging.encode_result(with_alpha(), format="jpeg", quality=30)
    assert (encoded.format, encoded.content_type, encoded.extension) == ("png", "image/png", "png")
    assert encoded.info["format"] == "png"
    result = decoded(encoded)
    assert result.hasalpha()
    assert result.extract_band(3).crop(0, 0, 32, 48).max() == 0
    # The transparent pixels keep their colour too (PNG is lossless): nothing was flattened.
    assert (result.extract_band(0, n=3) - gradient_image(64, 48)).abs().max() == 0


@pytest.mark.parametrize("output_format", ["jpeg", "webp", "avif"])
def test_quality_changes_the_lossy_formats(output_format: str) -> None:
    image = gradient_image(128, 96) + pyvips.Image.gaussnoise(128, 96, sigma=20)
    image = image.cast("uchar").copy(interpretation="srgb")
    low = imaging.encode_result(image, format=output_format, quality=10)
    default = imaging.encode_result(image, format=output_format)
    high = imaging.encode_result(image, format=output_format, quality=95)
    assert len(low.data) < len(default.data) < len(high.data)


def test_png_ignores_quality() -> None:
    image = gradient_image(64, 48)
    assert (
        imaging.encode_result(image, format="png", quality=1).data
        == imaging.encode_result(image, format="png").data
    )


def test_a_grey_result_is_written_in_every_format() -> None:
    grey = gradient_image(64, 48).colourspace("b-w")
    for output_format in imaging.RESULT_FORMATS:
        result = decoded(imaging.encode_result(grey, format=output_format))
        assert (result.width, result.height) == (64, 48)


def test_a_webp_too_wide_for_the_format_falls_back_to_jpeg() -> None:
    wide = pyvips.Image.black(imaging.WEBP_MAX_SIDE + 1, 2, bands=3).copy(interpretation="srgb")
    encoded = imaging.encode_result(wide, format="webp", quality=10)
    assert encoded.info == {
        "format": "jpeg",
        "width": imaging.WEBP_MAX_SIDE + 1,
        "height": 2,
        "bytes": len(encoded.data),
    }
    assert MAGIC["jpeg"](encoded.data)


def test_an_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="gif"):
        imaging.encode_result(gradient_image(8, 8), format="gif")


@pytest.mark.parametrize("output_format", imaging.RESULT_FORMATS)
def test_every_result_format_is_a_usable_input_for_a_child_edit(output_format: str) -> None:
    """A child edit's input is its parent's result, read from storage without the upload check
    (which refuses AVIF uploads by default): the editors load it, the AI services get a
    preview of it."""
    data = imaging.encode_result(with_alpha(), format=output_format).data
    for sequential in (False, True):
        image = imaging.load(data, sequential=sequential)
        assert (image.width, image.height, image.format) == (64, 48, "uchar")
        assert image.flip("horizontal").avg() > 0  # decodes every pixel
    preview = imaging.jpeg_preview(data, max_side=32)
    assert MAGIC["jpeg"](preview)
    assert pyvips.Image.new_from_buffer(preview, "").width == 32


def test_the_served_type_of_every_result_extension_is_known_without_system_tables() -> None:
    """Local images are served with the type `mimetypes` guesses from the file name; Python 3.11
    knows .webp and .avif only from /etc/mime.types, which a slim container lacks."""
    code = (
        "import mimetypes; mimetypes.knownfiles.clear(); "
        "from mizual.kit import imaging; "
        "print(*(mimetypes.guess_type('x.' + imaging.EXTENSIONS[f])[0] "
        "for f in imaging.RESULT_FORMATS))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["image/jpeg", "image/png", "image/webp", "image/avif"]
