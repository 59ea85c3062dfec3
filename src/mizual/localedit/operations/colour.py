"""Colour: saturation, vibrance, black and white, sepia, the vintage look, white balance (by
hand, as a temperature, and automatic).

Colour matrices (libvips `recomb`) and lookup tables, all streaming. Vibrance works in LCh, where
chroma and hue are separate bands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mizual.localedit.operations.detail import vignette
from mizual.localedit.registry import number, operation

if TYPE_CHECKING:
    import pyvips

# Rec. 709 luminance weights, for light measured in linear RGB.
LINEAR_LUMINANCE = (0.2126, 0.7152, 0.0722)
# Sepia as a tint of the luminance: red lifted, blue lowered, the luminance itself about kept.
SEPIA_TINT = (1.12, 0.99, 0.78)
# Linear light from which a colour temperature change eases off so that whites do not clip.
HIGHLIGHTS_FROM = 0.25
# Vibrance: colours this vivid (LCh chroma) or more get no boost; skin hues get half of it.
VIVID_CHROMA = 60.0
SKIN_HUE, SKIN_HUE_WIDTH = 50.0, 30.0
# Automatic white balance: the "shades of grey" estimate of the light's colour (the Minkowski
# mean of each channel in linear light, with this power: 1 is grey-world, infinity white-patch),
# on a copy this small, over the pixels between these luminance percentiles and not clipped.
BALANCE_NORM_POWER = 4
BALANCE_SIDE = 512
BALANCE_PERCENTILES = (2.0, 98.0)
BALANCE_GAIN_LIMITS = (0.5, 2.0)  # no channel is more than doubled or halved


@operation(
    "more or less colour, evenly",
    params={"amount": number((-1.0, 3.0), "relative change: 0.3 is 30% more, -1 no colour")},
)
def saturation(image: pyvips.Image, *, amount: float = 0.3) -> pyvips.Image:
    """Each pixel moved away from (or towards) its own grey: one matrix, the luma kept."""
    import numpy as np

    from mizual.localedit.operations.pixels import LUMA_WEIGHTS, on_colour, uchar

    weights = np.array(LUMA_WEIGHTS)
    factor = 1 + amount
    matrix = (1 - factor) * np.tile(weights, (3, 1)) + factor * np.eye(3)

    def saturate(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour  # nothing to saturate in a grey photo
        return uchar(colour.recomb(matrix.tolist()))

    return on_colour(image, saturate)


@operation(
    "more colour where there is little, sparing skin and already vivid colours",
    params={"amount": number((-1.0, 2.0), "strength: 0.4 moderate, negative mutes")},
)
def vibrance(image: pyvips.Image, *, amount: float = 0.4) -> pyvips.Image:
    """Chroma raised in LCh in proportion to how dull a pixel is, skin tones half as much."""
    from mizual.localedit.operations.pixels import clamped, on_colour, uchar

    def boost(colour: pyvips.Image) -> pyvips.Image:
        if colour.bands == 1:
            return colour
        lch = colour.colourspace("lch")
        chroma, hue = lch[1], lch[2]
        dullness = clamped(1 - chroma / VIVID_CHROMA)
        skin = clamped(1 - (hue - SKIN_HUE).abs() / SKIN_HUE_WIDTH)
        chroma = chroma * (1 + amount * dullness * (1 - 0.5 * skin))
        return uchar(lch[0].bandjoin([chroma, hue]).copy(interpretation="lch").colourspace("srgb"))

    return on_colour(image, boost)


@operation("black and white", once=True)
def grayscale(image: pyvips.Image) -> pyvips.Image:
    from mizual.localedit.operations.pixels import luma, on_colour

    return on_colour(image, lambda colour: colour if colour.bands == 1 else luma(colour))


@operation(
    "brown-toned old photograph",
    params={"amount": number((0.0, 1.0), "1 is full sepia, 0.5 half way")},
)
def sepia(image: pyvips.Image, *, amount: float = 1.0) -> pyvips.Image:
    import numpy as np

    from mizual.localedit.operations.pixels import LUMA_WEIGHTS, on_colour, rgb, uchar

    toned = np.outer(SEPIA_TINT, np.array(LUMA_WEIGHTS))
    matrix = amount * toned + (1 - amount) * np.eye(3)
    return on_colour(image, lambda colour: uchar(rgb(colour).recomb(matrix.tolist())))


@operation("faded, warm, sepia-tinged look with a soft vignette", once=True)
def vintage(image: pyvips.Image) -> pyvips.Image:
    """Half sepia, then faded: blacks lifted to a warm dark brown and whites dimmed to cream, a
    little less contrast, and soft dark corners."""
    import numpy as np

    from mizual.localedit.operations.pixels import LEVELS, tone_curve

    toned = sepia(image, amount=0.5)
    black, white = np.array([50.0, 34.0, 18.0]), np.array([252.0, 234.0, 196.0])
    faded = black[None, :] + LEVELS[:, None] / 255 * (white - black)[None, :]
    return vignette(tone_curve(toned, faded, colour=True), amount=0.3)


@operation(
    "warm or cool white balance",
    params={"amount": number((-1.0, 1.0), "positive warmer (more orange), negative cooler")},
)
def temperature(image: pyvips.Image, *, amount: float = 0.3) -> pyvips.Image:
    """White balance: red and blue gains in linear light, scaled so a grey keeps its luminance.

    Near white, a gain above 1 would clip (a white sky made cooler turned cyan, not blue): there
    the gains ease towards the same gains scaled so the largest is 1, so a white takes the tint
    too, a little darker."""
    import numpy as np

    from mizual.localedit.operations import pixels

    gains = np.array([2 ** (0.8 * amount), 1.0, 2 ** (-0.8 * amount)])
    keeping_light = gains / (gains @ np.array(LINEAR_LUMINANCE))
    unclipped = gains / gains.max()
    linear = pixels.srgb_to_linear(pixels.LEVELS)[:, None]
    # 0 up to a quarter of full light, 1 at full light (smoothstep): monotonic curves.
    t = np.clip((linear - HIGHLIGHTS_FROM) / (1 - HIGHLIGHTS_FROM), 0, 1)
    ease = t * t * (3 - 2 * t)
    curves = linear * (keeping_light[None, :] * (1 - ease) + unclipped[None, :] * ease)
    return pixels.tone_curve(image, pixels.linear_to_srgb(curves), colour=True)


@operation(
    "automatic white balance: removes a colour cast (yellow, blue, green…)",
    streams=False,
    once=True,
)
def white_balance(image: pyvips.Image) -> pyvips.Image:
    """The light's colour estimated from the photo, then divided out: a gain per channel in linear
    light, scaled so that the photo keeps its luminance."""
    import numpy as np

    from mizual.localedit.findings import NothingToChange
    from mizual.localedit.operations import pixels

    colour, _ = pixels.split_alpha(image)
    if colour.bands == 1:
        raise NothingToChange("This photo has no colour, so there is no colour cast to remove.")
    scale = min(1.0, BALANCE_SIDE / max(colour.width, colour.height))
    small = colour.resize(scale) if scale < 1 else colour
    linear = pixels.srgb_to_linear(np.asarray(small.numpy(), dtype=np.float64)).reshape(-1, 3)
    luminance = linear @ np.array(LINEAR_LUMINANCE)
    low, high = np.percentile(luminance, BALANCE_PERCENTILES)
    kept = linear[(luminance > low) & (luminance < high) & (linear.max(axis=1) < 0.98)]
    if len(kept) < 100:
        kept = linear  # a photo of few tones: every pixel counts
    light = np.mean(kept**BALANCE_NORM_POWER, axis=0) ** (1 / BALANCE_NORM_POWER)
    gains = light.mean() / np.maximum(light, 1e-6)
    gains = np.clip(gains / (gains @ np.array(LINEAR_LUMINANCE)), *BALANCE_GAIN_LIMITS)
    curves = pixels.srgb_to_linear(pixels.LEVELS)[:, None] * gains[None, :]
    return pixels.tone_curve(image, pixels.linear_to_srgb(curves), colour=True)
