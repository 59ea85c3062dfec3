"""Geometry: turns, straightening, mirrors, centred crops to an aspect ratio, and resizing.

Turns and mirrors read the photo out of order, so a plan with one needs the photo decoded whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mizual.localedit.registry import InvalidPlan, choice, number, operation

if TYPE_CHECKING:
    import pyvips

# A tilt smaller than this is within what lines and lenses bend by: the photo is level.
LEVEL_ENOUGH = 0.3  # degrees


@operation(
    "rotate clockwise; 90/180/270 are lossless, other angles leave transparent corners",
    params={"degrees": number((-360.0, 360.0), "clockwise degrees")},
    streams=False,
)
def rotate(image: pyvips.Image, *, degrees: float) -> pyvips.Image:
    import pyvips

    from mizual.localedit.operations.pixels import premultiplied

    degrees %= 360
    lossless = {
        0: lambda im: im,
        90: pyvips.Image.rot90,
        180: pyvips.Image.rot180,
        270: pyvips.Image.rot270,
    }
    if degrees in lossless:
        return lossless[int(degrees)](image)
    # Other angles leave empty corners: make them transparent rather than invent pixels.
    if not image.hasalpha():
        image = image.bandjoin(255)
    bicubic = pyvips.Interpolate.new("bicubic")
    return premultiplied(
        image,
        lambda whole: whole.rotate(degrees, background=[0] * whole.bands, interpolate=bicubic),
    )


@operation(
    "straighten a tilted photo (up to 12°) by its horizon or straight lines, cropping the "
    "corners; fails if no lines agree on a tilt",
    streams=False,
    once=True,
)
def straighten(image: pyvips.Image) -> pyvips.Image:
    import math

    import pyvips

    from mizual.localedit.findings import NothingToChange, RegionNotFound, note
    from mizual.localedit.lines import LINES_SIDE, MAX_TILT
    from mizual.localedit.operations.pixels import premultiplied, rgb_array, split_alpha
    from mizual.localedit.seeing import seeing

    colour, _ = split_alpha(image)
    found = seeing().tilt(rgb_array(colour, longest=LINES_SIDE)[0])
    if found is None:
        raise RegionNotFound(
            "No horizon or straight lines were found in this photo, so it was not straightened "
            f"(it straightens tilts up to {MAX_TILT:g}°; say how far to turn it for more, such "
            "as 'rotate 15 degrees clockwise')."
        )
    if abs(found.degrees) < LEVEL_ENOUGH:
        raise NothingToChange(
            f"This photo is already level (its lines are within {LEVEL_ENOUGH:g}° of straight), "
            "so it was not turned."
        )
    turn = -found.degrees
    cos, sin = abs(math.cos(math.radians(turn))), abs(math.sin(math.radians(turn)))
    width, height = image.width, image.height
    # The largest rectangle of the photo's own shape inside the turned photo, centred.
    fit = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
    kept_width, kept_height = max(1, math.floor(width * fit)), max(1, math.floor(height * fit))
    bicubic = pyvips.Interpolate.new("bicubic")
    turned = premultiplied(image, lambda whole: whole.rotate(turn, interpolate=bicubic))
    way = "clockwise" if found.degrees > 0 else "anticlockwise"
    note(
        f"a tilt of {abs(found.degrees):.1f}° {way} found; "
        f"turned back and cropped to {kept_width}x{kept_height}"
    )
    left, top = (turned.width - kept_width) // 2, (turned.height - kept_height) // 2
    return turned.crop(left, top, kept_width, kept_height)


@operation("mirror", params={"direction": choice("horizontal", "vertical")}, streams=False)
def flip(image: pyvips.Image, *, direction: str = "horizontal") -> pyvips.Image:
    return image.flip(direction)


@operation(
    "centre crop to an aspect ratio (1:1 for square)",
    params={
        "ratio_width": number((1, 100), "e.g. 16 of 16:9", whole=True),
        "ratio_height": number((1, 100), "e.g. 9 of 16:9", whole=True),
    },
)
def crop(image: pyvips.Image, *, ratio_width: int, ratio_height: int) -> pyvips.Image:
    """The largest centred crop of that shape: full height or full width, the other side
    rounded to the nearest pixel."""
    width, height = image.width, image.height
    if width * ratio_height > height * ratio_width:
        width = min(width, max(1, round(height * ratio_width / ratio_height)))
    else:
        height = min(height, max(1, round(width * ratio_height / ratio_width)))
    return image.crop((image.width - width) // 2, (image.height - height) // 2, width, height)


def _one_size(params: dict[str, Any]) -> None:
    if not params:
        raise InvalidPlan("resize needs a scale, a width or a height")
    if "scale" in params and len(params) > 1:
        raise InvalidPlan("resize takes a scale or a size, not both")


@operation(
    "scale by a factor, or to a width and/or height in pixels (aspect kept if one is given)",
    params={
        "scale": number((0.01, 4.0), "factor"),
        "width": number((1, 16384), "pixels", whole=True),
        "height": number((1, 16384), "pixels", whole=True),
    },
    check=_one_size,
)
def resize(
    image: pyvips.Image,
    *,
    scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> pyvips.Image:
    from mizual.localedit.operations.pixels import premultiplied, resize_exactly

    if scale is not None:
        width, height = round(image.width * scale), round(image.height * scale)
    elif width is None and height is not None:
        width = round(image.width * height / image.height)
    elif height is None and width is not None:
        height = round(image.height * width / image.width)
    if width is None or height is None:
        raise ValueError("resize needs a scale, a width or a height")
    target_width, target_height = max(1, width), max(1, height)
    return premultiplied(
        image,
        lambda whole: resize_exactly(
            whole, width=target_width, height=target_height, kernel="lanczos3"
        ),
    )
