"""The image operations an edit plan names.

Colour, light, detail and geometry are lazy pyvips pipelines: nothing is computed until the
result is encoded, and the photo streams through in strips, never whole in memory. Per-channel
tone changes are 256-entry lookup tables (exact, rounded once, and the cheapest libvips
operation). Denoising (OpenCV's bilateral filter), the subject mask (`subject.py`) and the
artistic styles (`styles.py`) are the exceptions that work on arrays.

Every operation takes and returns 8-bit sRGB or grey, with any alpha band kept as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pyvips

from mizual.kit.imaging import to_display_space
from mizual.localedit import styles
from mizual.localedit.plan import EditPlan
from mizual.localedit.subject import subject_mask

LEVELS = np.arange(256, dtype=np.float64)
# Rec. 709 luminance weights, for light measured in linear RGB.
LINEAR_LUMINANCE = np.array([0.2126, 0.7152, 0.0722])
# Sepia as a tint of the luminance: red lifted, blue lowered, the luminance itself about kept.
SEPIA_TINT = (1.12, 0.99, 0.78)
# Vibrance: colours this vivid (LCh chroma) or more get no boost; skin hues get half of it.
VIVID_CHROMA = 60.0
SKIN_HUE, SKIN_HUE_WIDTH = 50.0, 30.0
# auto_levels: the darkest and lightest 0.5% may clip; a nearly flat image is stretched at most
# to this many levels, so its noise is not blown up into the whole range.
LEVELS_CLIP_PERCENT = 0.5
LEVELS_MIN_SPAN = 48
PIXELATE_BLOCKS_ALONG_LONGER_SIDE = 64


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = values / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.clip(values, 0, 1)
    encoded: np.ndarray = 255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return encoded


# Helpers ---------------------------------------------------------------------------------------


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


def luma(colour: pyvips.Image) -> pyvips.Image:
    """Rec. 601 luma, the grey of a colour photo."""
    if colour.bands == 1:
        return colour
    return uchar(colour.recomb([[0.299, 0.587, 0.114]])).copy(interpretation="b-w")


def tone_curve(image: pyvips.Image, table: np.ndarray, *, colour: bool = False) -> pyvips.Image:
    """Each value v of every colour band becomes table[v]; a (256, 3) table has a curve per
    red, green and blue (`colour`: a grey photo is made sRGB first)."""
    values = np.clip(np.rint(table), 0, 255).astype(np.uint8).reshape(1, 256, -1)
    lookup = pyvips.Image.new_from_array(values)
    return on_colour(image, lambda bands: (rgb(bands) if colour else bands).maplut(lookup))


def resize_exactly(
    image: pyvips.Image, width: int, height: int, *, kernel: str = "lanczos3"
) -> pyvips.Image:
    if (image.width, image.height) == (width, height):
        return image
    resized = image.resize(width / image.width, vscale=height / image.height, kernel=kernel)
    if (resized.width, resized.height) != (width, height):  # libvips rounds its own way
        resized = resized.embed(0, 0, width, height, extend="copy")
    return resized


# Light -----------------------------------------------------------------------------------------


def brightness(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    return tone_curve(image, LEVELS * (1 + amount))


def contrast(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    return tone_curve(image, 128 + (LEVELS - 128) * (1 + amount))


def exposure(image: pyvips.Image, *, stops: float) -> pyvips.Image:
    # Light adds up in linear RGB: one stop doubles it there, not in the gamma-encoded values.
    return tone_curve(image, linear_to_srgb(srgb_to_linear(LEVELS) * 2**stops))


def temperature(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    """White balance: red and blue gains in linear light, scaled so a grey keeps its luminance."""
    gains = np.array([2 ** (0.8 * amount), 1.0, 2 ** (-0.8 * amount)])
    gains /= gains @ LINEAR_LUMINANCE
    linear = srgb_to_linear(LEVELS)[:, None] * gains[None, :]
    return tone_curve(image, linear_to_srgb(linear), colour=True)


def auto_levels(image: pyvips.Image) -> pyvips.Image:
    """Stretch the luminance's 0.5th..99.5th percentiles to black..white; one curve for every
    channel, so colours keep their hue."""
    colour, _ = split_alpha(image)
    histogram = np.asarray(luma(colour).hist_find().numpy(), dtype=np.float64).ravel()
    share_below = np.cumsum(histogram) / histogram.sum()
    clip = LEVELS_CLIP_PERCENT / 100
    low = int(np.searchsorted(share_below, clip))
    high = int(np.searchsorted(share_below, 1 - clip))
    if high - low < LEVELS_MIN_SPAN:
        middle = (low + high) / 2
        low, high = round(middle - LEVELS_MIN_SPAN / 2), round(middle + LEVELS_MIN_SPAN / 2)
    return tone_curve(image, (LEVELS - low) * 255 / (high - low))


# Colour ----------------------------------------------------------------------------------------


def saturation(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    """Each pixel moved away from (or towards) its own grey: one matrix, the luma kept."""
    weights = np.array([0.299, 0.587, 0.114])
    factor = 1 + amount
    matrix = (1 - factor) * np.tile(weights, (3, 1)) + factor * np.eye(3)

    def saturate(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour  # nothing to saturate in a grey photo
        return uchar(colour.recomb(matrix.tolist()))

    return on_colour(image, saturate)


def vibrance(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    """Chroma raised in LCh in proportion to how dull a pixel is, skin tones half as much."""

    def boost(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour
        lch = colour.colourspace("lch")
        chroma, hue = lch[1], lch[2]
        dullness = _clamped(1 - chroma / VIVID_CHROMA)
        skin = _clamped(1 - (hue - SKIN_HUE).abs() / SKIN_HUE_WIDTH)
        chroma = chroma * (1 + amount * dullness * (1 - 0.5 * skin))
        return uchar(lch[0].bandjoin([chroma, hue]).copy(interpretation="lch").colourspace("srgb"))

    return on_colour(image, boost)


def _clamped(weight: pyvips.Image) -> pyvips.Image:
    """Clamped to 0..1."""
    return (weight < 0).ifthenelse(0, (weight > 1).ifthenelse(1, weight))


def grayscale(image: pyvips.Image) -> pyvips.Image:
    return on_colour(image, lambda colour: colour if colour.bands == 1 else luma(colour))


def sepia(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    weights = np.array([0.299, 0.587, 0.114])
    toned = np.outer(SEPIA_TINT, weights)
    matrix = amount * toned + (1 - amount) * np.eye(3)
    return on_colour(image, lambda colour: uchar(rgb(colour).recomb(matrix.tolist())))


def vintage(image: pyvips.Image) -> pyvips.Image:
    """Half sepia, then faded: blacks lifted to a warm dark brown and whites dimmed to cream, a
    little less contrast, and soft dark corners."""
    toned = sepia(image, amount=0.5)
    black, white = np.array([50.0, 34.0, 18.0]), np.array([252.0, 234.0, 196.0])
    faded = black[None, :] + LEVELS[:, None] / 255 * (white - black)[None, :]
    return vignette(tone_curve(toned, faded, colour=True), amount=0.3)


def invert(image: pyvips.Image) -> pyvips.Image:
    return on_colour(image, lambda colour: colour.invert())


def posterize(image: pyvips.Image, *, levels: int) -> pyvips.Image:
    steps = np.minimum(np.floor(LEVELS * levels / 256), levels - 1)
    return tone_curve(image, steps * 255 / (levels - 1))


# Detail ----------------------------------------------------------------------------------------


def sharpen(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    """Unsharp masking of the lightness (libvips `sharpen`), with a radius that grows with the
    photo so a 12 MP photo's detail is sharpened, not only its noise."""
    sigma = min(max(max(image.width, image.height) / 3000, 0.5), 3.0)
    return on_colour(
        image,
        lambda colour: colour.sharpen(
            sigma=sigma, m1=0.5 * amount, m2=3 * amount, y2=10 * amount, y3=20 * amount
        ),
    )


def blur(image: pyvips.Image, *, sigma: float) -> pyvips.Image:
    return premultiplied(image, lambda whole: whole.gaussblur(sigma))


def denoise(image: pyvips.Image, *, strength: float) -> pyvips.Image:
    """OpenCV's bilateral filter: averages similar neighbours, so grain goes and edges stay.
    A fraction of a second on 12 MP, where non-local means would take a minute."""
    diameter = 5 + 2 * round(2 * strength)
    sigma_colour = 25 + 25 * strength

    def smooth(colour: pyvips.Image) -> pyvips.Image:
        pixels = np.ascontiguousarray(colour.numpy())
        smoothed = cv2.bilateralFilter(pixels, diameter, sigma_colour, diameter)
        return pyvips.Image.new_from_array(smoothed)

    return on_colour(image, smooth)


def vignette(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    """Darker towards the corners (1 - amount there), untouched within a third of the way out."""
    width, height = image.width, image.height
    position = pyvips.Image.xyz(width, height)
    across = (position[0] - (width - 1) / 2) / (width / 2)
    down = (position[1] - (height - 1) / 2) / (height / 2)
    # Squared distance scaled so the corners are at 1; the falloff is a smoothstep of it.
    distance = (across * across + down * down) / 2
    start = 1 / 9
    ramp = _clamped((distance - start) / (1 - start))
    darkening = 1 - amount * ramp * ramp * (3 - 2 * ramp)
    return on_colour(image, lambda colour: uchar(colour * darkening))


# Pixels and geometry ---------------------------------------------------------------------------


def pixelate(image: pyvips.Image, *, block: int | None = None) -> pyvips.Image:
    width, height = image.width, image.height
    if block is None:
        block = max(2, math.ceil(max(width, height) / PIXELATE_BLOCKS_ALONG_LONGER_SIDE))

    def blocky(whole: pyvips.Image) -> pyvips.Image:
        # Padded to whole blocks (edge pixels repeated) so the last row and column of blocks
        # are as big as the others, then cut back to the photo's size.
        padded = whole.embed(
            0,
            0,
            math.ceil(width / block) * block,
            math.ceil(height / block) * block,
            extend="copy",
        )
        return padded.shrink(block, block).zoom(block, block).crop(0, 0, width, height)

    return premultiplied(image, blocky)


def rotate(image: pyvips.Image, *, degrees: float) -> pyvips.Image:
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


def flip(image: pyvips.Image, *, direction: str) -> pyvips.Image:
    return image.flip(direction)


def crop(image: pyvips.Image, *, ratio_width: int, ratio_height: int) -> pyvips.Image:
    """The largest centred crop of that shape: full height or full width, the other side
    rounded to the nearest pixel."""
    width, height = image.width, image.height
    if width * ratio_height > height * ratio_width:
        width = min(width, max(1, round(height * ratio_width / ratio_height)))
    else:
        height = min(height, max(1, round(width * ratio_height / ratio_width)))
    return image.crop((image.width - width) // 2, (image.height - height) // 2, width, height)


def resize(
    image: pyvips.Image,
    *,
    scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> pyvips.Image:
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
        image, lambda whole: resize_exactly(whole, target_width, target_height, kernel="lanczos3")
    )


# The subject and the background ----------------------------------------------------------------


def _subject_mask(colour: pyvips.Image) -> pyvips.Image:
    """255 on the subject, 0 on the background, at the photo's size (found on a small copy)."""
    return resize_exactly(subject_mask(colour), colour.width, colour.height, kernel="linear")


def _background_changed(
    image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """The photo where the subject is, `change`d photo elsewhere, blended along the feathered
    edge of the subject's mask."""

    def blend(colour: pyvips.Image) -> pyvips.Image:
        return _subject_mask(colour).ifthenelse(colour, change(colour), blend=True)

    return on_colour(image, blend)


def blur_background(image: pyvips.Image, *, sigma: float) -> pyvips.Image:
    return _background_changed(image, lambda colour: colour.gaussblur(sigma))


def darken_background(image: pyvips.Image, *, amount: float) -> pyvips.Image:
    return _background_changed(image, lambda colour: uchar(colour * (1 - amount)))


def desaturate_background(image: pyvips.Image) -> pyvips.Image:
    return _background_changed(image, lambda colour: rgb(luma(colour)))


def remove_background(image: pyvips.Image) -> pyvips.Image:
    """The subject on a transparent background: the mask becomes (or trims) the alpha band."""
    colour, alpha = split_alpha(image)
    mask = _subject_mask(colour)
    return colour.bandjoin(mask if alpha is None else uchar(alpha * mask / 255))


# Styles ----------------------------------------------------------------------------------------


def _styled(image: pyvips.Image, style: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    """A style may work on a smaller copy; its picture is scaled back to the photo's size."""
    return on_colour(
        image, lambda colour: resize_exactly(style(colour), colour.width, colour.height)
    )


def sketch(image: pyvips.Image) -> pyvips.Image:
    return _styled(image, styles.sketch)


def cartoon(image: pyvips.Image) -> pyvips.Image:
    return _styled(image, styles.cartoon)


def painting(image: pyvips.Image) -> pyvips.Image:
    return _styled(image, styles.painting)


OPERATIONS: dict[str, Callable[..., pyvips.Image]] = {
    "brightness": brightness,
    "contrast": contrast,
    "saturation": saturation,
    "vibrance": vibrance,
    "grayscale": grayscale,
    "sepia": sepia,
    "vintage": vintage,
    "temperature": temperature,
    "exposure": exposure,
    "auto_levels": auto_levels,
    "sharpen": sharpen,
    "blur": blur,
    "denoise": denoise,
    "vignette": vignette,
    "invert": invert,
    "posterize": posterize,
    "pixelate": pixelate,
    "rotate": rotate,
    "flip": flip,
    "crop": crop,
    "resize": resize,
    "blur_background": blur_background,
    "darken_background": darken_background,
    "desaturate_background": desaturate_background,
    "remove_background": remove_background,
    "sketch": sketch,
    "cartoon": cartoon,
    "painting": painting,
}


# Operations that read the photo twice (a measurement, then the edit) or out of order (turns,
# flips): a plan with one of them needs the whole photo decoded, not streamed.
RANDOM_ACCESS = frozenset(
    {
        "auto_levels",
        "rotate",
        "flip",
        "blur_background",
        "darken_background",
        "desaturate_background",
        "remove_background",
    }
)


def streams(plan: EditPlan) -> bool:
    """Whether the plan reads the photo once, top to bottom, so it can be decoded in strips."""
    return not any(step.operation in RANDOM_ACCESS for step in plan.steps)


def apply_plan(image: pyvips.Image, plan: EditPlan) -> pyvips.Image:
    for step in plan.steps:
        params: dict[str, Any] = step.params
        # 16-bit, CMYK or Lab in, or a step that left floats: 8-bit sRGB or grey for the next.
        image = OPERATIONS[step.operation](to_display_space(image), **params)
    return to_display_space(image)
