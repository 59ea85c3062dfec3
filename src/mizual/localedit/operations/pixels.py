"""What the operations share: alpha handling, 8-bit rounding, lookup tables, exact resizing.

Every operation takes and returns 8-bit sRGB or grey, with any alpha band kept as it was. This is
the one module of the package that imports NumPy and pyvips at the top; the operation modules
import it inside their implementations, so that declaring them loads neither.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyvips

LEVELS = np.arange(256, dtype=np.float64)
# Rec. 601 luma weights, the grey of a colour photo.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = values / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.clip(values, 0, 1)
    encoded: np.ndarray = 255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return encoded


def split_alpha(image: pyvips.Image) -> tuple[pyvips.Image, pyvips.Image | None]:
    if image.hasalpha():
        return image.extract_band(0, n=image.bands - 1), image.extract_band(image.bands - 1)
    return image, None


def join_alpha(colour: pyvips.Image, alpha: pyvips.Image | None) -> pyvips.Image:
    return colour if alpha is None else colour.bandjoin(alpha)


def on_colour(image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    """`change` applied to the colour bands (8-bit grey or sRGB in and out), alpha kept."""
    colour, alpha = split_alpha(image)
    changed = change(colour)
    changed = changed.copy(interpretation="b-w" if changed.bands == 1 else "srgb")
    return join_alpha(changed, alpha)


def premultiplied(
    image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """`change` applied to every band; with alpha, to premultiplied colour, so that resampling
    or blurring does not bleed the colour of transparent pixels into visible ones."""
    if not image.hasalpha():
        return change(image)
    interpretation = image.interpretation
    changed = change(image.premultiply()).unpremultiply()
    return uchar(changed).copy(interpretation=interpretation)


def uchar(image: pyvips.Image) -> pyvips.Image:
    """8-bit, rounded to the nearest value and clipped (a bare cast would truncate)."""
    return image if image.format == "uchar" else (image + 0.5).cast("uchar")


def rgb(colour: pyvips.Image) -> pyvips.Image:
    return colour.colourspace("srgb") if colour.bands == 1 else colour


def rgb_array(colour: pyvips.Image, *, longest: int) -> tuple[np.ndarray, float]:
    """The photo (8-bit grey or sRGB, no alpha) as a contiguous 8-bit RGB array at most
    `longest` pixels on its longer side, and the scale it was reduced by (1: not reduced): the
    small copy that masks, faces and lines are found on."""
    scale = min(1.0, longest / max(colour.width, colour.height))
    small = colour.resize(scale) if scale < 1 else colour
    return np.ascontiguousarray(np.asarray(rgb(small).numpy(), dtype=np.uint8)), scale


def luma(colour: pyvips.Image) -> pyvips.Image:
    """Rec. 601 luma, the grey of a colour photo."""
    if colour.bands == 1:
        return colour
    return uchar(colour.recomb([list(LUMA_WEIGHTS)])).copy(interpretation="b-w")


def clamped(weight: pyvips.Image) -> pyvips.Image:
    """Clamped to 0..1."""
    return (weight < 0).ifthenelse(0, (weight > 1).ifthenelse(1, weight))


def tone_curve(image: pyvips.Image, table: np.ndarray, *, colour: bool = False) -> pyvips.Image:
    """Each value v of every colour band becomes table[v]; a (256, 3) table has a curve per
    red, green and blue (`colour`: a grey photo is made sRGB first)."""
    values = np.clip(np.rint(table), 0, 255).astype(np.uint8).reshape(1, 256, -1)
    lookup = pyvips.Image.new_from_array(values)
    return on_colour(image, lambda bands: (rgb(bands) if colour else bands).maplut(lookup))


def resize_exactly(
    image: pyvips.Image, *, width: int, height: int, kernel: str = "lanczos3"
) -> pyvips.Image:
    if (image.width, image.height) == (width, height):
        return image
    resized = image.resize(width / image.width, vscale=height / image.height, kernel=kernel)
    if (resized.width, resized.height) != (width, height):  # libvips rounds its own way
        resized = resized.embed(0, 0, width, height, extend="copy")
    return resized
